"""Property-based check of every operation against `/openapi.json` (schemathesis).

Schemathesis generates valid and invalid requests from the document and
checks each response: no 5xx, a documented status code and content type,
and a body that matches the documented schema.
"""

import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis import GenerationMode
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import make_app
from service_helpers import register_iris_model

EXAMPLES_PER_OPERATION = 25
# Schema-valid requests may still be refused with 400 for what a schema cannot
# say: an upload that is not a readable CSV, an objective the task does not
# report. Every other check (no 5xx, documented codes, types and bodies,
# invalid data rejected, auth enforced) stays on.
SEMANTIC_CHECKS = [schemathesis.checks.positive_data_acceptance]


def test_every_operation_conforms_and_never_errors(tmp_path):
    app = make_app(str(tmp_path / "data"), EVENTS_POLL_SECONDS=0.01,
                   MAX_CONTENT_LENGTH=256 * 1024)
    register_iris_model(app)
    search = app.test_client().post("/v1/searches", json={"dataset": "iris"}, headers=AUTH).json
    # Besides free generation, every operation is also tried on resources that exist,
    # so success responses are generated and checked too.
    existing = {"dataset_id": "iris", "search_id": search["id"], "name": "iris", "version": 1}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

    @schema.auth()
    class Bearer:
        """The service's token, on every case but those that leave it out on purpose
        (schemathesis skips the auth of a case whose negation is the token)."""

        def get(self, case, context):
            return TOKEN

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    # Deletions last, so the other operations also meet the resources they delete.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda operation: operation.method.upper() == "DELETE")
    # Every documented operation but /openapi.json itself, which schemathesis skips.
    assert len(operations) == 32

    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        pinned = {name: value for name, value in existing.items() if name in names}
        strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
        if len(operation.path_parameters) or len(operation.query) or len(operation.body):
            # Invalid inputs exist only where the operation takes some.
            strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
        if pinned:
            strategies.append(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned))
        for strategy in strategies:

            @given(case=strategy)
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                case.call_and_validate(excluded_checks=SEMANTIC_CHECKS)

            try:
                check()
            except Exception as error:
                raise AssertionError(f"{operation.label}: {error}") from error
