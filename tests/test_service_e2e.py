"""The real service: `evokt serve` (gunicorn + runner) on 127.0.0.1, and the runner alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import keras
import numpy as np
import pytest

from service.layout import DataLayout
from service.serve import wait_until_ready
from service.store import JobStore
from tuner_ext.distributed import free_port
from test_data import iris_rows
from test_data import write_csv
from tuner_ext.spec import MODEL_FILE

EVOKT = os.path.join(os.path.dirname(sys.executable), "evokt")
TOKEN = "e2e-token-abcdefghijklmnop"


class Client:
    """A minimal JSON client over real HTTP."""

    def __init__(self, base: str):
        self.base = base

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def upload(self, path: str, filename: str, fields: dict[str, str]):
        boundary = "evokt-test-boundary"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{value}\r\n".encode())
        with open(path, "rb") as file:
            content = file.read()
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                     + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", "/v1/datasets", raw=b"".join(parts),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def wait_for(self, search_id: str, states: set[str], timeout: float = 240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, search, _ = self.request("GET", f"/v1/searches/{search_id}")
            if search["state"] in states:
                return search
            time.sleep(0.5)
        pytest.fail(f"search {search_id} never reached {states}; last {search}")


@pytest.fixture
def server(tmp_path):
    """`evokt serve` on a free port, with one worker of 4 threads."""
    port = free_port()
    data_dir = tmp_path / "data"
    env = {**os.environ, "EVOKT_API_TOKEN": TOKEN}
    process = subprocess.Popen(
        [EVOKT, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
         "--workers", "1", "--threads", "4"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + "/v2/health/ready", 90, process)
        yield Client(base), data_dir, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def test_upload_search_and_predict_end_to_end(server, tmp_path):
    client, data_dir, process = server
    csv_path = write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
    status, dataset, _ = client.upload(csv_path, "iris.csv", {"target": "species"})
    assert status == 201, dataset
    status, search, headers = client.request("POST", "/v1/searches", {
        "dataset": dataset["id"], "hypermodel": "mlp", "max_trials": 2, "epochs": 2,
        "model_name": "iris", "oracle_options": {"population_size": 2},
    })
    assert status == 202, search
    assert headers["Location"] == f"/v1/searches/{search['id']}"
    done = client.wait_for(search["id"], {"SUCCEEDED", "FAILED"})
    assert done["state"] == "SUCCEEDED", done["error"]
    assert done["trials_done"] == 2 and done["model_version"] == 1
    _, trials, _ = client.request("GET", f"/v1/searches/{search['id']}/trials")
    assert [t["status"] for t in trials["trials"]] == ["COMPLETED", "COMPLETED"]
    assert max(t["score"] for t in trials["trials"]) == pytest.approx(done["best_score"])

    rows = [row[:4] for row in iris_rows()[:5]]
    status, predicted, _ = client.request("POST", "/v1/models/iris:predict", {"instances": rows})
    assert status == 200, predicted
    exported = keras.saving.load_model(
        os.path.join(DataLayout(str(data_dir)).model_dir("iris", 1), MODEL_FILE), safe_mode=True)
    expected = exported.predict(np.asarray(rows, dtype="float32"), verbose=0)
    np.testing.assert_allclose(predicted["predictions"], expected, rtol=1e-4, atol=1e-6)
    _, metadata, _ = client.request("GET", "/v1/models/iris/metadata")
    assert metadata["evokt"]["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert metadata["evokt"]["search_id"] == search["id"]

    events = urllib.request.urlopen(urllib.request.Request(
        client.base + f"/v1/searches/{search['id']}/events",
        headers={"Authorization": f"Bearer {TOKEN}"}), timeout=30).read().decode()
    assert events.rstrip().split("\n\n")[-1].startswith("event: end")


def test_cancel_kills_the_running_trial_and_keeps_completed_ones(server):
    client, _, _ = server
    _, search, _ = client.request("POST", "/v1/searches", {
        "dataset": "digits", "max_trials": 50, "epochs": 20, "oracle": "random"})
    client.wait_for(search["id"], {"RUNNING"})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        _, current, _ = client.request("GET", f"/v1/searches/{search['id']}")
        if current["trials_done"] >= 1:
            break
        time.sleep(0.5)
    pid = JobStore(str(server[1])).search(search["id"])["pid"]
    status, cancelling, _ = client.request("POST", f"/v1/searches/{search['id']}/cancel")
    assert status == 202 and cancelling["state"] in ("CANCELLING", "CANCELLED")
    cancelled = client.wait_for(search["id"], {"CANCELLED"}, timeout=30)
    assert cancelled["trials_done"] >= 1
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    _, trials, _ = client.request("GET", f"/v1/searches/{search['id']}/trials")
    assert len(trials["trials"]) == cancelled["trials_done"]


def test_sigterm_stops_gunicorn_and_the_runner(server):
    client, _, process = server
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                              text=True).stdout.split()
    assert len(children) == 2
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_a_runner_killed_mid_search_is_restarted_and_finishes_it(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    from tuner_ext.spec import SearchSpec

    spec = SearchSpec(dataset="digits", max_trials=4, epochs=3)
    store.add_search("killed", spec.to_dict(), "digits", "digits-model", max_pending=10)
    command = [sys.executable, "-m", "service.runner", "--data-dir", data_dir]
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            record = store.search("killed")
            if record["trials_done"] >= 1 and record["pid"]:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the search never completed a trial")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    child = store.search("killed")["pid"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the search process dies with its runner
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the search process outlived its runner")
    assert store.search("killed")["state"] == "RUNNING"

    restarted = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and store.search("killed")["state"] == "RUNNING":
            time.sleep(0.5)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)
    record = store.search("killed")
    assert record["state"] == "SUCCEEDED", record["error"]
    trials = store.trials("killed")
    assert len(trials) == 4 and record["trials_done"] == 4
    assert len({json.dumps(t["hyperparameters"], sort_keys=True) for t in trials}) == 4
    assert store.model_version("digits-model")["version"] == 1


def test_a_search_with_workers_runs_under_the_runner(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    from tuner_ext.spec import SearchSpec

    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=4, epochs=1, workers=2)
    store.add_search("parallel", spec.to_dict(), "iris", "iris-parallel", max_pending=10)
    runner = subprocess.Popen([sys.executable, "-m", "service.runner", "--data-dir", data_dir],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and store.search("parallel")["state"] in ("PENDING", "RUNNING"):
            time.sleep(0.5)
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
    record = store.search("parallel")
    assert record["state"] == "SUCCEEDED", record["error"]
    assert record["trials_done"] == 4 and len(store.trials("parallel")) == 4
    project = DataLayout(data_dir).search_dir("parallel")
    assert any(name.startswith("worker") for name in os.listdir(project))
