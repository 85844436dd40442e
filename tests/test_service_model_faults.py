"""Model versions whose files are missing or damaged, new versions loaded off the request
path, and version numbers in paths; through the real application factory."""

import collections
import json
import logging
import os
import threading
import time
import zipfile

import numpy as np
import pytest
from conftest import FakeClock
from service_helpers import AUTH
from service_helpers import conforms
from service_helpers import make_app
from service_helpers import register_iris_model
from service_helpers import store_of

from evokt.search.layout import MODEL_FILE
from evokt.service.layout import DataLayout
from evokt.service.predictor import ModelCache
from evokt.service.predictor import ModelWatcher
from evokt.service.store import STORE_FILE
from evokt.service.store import JobStore

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
SHOWN = f"models/iris/1/{MODEL_FILE}"


def predict(client, path: str = "/v1/models/iris:predict"):
    return client.post(path, json={"instances": ROWS}, headers=AUTH)


def answered_by(response, model) -> bool:
    """Whether `response` holds `model`'s predictions of ROWS."""
    assert response.status_code == 200, response.json
    expected = np.asarray(model(np.asarray(ROWS, dtype="float32")))
    return np.allclose(response.json["predictions"], expected, rtol=1e-5, atol=1e-6)


def status_of(client, version: int = 1) -> dict:
    response = client.get(f"/v1/models/iris/versions/{version}", headers=AUTH)
    assert response.status_code == 200, response.json
    (status,) = response.json["model_version_status"]
    return status


# Missing and damaged files ---------------------------------------------------------------------


def remove(path: str) -> None:
    os.remove(path)


