"""The REST API through the real application factory, on a temporary data directory."""

import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from helpers import iris_rows
from helpers import write_csv
from schemathesis.openapi.checks import JsonSchemaError
from service_helpers import AUTH
from service_helpers import conforms
from service_helpers import make_app
from service_helpers import register_iris_model
from service_helpers import store_of


def upload_iris(client, tmp_path, **form):
    path = write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
    with open(path, "rb") as file:
        data = {"file": (io.BytesIO(file.read()), "iris.csv"), "target": "species", **form}
    return client.post("/v1/datasets", data=data, headers=AUTH,
                       content_type="multipart/form-data")


def post_search(client, **body):
    return client.post("/v1/searches", json=body, headers=AUTH)


# Health, description and authentication ------------------------------------------------


def test_probes_and_the_document_need_no_token(client):
    assert client.get("/v2/health/live").json == {"live": True}
    assert client.get("/v2/health/ready").json == {"ready": True}
    document = client.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert "/v1/models/{name}:predict" in document["paths"]


def protected_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"health.live", "health.ready", "openapi.document", "static",
                             "dashboard.index", "dashboard.static"}:
            continue
        path = rule.rule.replace("<version:version>", "1")
        for argument in rule.arguments - {"version"}:
            path = path.replace(f"<{argument}>", "abc")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            yield method, path


