"""`/v1/searches`: queue searches, watch them, cancel them.

A web worker never runs a search: it checks the request, stores the search
as PENDING and answers 202. The runner process (`service.runner`) starts it.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any, Iterator, Optional

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for

from hypermodels.auto import resolve_kind
from hypermodels.tasks import reported_metrics
from service.datasets import dataset_file
from service.datasets import find_dataset
from service.errors import ApiError
from service.store import CANCELLED
from service.store import CANCELLING
from service.store import FINAL_STATES
from service.store import PENDING
from service.store import RUNNING
from service.store import STATES
from service.store import JobStore
from service.store import new_id
from service.validation import check_name
from service.validation import json_body
from service.validation import reject_non_finite
from tuner_ext.registry import tunable_options
from tuner_ext.spec import SearchSpec
from tuner_ext.spec import SpecError

blueprint = Blueprint("searches", __name__, url_prefix="/v1/searches")

SEARCH_FIELDS = {
    "dataset", "hypermodel", "oracle", "max_trials", "epochs", "objective", "seed",
    "batch_size", "model_name", "oracle_options", "workers", "max_epochs_budget",
}
# Seconds between two keep-alive comments on an idle event stream.
KEEP_ALIVE_SECONDS = 15.0


def _timestamp(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def search_view(record: dict[str, Any]) -> dict[str, Any]:
    """The API's view of a search record."""
    spec = record["spec"]
    started, finished = record["started"], record["finished"]
    elapsed = None
    if started is not None:
        elapsed = round((finished or time.time()) - started, 3)
    return {
        "id": record["id"],
        "state": record["state"],
        "dataset": record["dataset"],
        "model_name": record["model_name"],
        "oracle": spec["oracle"],
        "hypermodel": spec["hypermodel"],
        "max_trials": record["max_trials"],
        "trials_done": record["trials_done"],
        "epochs": spec["epochs"],
        "workers": spec.get("workers", 1),
        "objective": record["objective"] or spec["objective"],
        "direction": record["direction"],
        "best_score": record["best_score"],
        "best_trial": record["best_trial"],
        "best_hyperparameters": record["best_hyperparameters"],
        "model_version": record["model_version"],
        "error": record["error"],
        "created": _timestamp(record["created"]),
        "started": _timestamp(started),
        "finished": _timestamp(finished),
        "elapsed_seconds": elapsed,
    }


def _store() -> JobStore:
    return current_app.extensions["evokt.store"]


def _get_search(search_id: str) -> dict[str, Any]:
    record = _store().search(check_name(search_id, "search id"))
    if record is None:
        raise ApiError(404, f"no search {search_id!r}")
    return record


def spec_from_request(body: dict[str, Any]) -> tuple[SearchSpec, str, str]:
    """The spec, dataset id and model name a request body describes.

    Raises:
        ApiError: 400 naming the first field that is wrong.
    """
    unknown = sorted(set(body) - SEARCH_FIELDS)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field; fields are {', '.join(sorted(SEARCH_FIELDS))}")
    reject_non_finite(body, "body")
    dataset_id = check_name(body.get("dataset"), "dataset")
    dataset = find_dataset(_store(), dataset_id)
    if dataset is None:
        raise ApiError(400, f"dataset: no dataset {dataset_id!r}")
    model_name = check_name(body["model_name"], "model_name") if "model_name" in body else None
    options = {key: body[key] for key in SEARCH_FIELDS - {"dataset", "model_name"} if key in body}
    if dataset["builtin"]:
        source = {"dataset": dataset_id}
    else:
        path = dataset_file(current_app.extensions["evokt.layout"], dataset)
        source = {dataset["format"]: path, "target": dataset["target"], "task": dataset["task"]}
    try:
        spec = SearchSpec(**source, **options)
        resolve_kind(spec.hypermodel, tuple(dataset["input_shape"]))
    except SpecError as error:
        raise ApiError(400, str(error)) from None
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"hypermodel: {error}") from None
    if spec.objective is not None and spec.objective not in reported_metrics(dataset["task"]):
        raise ApiError(
            400,
            f"objective: {spec.objective!r} is not reported for {dataset['task']}; choose "
            f"{', '.join(reported_metrics(dataset['task']))}",
        )
    unknown_options = sorted(set(spec.oracle_options) - set(tunable_options(spec.oracle)))
    if unknown_options:
        raise ApiError(
            400,
            f"oracle_options: {spec.oracle} takes no option {', '.join(unknown_options)}; its "
            f"options are {', '.join(tunable_options(spec.oracle))}",
        )
    return spec, dataset_id, model_name


@blueprint.post("")
def create_search():
    body = json_body()
    spec, dataset_id, model_name = spec_from_request(body)
    search_id = new_id()
    record = _store().add_search(
        search_id, spec.to_dict(), dataset_id, model_name or search_id,
        current_app.config["MAX_PENDING_SEARCHES"],
    )
    if record is None:
        raise ApiError(
            429, "the search queue is full; retry when a search has started",
            {"Retry-After": "30"},
        )
    response = jsonify(search_view(record))
    response.status_code = 202
    response.headers["Location"] = url_for("searches.get_search", search_id=search_id)
    return response


@blueprint.get("")
def list_searches():
    state = request.args.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, f"state: must be one of {', '.join(STATES)}")
    return jsonify(searches=[search_view(record) for record in _store().searches(state)])


@blueprint.get("/<search_id>")
def get_search(search_id: str):
    return jsonify(search_view(_get_search(search_id)))


@blueprint.get("/<search_id>/trials")
def get_trials(search_id: str):
    _get_search(search_id)
    return jsonify(trials=_store().trials(search_id))


@blueprint.post("/<search_id>/cancel")
def cancel_search(search_id: str):
    """Cancels a search: a pending one at once, a running one via the runner."""
    record = _get_search(search_id)
    store = _store()
    if record["state"] in FINAL_STATES:
        raise ApiError(409, f"the search has already ended ({record['state']})")
    if not store.set_state(search_id, CANCELLED, expected=(PENDING,)):
        store.set_state(search_id, CANCELLING, expected=(RUNNING,))
    response = jsonify(search_view(store.search(search_id)))
    response.status_code = 202
    return response


def _progress_events(store: JobStore, search_id: str, poll_seconds: float) -> Iterator[str]:
    sent, quiet_since = None, time.monotonic()
    while True:
        view = search_view(store.search(search_id))
        view.pop("elapsed_seconds")
        payload = json.dumps(view)
        if payload != sent:
            yield f"event: progress\ndata: {payload}\n\n"
            sent, quiet_since = payload, time.monotonic()
        elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        if view["state"] in FINAL_STATES:
            yield f"event: end\ndata: {payload}\n\n"
            return
        time.sleep(poll_seconds)


@blueprint.get("/<search_id>/events")
def search_events(search_id: str):
    """A Server-Sent Events stream of progress that ends with the search."""
    _get_search(search_id)
    events = _progress_events(_store(), search_id, current_app.config["EVENTS_POLL_SECONDS"])
    return Response(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