def truncate(path: str) -> None:
    with open(path, "rb") as file:
        content = file.read()
    with open(path, "wb") as file:
        file.write(content[: len(content) // 2])


def empty(path: str) -> None:
    open(path, "wb").close()


def overwrite_weights(path: str) -> None:
    """Flips bytes inside the weights: the zip's directory stays whole, Keras loads it."""
    with zipfile.ZipFile(path) as archive:
        weights = archive.getinfo("model.weights.h5")
    start = weights.header_offset + 30 + len(weights.filename) + weights.compress_size // 2
    with open(path, "r+b") as file:
        file.seek(start)
        damaged = bytes(byte ^ 0xFF for byte in file.read(64))
        file.seek(start)
        file.write(damaged)


@pytest.mark.parametrize("damage,error_code,message", [
    (remove, "NOT_FOUND", f"{SHOWN} does not exist"),
    (truncate, "DATA_LOSS",
     f"{SHOWN} is damaged (truncated, or not a .keras file): File is not a zip file"),
    (empty, "DATA_LOSS",
     f"{SHOWN} is damaged (truncated, or not a .keras file): File is not a zip file"),
    (overwrite_weights, "DATA_LOSS", f"{SHOWN} is damaged: its model.weights.h5 fails its "
                                     "checksum"),
])
def test_a_damaged_model_file_is_named_in_503_status_and_readiness_until_it_is_back(
        tmp_path, damage, error_code, message):
    data_dir = str(tmp_path / "data")
    model = register_iris_model(make_app(data_dir))
    path = os.path.join(DataLayout(data_dir).model_dir("iris", 1), MODEL_FILE)
    with open(path, "rb") as file:
        whole = file.read()
    damage(path)
    # The server restarts: nothing is loaded.
    app = make_app(data_dir, MODEL_RETRY_SECONDS=10.0)
    clock = app.extensions["evokt.models"].clock = FakeClock()
    client = app.test_client()

    refused = predict(client)
    assert refused.status_code == 503
    conforms(refused, "/v1/models/{name}:predict", "post")
    assert refused.json == {"error": f"version 1 of model 'iris' cannot be loaded: {message}"}
    assert refused.headers["Retry-After"] == "10"
    assert status_of(client) == {"version": "1", "state": "END",
                                 "status": {"error_code": error_code, "error_message": message}}
    model_status = client.get("/v1/models/iris", headers=AUTH)
    conforms(model_status, "/v1/models/{name}", "get")
    assert model_status.json["model_version_status"] == [status_of(client)]
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503
    assert ready.json == {"error": f"version 1 of model 'iris' cannot be loaded: {message}"}

    with open(path, "wb") as file:
        file.write(whole)
    # The failure is remembered, not tried again at every request...
    clock.advance(4)
    again = predict(client)
    assert again.status_code == 503 and again.headers["Retry-After"] == "6"
    # ...until the retry interval has passed.
    clock.advance(6)
    assert answered_by(predict(client), model)
    assert status_of(client)["state"] == "AVAILABLE"
    assert client.get("/v2/health/ready").json == {"ready": True}


def test_an_unloadable_new_version_leaves_the_loaded_one_answering(app, client):
    first = register_iris_model(app, version=1)
    assert answered_by(predict(client), first)
    register_iris_model(app, version=2)
    os.remove(os.path.join(DataLayout(app.config["DATA_DIR"]).model_dir("iris", 2), MODEL_FILE))
    # As TF Serving does: the new version never became AVAILABLE, so the old one serves.
    assert answered_by(predict(client), first)
    assert status_of(client, 2)["status"]["error_code"] == "NOT_FOUND"
    assert status_of(client, 1)["state"] == "AVAILABLE"
    assert client.get("/v2/health/ready").status_code == 503
    # Asked for by number, the broken version says so.
    refused = predict(client, "/v1/models/iris/versions/2:predict")
    assert refused.status_code == 503
    assert "models/iris/2/model.keras does not exist" in refused.json["error"]


# New versions load off the request path ------------------------------------------------------


class GatedLoads:
    """`ModelCache._load` that records which thread loads each version, and holds
    version 2 until the test opens the gate."""

    def __init__(self, load):
        self.load = load
        self.gate = threading.Event()
        self.started = threading.Event()
        self.threads: dict[int, list[str]] = collections.defaultdict(list)

    def __call__(self, cache: ModelCache, record: dict):
        self.threads[record["version"]].append(threading.current_thread().name)
        if record["version"] == 2:
            self.started.set()
            assert self.gate.wait(10), "a request waited for version 2's load"
        return self.load(cache, record)


@pytest.fixture
def gated(monkeypatch):
    loads = GatedLoads(ModelCache._load)
    monkeypatch.setattr(ModelCache, "_load", lambda cache, record: loads(cache, record))
    yield loads
    loads.gate.set()


def answered_by_the_new_one_in_the_end(client, old, new, timeout: float = 60) -> None:
    """Every answer is the old version's until they are all the new one's."""
    deadline = time.monotonic() + timeout
    while not answered_by(response := predict(client), new):
        assert answered_by(response, old)
        assert time.monotonic() < deadline, "version 2 was never served"


def test_the_watcher_loads_a_new_version_while_the_old_one_answers(tmp_path, gated):
    app = make_app(str(tmp_path / "data"), WARM_MODELS=True, MODEL_WATCH_SECONDS=0.05)
    watcher = app.extensions["evokt.model_watcher"]
    try:
        client = app.test_client()
        first = register_iris_model(app, version=1)
        assert answered_by(predict(client), first)
        second = register_iris_model(app, version=2)
        assert gated.started.wait(60), "the watcher never loaded version 2"
        # Version 2 is held loading: requests for the latest are answered at once by 1.
        for _ in range(5):
            assert answered_by(predict(client), first)
        assert status_of(client, 2)["state"] == "LOADING"
        gated.gate.set()
        answered_by_the_new_one_in_the_end(client, first, second)
        assert gated.threads[2] == ["model-watcher"]
        assert answered_by(predict(client, "/v1/models/iris/versions/1:predict"), first)
    finally:
        watcher.stop(30)


def test_without_a_watcher_the_request_that_sees_a_new_version_loads_it_aside(
        app, client, gated):
    first = register_iris_model(app, version=1)
    assert answered_by(predict(client), first)
    second = register_iris_model(app, version=2)
    assert answered_by(predict(client), first)
    assert gated.started.wait(60)
    assert answered_by(predict(client), first)
    gated.gate.set()
    answered_by_the_new_one_in_the_end(client, first, second)
    # One load, on a thread of its own, however many requests saw it loading.
    assert gated.threads[2] == ["load-iris-2"]


def test_an_explicit_version_that_is_not_loaded_loads_on_demand(app, client, gated):
    register_iris_model(app, version=1)
    second = register_iris_model(app, version=2)
    gated.gate.set()
    assert answered_by(predict(client, "/v1/models/iris/versions/2:predict"), second)
    assert gated.threads[2] == [threading.current_thread().name]


def test_the_watcher_survives_a_job_store_it_cannot_read(app, tmp_path, gated, caplog):
    caplog.set_level(logging.WARNING, logger="evokt.service.predictor")
    register_iris_model(app)
    record = store_of(app).model_version("iris")
    # The watcher looks at a job store of its own, which is not an SQLite file at first.
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / STORE_FILE).write_bytes(b"not a database" * 100)
    watcher = ModelWatcher(ModelCache(app.extensions["evokt.layout"], 8), str(watched), 0.05)
    watcher.start()
    try:
        deadline = time.monotonic() + 60
        while "cannot look for new model versions: file is not a database" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        os.remove(watched / STORE_FILE)
        store = JobStore(str(watched))
        with store.transaction() as connection:
            connection.execute(
                "INSERT INTO model_versions (name, version, metadata, created) VALUES (?, ?, ?, 0)",
                ("iris", 1, json.dumps(record["metadata"])))
        store.close()
        deadline = time.monotonic() + 60
        while not gated.threads[1]:
            assert time.monotonic() < deadline, "the watcher stopped looking"
            time.sleep(0.05)
        assert gated.threads[1] == ["model-watcher"]
    finally:
        watcher.stop(30)


# Version numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/models/iris/versions/\u0661"),
    ("GET", "/v1/models/iris/versions/\u0661/metadata"),
    ("POST", "/v1/models/iris/versions/\u0661:predict"),
    ("GET", "/v1/models/iris/versions/\uff11"),
])
def test_a_version_in_other_digits_than_ascii_is_404(app, client, method, path):
    register_iris_model(app)
    response = client.open(path, method=method, json={"instances": ROWS}, headers=AUTH)
    assert response.status_code == 404
    assert "error" in response.json
    assert client.get("/v1/models/iris/versions/1", headers=AUTH).status_code == 200