def test_every_protected_route_answers_401_without_the_right_token(app, client):
    from evokt.service.openapi import DOCUMENT

    routes = list(protected_routes(app))
    documented = [operation for item in DOCUMENT["paths"].values() for operation in item.values()
                  if operation.get("security") != []]
    assert len(routes) == len(documented) == 30
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json == {"error": "missing or wrong bearer token"}
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_public_predict_opens_model_reads_and_predictions_only(tmp_path):
    app = make_app(str(tmp_path / "data"), PUBLIC_PREDICT=True)
    register_iris_model(app)
    client = app.test_client()
    assert client.get("/v1/models").status_code == 200
    assert client.get("/v1/models/iris/metadata").status_code == 200
    response = client.post("/v1/models/iris:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert response.status_code == 200
    assert client.get("/v1/searches").status_code == 401
    assert client.get("/v1/datasets").status_code == 401


def test_a_generated_token_is_stored_for_the_owner_only(tmp_path):
    import os
    import stat

    from evokt.service.app import create_app

    first = create_app({"DATA_DIR": str(tmp_path / "data")})
    token_file = tmp_path / "data" / "api-token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    second = create_app({"DATA_DIR": str(tmp_path / "data")})
    assert first.config["API_TOKEN"] == second.config["API_TOKEN"] == token_file.read_text().strip()
    assert second.test_client().get(
        "/v1/searches", headers={"Authorization": f"Bearer {first.config['API_TOKEN']}"}
    ).status_code == 200


# Datasets -------------------------------------------------------------------------------


def test_bundled_datasets_are_always_listed(client):
    response = client.get("/v1/datasets", headers=AUTH)
    conforms(response, "/v1/datasets", "get")
    ids = [dataset["id"] for dataset in response.json["datasets"]]
    assert ids == ["digits", "iris", "wine", "breast_cancer", "diabetes"]
    digits = client.get("/v1/datasets/digits", headers=AUTH).json
    assert digits["input_shape"] == [8, 8, 1] and digits["features"] == 64


def test_a_csv_upload_is_stored_and_described(client, tmp_path):
    response = upload_iris(client, tmp_path)
    assert response.status_code == 201, response.json
    conforms(response, "/v1/datasets", "post")
    dataset = response.json
    assert dataset["rows"] == 150 and dataset["features"] == 4
    assert dataset["classes"] == ["setosa", "versicolor", "virginica"]
    fetched = client.get(f"/v1/datasets/{dataset['id']}", headers=AUTH)
    conforms(fetched, "/v1/datasets/{dataset_id}", "get")
    assert fetched.json == dataset
    listed = client.get("/v1/datasets", headers=AUTH).json["datasets"]
    assert dataset["id"] in [one["id"] for one in listed]


def test_an_npz_upload_of_sequences(client):
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, x=rng.normal(size=(30, 5, 2)), y=rng.normal(size=30))
    response = client.post("/v1/datasets", headers=AUTH, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(buffer.getvalue()), "frames.npz")})
    assert response.status_code == 201, response.json
    assert response.json["input_shape"] == [5, 2] and response.json["task"] == "regression"


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "file: upload a .csv or .npz file"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "data.txt")}, "file: the file name must end in .csv"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "data.csv")}, "target: name the CSV column"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "data.csv"), "target": "c"},
         "file: data.csv: no target column 'c'"),
        ({"file": (io.BytesIO(b"a,b\nx,1\n" + b"1,0\n" * 20), "data.csv"), "target": "b"},
         "file: data.csv: line 2: column 'a' is not numeric"),
        ({"file": (io.BytesIO(b"not a zip"), "data.npz")}, "file: data.npz: not an .npz file"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "data.csv"), "target": "b", "task": "ranking"},
         "task: must be classification or regression"),
    ],
)
def test_bad_uploads_get_400_and_leave_nothing_behind(app, client, data, message):
    response = client.post("/v1/datasets", data=data, headers=AUTH,
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["error"].startswith(message)
    import os

    datasets_dir = os.path.join(app.extensions["evokt.layout"].root, "datasets")
    assert not os.path.exists(datasets_dir) or os.listdir(datasets_dir) == []
    assert store_of(app).datasets() == []


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_declaring(shape: tuple) -> bytes:
    """An .npz whose x.npy header declares `shape` of float64 but holds 8 bytes."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f8", "fortran_order": False, "shape": shape})
    member.write(b"\0" * 8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", member.getvalue())
        archive.writestr("y.npy", npz_member(np.zeros(30)))
    return buffer.getvalue()


def npz_member(array) -> bytes:
    member = io.BytesIO()
    np.lib.format.write_array(member, array)
    return member.getvalue()


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()


X30 = np.random.default_rng(0).normal(size=(30, 3))
LABELS30 = ["a", "b", "c"] * 10


@pytest.mark.parametrize(
    "filename,content,target,status,message",
    [
        ("latin1.csv", b"x,label\n" + "1,café\n2,thé\n".encode("latin-1") * 10, "label",
         400, "file: latin1.csv: not UTF-8 text"),
        ("utf16.csv", ("x,label\n" + "1,a\n2,b\n" * 10).encode("utf-16"), "label",
         400, "file: utf16.csv: not UTF-8 text"),
        ("wide.csv", b"x,label\n1," + b"a" * 140_000 + b"\n", "label",
         400, "file: wide.csv: not a readable CSV file"),
        ("empty.npz", empty_zip(), None, 400, "file: empty.npz: missing array x, y"),
        ("zero.npz", b"", None, 400, "file: zero.npz: not an .npz file"),
        ("huge.npz", npz_declaring((10**13,)), None, 413, "file: huge.npz: x and y declare"),
        ("nofeatures.npz", npz_bytes(x=np.zeros((30, 0)), y=np.zeros(30)), None,
         400, "file: nofeatures.npz: x has no features"),
        ("bytes.npz", npz_bytes(x=X30, y=np.array([b"a", b"b", b"c"] * 10)), None,
         400, "file: bytes.npz: y must hold numbers or text, got dtype |S1"),
        ("complex.npz", npz_bytes(x=X30, y=np.arange(30) * 1j), None,
         400, "file: complex.npz: y must hold numbers or text"),
        ("dates.npz", npz_bytes(x=X30, y=np.arange(30).astype("datetime64[D]")), None,
         400, "file: dates.npz: y must hold numbers or text"),
        ("objects.npz", npz_bytes(x=X30, y=np.array(LABELS30, dtype=object)), None,
         400, "file: objects.npz: y holds Python objects"),
    ],
)
def test_hostile_uploads_get_4xx_naming_the_problem_and_leave_nothing_behind(
        app, client, filename, content, target, status, message):
    form = {"file": (io.BytesIO(content), filename)}
    if target:
        form["target"] = target
    response = client.post("/v1/datasets", data=form, headers=AUTH,
                           content_type="multipart/form-data")
    assert response.status_code == status, response.json
    assert response.json["error"].startswith(message), response.json
    datasets_dir = os.path.join(app.extensions["evokt.layout"].root, "datasets")
    assert not os.path.exists(datasets_dir) or os.listdir(datasets_dir) == []
    assert store_of(app).datasets() == []


def test_a_compressed_zip_bomb_is_refused_from_its_headers(app, client):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.zeros((2_000_000, 64)), y=np.zeros(2_000_000))
    assert len(buffer.getvalue()) < 2_000_000  # about 1 MB, 1 GB once loaded
    response = client.post("/v1/datasets", headers=AUTH, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(buffer.getvalue()), "bomb.npz")})
    assert response.status_code == 413
    assert "1,072,000,000 bytes once loaded and split" in response.json["error"]


def test_oversize_bodies_get_413(tmp_path):
    client = make_app(str(tmp_path / "data"), MAX_CONTENT_LENGTH=1024).test_client()
    response = client.post("/v1/datasets", headers=AUTH, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"1," * 4096), "big.csv"), "target": "a"})
    assert response.status_code == 413
    assert "error" in response.json
    response = client.post("/v1/searches", headers=AUTH, data="x" * 4096,
                           content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path,status",
    [
        # The server decodes an encoded slash before routing: these names span
        # several path segments, no route takes such a name, and no view runs.
        ("/v1/datasets/..%2F..%2Fetc%2Fpasswd", 404),
        ("/v1/searches/..%2Fsecret", 404),
        ("/v1/models/..%2F..%2Fapi-token", 404),
        # One segment: the route matches and the view's name check refuses it.
        ("/v1/datasets/a.b", 400),
        ("/v1/models/" + "a" * 65, 400),
        ("/v1/models/%2E%2E/metadata", 400),
    ],
)
def test_names_outside_the_pattern_never_reach_the_file_system(client, path, status):
    response = client.get(path, headers=AUTH)
    assert response.status_code == status
    if status == 400:
        assert response.json["error"].endswith(": must match [A-Za-z0-9_-]{1,64}")
    else:
        assert "error" in response.json
    assert "test-token" not in response.get_data(as_text=True)


# Searches -------------------------------------------------------------------------------


def test_a_search_is_queued_pending_with_its_location(client):
    response = post_search(client, dataset="iris", oracle="greedy", max_trials=3, epochs=1,
                           model_name="flowers", oracle_options={"random_starts": 2})
    assert response.status_code == 202, response.json
    conforms(response, "/v1/searches", "post")
    search = response.json
    assert search["state"] == "PENDING" and search["model_name"] == "flowers"
    assert response.headers["Location"] == f"/v1/searches/{search['id']}"
    fetched = client.get(response.headers["Location"], headers=AUTH)
    conforms(fetched, "/v1/searches/{search_id}", "get")
    assert fetched.json["max_trials"] == 3 and fetched.json["trials_done"] == 0
    listed = client.get("/v1/searches?state=PENDING", headers=AUTH)
    conforms(listed, "/v1/searches", "get")
    assert [s["id"] for s in listed.json["searches"]] == [search["id"]]
    assert client.get("/v1/searches?state=RUNNING", headers=AUTH).json["searches"] == []
    trials = client.get(f"/v1/searches/{search['id']}/trials", headers=AUTH)
    conforms(trials, "/v1/searches/{search_id}/trials", "get")
    assert trials.json == {"trials": []}


def test_a_genetic_hyperband_search_keeps_its_epoch_budget(app, client):
    response = post_search(client, dataset="iris", oracle="genetic-hyperband", epochs=9,
                           max_epochs_budget=90)
    assert response.status_code == 202, response.json
    conforms(response, "/v1/searches", "post")
    [record] = store_of(app).searches()
    assert record["spec"]["oracle"] == "genetic-hyperband"
    assert record["spec"]["max_epochs_budget"] == 90


def test_a_search_on_an_uploaded_dataset_uses_its_file_and_target(client, tmp_path):
    dataset = upload_iris(client, tmp_path).json
    search = post_search(client, dataset=dataset["id"]).json
    assert search["dataset"] == dataset["id"] and search["model_name"] == search["id"]


@pytest.mark.parametrize(
    "body,message",
    [
        ({}, "dataset: must match"),
        ({"dataset": "mnist"}, "dataset: no dataset 'mnist'"),
        ({"dataset": "iris", "oracle": "annealing"}, "oracle: unknown 'annealing'"),
        ({"dataset": "iris", "hypermodel": "transformer"}, "hypermodel: unknown 'transformer'"),
        ({"dataset": "iris", "hypermodel": "cnn"}, "hypermodel: the cnn hypermodel needs"),
        ({"dataset": "iris", "max_trials": 0}, "max_trials: must be an integer from 1"),
        ({"dataset": "iris", "max_trials": 10**6}, "max_trials: must be an integer from 1"),
        ({"dataset": "iris", "max_trials": "5"}, "max_trials: must be an integer"),
        ({"dataset": "iris", "epochs": -1}, "epochs: must be an integer"),
        ({"dataset": "iris", "objective": "val_mae"}, "objective: 'val_mae' is not reported"),
        ({"dataset": "iris", "model_name": "../x"}, "model_name: must match"),
        ({"dataset": "iris", "oracle": "random", "oracle_options": {"population_size": 3}},
         "oracle_options: random takes no option population_size"),
        ({"dataset": "iris", "oracle_options": []}, "oracle_options: must be an object"),
        ({"dataset": "iris", "priority": 1}, "priority: unknown field"),
        ({"dataset": "iris", "max_epochs_budget": 50}, "max_epochs_budget: only genetic-hyperband"),
        ({"dataset": "iris", "oracle": "genetic-hyperband", "epochs": 9, "max_epochs_budget": 8},
         "max_epochs_budget: must be at least epochs (9)"),
    ],
)
def test_bad_search_requests_get_400_naming_the_field(app, client, body, message):
    response = post_search(client, **body)
    assert response.status_code == 400
    assert response.json["error"].startswith(message), response.json
    conforms(response, "/v1/searches", "post")
    assert store_of(app).searches() == []


@pytest.mark.parametrize("payload", ["{", "[1, 2]", '"text"', '{"dataset": "iris", "seed": NaN}'])
def test_malformed_json_and_non_finite_numbers_get_400(client, payload):
    response = client.post("/v1/searches", data=payload, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json


def test_a_full_queue_answers_429(tmp_path):
    client = make_app(str(tmp_path / "data"), MAX_PENDING_SEARCHES=2).test_client()
    assert [post_search(client, dataset="iris").status_code for _ in range(2)] == [202, 202]
    response = post_search(client, dataset="iris")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"


def test_unknown_searches_are_404(client):
    for path in ("/v1/searches/abc", "/v1/searches/abc/trials", "/v1/searches/abc/events"):
        assert client.get(path, headers=AUTH).status_code == 404
    assert client.post("/v1/searches/abc/cancel", headers=AUTH).status_code == 404


def test_cancelling_a_pending_search_ends_it_and_its_event_stream(client):
    search = post_search(client, dataset="iris").json
    response = client.post(f"/v1/searches/{search['id']}/cancel", headers=AUTH)
    assert response.status_code == 202
    conforms(response, "/v1/searches/{search_id}/cancel", "post")
    assert response.json["state"] == "CANCELLED" and response.json["finished"] is not None
    again = client.post(f"/v1/searches/{search['id']}/cancel", headers=AUTH)
    assert again.status_code == 409
    stream = client.get(f"/v1/searches/{search['id']}/events", headers=AUTH)
    assert stream.mimetype == "text/event-stream"
    events = [block for block in stream.get_data(as_text=True).split("\n\n") if block]
    assert events[0].startswith("event: progress") and events[-1].startswith("event: end")
    assert json.loads(events[-1].split("data: ", 1)[1])["state"] == "CANCELLED"


def test_cancelling_a_running_search_asks_the_runner(app, client):
    search = post_search(client, dataset="iris").json
    store = store_of(app)
    store.set_state(search["id"], "RUNNING", expected=("PENDING",))
    response = client.post(f"/v1/searches/{search['id']}/cancel", headers=AUTH)
    assert response.json["state"] == "CANCELLING"


# Models and predictions -----------------------------------------------------------------


@pytest.fixture
def iris_model(app):
    return register_iris_model(app)


def test_model_status_and_metadata_in_tf_serving_shape(client, iris_model):
    listed = client.get("/v1/models", headers=AUTH)
    conforms(listed, "/v1/models", "get")
    assert listed.json["models"] == [
        {"name": "iris", "latest_version": 1, "task": "classification"}]
    status = client.get("/v1/models/iris", headers=AUTH)
    conforms(status, "/v1/models/{name}", "get")
    assert status.json["model_version_status"] == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
    metadata = client.get("/v1/models/iris/metadata", headers=AUTH)
    conforms(metadata, "/v1/models/{name}/metadata", "get")
    signature = metadata.json["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["inputs"]["tensor_shape"]["dim"] == [{"size": "-1"}, {"size": "4"}]
    assert signature["outputs"]["output_0"]["tensor_shape"]["dim"][1] == {"size": "3"}
    assert metadata.json["evokt"]["class_labels"] == ["setosa", "versicolor", "virginica"]


def test_predictions_match_the_model_in_both_formats(client, iris_model):
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    expected = np.asarray(iris_model(np.asarray(rows, dtype="float32")))
    response = client.post("/v1/models/iris:predict", json={"instances": rows}, headers=AUTH)
    assert response.status_code == 200, response.json
    conforms(response, "/v1/models/{name}:predict", "post")
    np.testing.assert_allclose(response.json["predictions"], expected, rtol=1e-5, atol=1e-6)
    named = client.post("/v1/models/iris:predict", headers=AUTH,
                        json={"instances": [{"inputs": row} for row in rows]})
    np.testing.assert_allclose(named.json["predictions"], expected, rtol=1e-5, atol=1e-6)
    columnar = client.post("/v1/models/iris/versions/1:predict", json={"inputs": rows},
                           headers=AUTH)
    conforms(columnar, "/v1/models/{name}/versions/{version}:predict", "post")
    np.testing.assert_allclose(columnar.json["outputs"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(response.json["predictions"], axis=1), 1.0, rtol=1e-5)


def test_a_new_version_is_served_once_it_is_loaded(app, client, iris_model):
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    first = client.post("/v1/models/iris:predict", json=row, headers=AUTH).json
    newer = register_iris_model(app, version=2)
    expected = np.asarray(newer(np.asarray(row["instances"], dtype="float32")))
    # The request that sees version 2 starts its load aside; version 1 answers meanwhile.
    deadline = time.monotonic() + 60
    while not np.allclose((second := client.post("/v1/models/iris:predict", json=row,
                                                 headers=AUTH).json)["predictions"],
                          expected, rtol=1e-5, atol=1e-6):
        assert second == first
        assert time.monotonic() < deadline, "version 2 was never served"
    old = client.post("/v1/models/iris/versions/1:predict", json=row, headers=AUTH).json
    assert old == first


@pytest.mark.parametrize(
    "body,message",
    [
        ({"instances": [[1, 2, 3]]}, "instances: expected examples of shape [4], got [3]"),
        ({"instances": [[1, 2, 3, "x"]]}, "instances: every example must be numbers"),
        ({"instances": [[1, 2, 3, 4], [1, 2]]}, "instances: every example must be numbers"),
        ({"instances": [[1, 2, 3, None]]}, "instances: every example must be numbers"),
        ({"instances": []}, "instances: must be a non-empty list"),
        ({"instances": [{"x": [1, 2, 3, 4]}]}, "instances: the only input is named 'inputs'"),
        ({"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}, "give either 'instances'"),
        ({"signature_name": "serving_default"}, "give either 'instances'"),
        ({"instances": [[1, 2, 3, 4]] * 11}, "instances: at most 10 rows per request"),
    ],
)
def test_bad_prediction_requests_get_400(tmp_path, body, message):
    app = make_app(str(tmp_path / "data"), MAX_PREDICT_ROWS=10)
    register_iris_model(app)
    response = app.test_client().post("/v1/models/iris:predict", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json["error"].startswith(message), response.json


def test_non_finite_inputs_get_400(client, iris_model):
    response = client.post("/v1/models/iris:predict", data='{"instances": [[1, 2, 3, NaN]]}',
                           headers=AUTH, content_type="application/json")
    assert response.status_code == 400
    assert "NaN and infinity" in response.json["error"]


def test_unknown_models_and_versions_are_404(client, iris_model):
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    assert client.post("/v1/models/roses:predict", json=row, headers=AUTH).status_code == 404
    response = client.post("/v1/models/iris/versions/7:predict", json=row, headers=AUTH)
    assert response.status_code == 404
    assert response.json == {"error": "no version 7 of model 'iris'"}
    assert client.get("/v1/models/roses", headers=AUTH).status_code == 404
    assert client.get("/v1/models/roses/metadata", headers=AUTH).status_code == 404


def test_the_validator_catches_a_response_that_breaks_the_document(client):
    response = client.get("/v2/health/live")
    response.set_data(json.dumps({"live": "yes"}))
    with pytest.raises(JsonSchemaError, match='"yes" is not of type "boolean"'):
        conforms(response, "/v2/health/live", "get")


def test_unknown_query_parameters_are_reported_not_ignored(client):
    response = client.get("/v1/searches?sate=PENDING", headers=AUTH)
    assert response.status_code == 400
    assert response.json == {"error": "sate: unknown query parameter"}
    assert client.get("/v1/searches?state=BOGUS", headers=AUTH).status_code == 400


def test_a_version_beyond_any_integer_is_404_not_a_crash(client, iris_model):
    response = client.post("/v1/models/iris/versions/99999999999999999999999:predict",
                           json={"instances": [[1, 2, 3, 4]]}, headers=AUTH)
    assert response.status_code == 404
