"""The real service: `evokt serve` (gunicorn + runner) on 127.0.0.1, and the runner alone."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import keras
import numpy as np
import onnxruntime
import pytest
from helpers import iris_rows
from helpers import write_csv
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import children_of
from service_helpers import make_app
from service_helpers import process_gone
from service_helpers import running_server
from service_helpers import start_runner
from service_helpers import wait_for_record

from evokt.search.layout import MODEL_FILE
from evokt.service.layout import DataLayout
from evokt.service.store import JobStore


@pytest.fixture
def server(tmp_path):
    """`evokt serve` on a free port, with one worker of 4 threads."""
    with running_server(tmp_path, "--workers", "1", "--threads", "4") as running:
        yield running


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
    status, inferred, _ = client.request("POST", "/v2/models/iris/infer", {"inputs": [
        {"name": "inputs", "shape": [5, 4], "datatype": "FP64", "data": rows}]})
    assert status == 200, inferred
    np.testing.assert_allclose(np.reshape(inferred["outputs"][0]["data"], (5, 3)), expected,
                               rtol=1e-4, atol=1e-6)
    with urllib.request.urlopen(urllib.request.Request(
            client.base + "/v1/models/iris/versions/1/export?format=onnx",
            headers={"Authorization": f"Bearer {TOKEN}"}), timeout=120) as response:
        onnx_model = response.read()
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        session.run(["output_0"], {"inputs": np.asarray(rows, np.float32)})[0], expected,
        rtol=1e-4, atol=1e-5)
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
    client.wait_until(search["id"], lambda current: current["trials_done"] >= 1, timeout=180)
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
    children = children_of(process.pid)
    assert len(children) == 2
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_a_runner_killed_mid_search_is_restarted_and_finishes_it(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    from evokt.search.spec import SearchSpec

    spec = SearchSpec(dataset="digits", max_trials=4, epochs=3)
    store.add_search("killed", spec.to_dict(), "digits", "digits-model", max_pending=10)
    runner = start_runner(data_dir)
    try:
        wait_for_record(store, "killed", lambda r: r["trials_done"] >= 1 and r["pid"], 180)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert process_gone(store.search("killed")["pid"]), "the search process outlived its runner"
    assert store.search("killed")["state"] == "RUNNING"

    restarted = start_runner(data_dir)
    try:
        wait_for_record(store, "killed", lambda r: r["state"] != "RUNNING")
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
    from evokt.search.spec import SearchSpec

    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=4, epochs=1, workers=2)
    store.add_search("parallel", spec.to_dict(), "iris", "iris-parallel", max_pending=10)
    runner = start_runner(data_dir)
    try:
        wait_for_record(store, "parallel", lambda r: r["state"] not in ("PENDING", "RUNNING"))
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
    record = store.search("parallel")
    assert record["state"] == "SUCCEEDED", record["error"]
    assert record["trials_done"] == 4 and len(store.trials("parallel")) == 4
    project = DataLayout(data_dir).search_dir("parallel")
    assert any(name.startswith("worker") for name in os.listdir(project))
    # Where its workers ran, as the API shows it.
    client = make_app(data_dir).test_client()
    cluster = client.get("/v1/searches/parallel", headers=AUTH).json["cluster"]
    assert cluster["engine"] == "local" and cluster["address"] is None
    assert [worker["state"] for worker in cluster["workers"]] == ["left", "left"]
    assert sorted(sum((worker["trials"] for worker in cluster["workers"]), [])) == sorted(
        trial["trial_id"] for trial in store.trials("parallel"))
