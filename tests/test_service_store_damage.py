"""A damaged job store: refused at start in one line, checked, rebuilt from the data directory."""

import os
import shutil
import sqlite3
import subprocess
import threading
import time

from helpers import EVOKT
from helpers import evokt
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import make_app
from service_helpers import running_runner
from service_helpers import wait_for_record
from test_service_api import upload_iris

from evokt.search.distributed import free_port
from evokt.search.spec import SearchSpec
from evokt.service.runner import SearchRunner
from evokt.service.store import STORE_FILE
from evokt.service.store import JobStore


def damage(data_dir: str) -> None:
    """Overwrites the store's header, as a bad disk or a stray write would."""
    with open(os.path.join(data_dir, STORE_FILE), "r+b") as file:
        file.write(b"\x13" * 100)


def test_a_damaged_store_answers_503_saying_what_to_do_and_the_runner_lives(tmp_path):
    data_dir = str(tmp_path / "data")
    client = make_app(data_dir).test_client()
    with running_runner(data_dir) as runner:
        time.sleep(3)
        damage(data_dir)
        answered = client.get("/v1/searches", headers=AUTH)
        assert answered.status_code == 503
        assert "evokt store check" in answered.json["error"]
        assert client.get("/v2/health/ready").status_code == 503
        time.sleep(3)
        assert runner.poll() is None


def test_a_runner_round_that_fails_on_the_store_is_logged_and_retried(tmp_path, caplog):
    runner = SearchRunner(str(tmp_path / "data"), poll_seconds=0.01)
    rounds = []

    def failing_round(state=None):
        rounds.append(state)
        if len(rounds) >= 5:
            stop.set()
        raise sqlite3.OperationalError("database or disk is full")

    runner.store.searches = failing_round
    stop = threading.Event()
    runner.run(stop)
    assert len(rounds) == 5
    assert caplog.text.count("retrying: database or disk is full") == 1


def test_serve_refuses_a_damaged_store_in_one_line_and_a_rebuild_restores_it(tmp_path):
    data_dir = str(tmp_path / "data")
    client = make_app(data_dir).test_client()
    dataset = upload_iris(client, tmp_path).json
    store = JobStore(data_dir)
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=2, epochs=1)
    store.add_search("finished", spec.to_dict(), "iris", "iris-model", max_pending=10)
    with running_runner(data_dir):
        before = wait_for_record(store, "finished", lambda r: r["state"] not in (
            "PENDING", "RUNNING"))
    assert before["state"] == "SUCCEEDED", before["error"]
    trials_before = store.trials("finished")
    histories_before = store.histories("finished")
    store.close()
    # A search that had started but not finished: its project and request are on disk.
    unfinished = tmp_path / "data" / "searches" / "unfinished"
    (unfinished / "project").mkdir(parents=True)
    shutil.copy(tmp_path / "data" / "searches" / "finished" / "project" / "search.json",
                unfinished / "project")
    shutil.copy(tmp_path / "data" / "searches" / "finished" / "request.json", unfinished)
    # And one that was cancelled (the runner noted it in its folder).
    cancelled = tmp_path / "data" / "searches" / "cancelled"
    shutil.copytree(unfinished, cancelled)
    (cancelled / "ended.json").write_text('{"state": "CANCELLED", "error": null}')
    refused = evokt("store", "rebuild", "--data-dir", data_dir)
    assert refused.returncode == 2 and "is sound" in refused.stderr
    damage(data_dir)

    served = subprocess.run(
        [EVOKT, "serve", "--port", str(free_port()), "--data-dir", data_dir],
        capture_output=True, text=True, timeout=120, env={**os.environ, "EVOKT_API_TOKEN": TOKEN})
    assert served.returncode == 2
    assert "Traceback" not in served.stderr
    assert f"the job store {data_dir}/{STORE_FILE} is damaged" in served.stderr
    assert "evokt store rebuild" in served.stderr

    checked = evokt("store", "check", "--data-dir", data_dir)
    assert checked.returncode == 1 and "not a database" in checked.stdout

    rebuilt = evokt("store", "rebuild", "--data-dir", data_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 datasets, 1 model versions and 3 searches (1 resume" in rebuilt.stdout
    assert [name for name in os.listdir(data_dir) if ".damaged-" in name]
    assert evokt("store", "check", "--data-dir", data_dir).returncode == 0

    store = JobStore(data_dir)
    assert store.dataset(dataset["id"])["rows"] == 150
    finished = store.search("finished")
    assert finished["state"] == "SUCCEEDED" and finished["model_version"] == 1
    assert finished["best_trial"] == before["best_trial"]
    assert [(t["trial_id"], t["status"], t["hyperparameters"]) for t in store.trials("finished")] \
        == [(t["trial_id"], t["status"], t["hyperparameters"]) for t in trials_before]
    # The trials' metrics epoch by epoch, read again from their trial.json files.
    assert store.histories("finished") == histories_before and histories_before
    assert store.model_version("iris-model")["metadata"]["search_id"] == "finished"
    assert store.search("unfinished")["state"] == "RUNNING"
    assert store.search("cancelled")["state"] == "CANCELLED"

    with running_runner(data_dir):
        resumed = wait_for_record(store, "unfinished", lambda r: r["state"] != "RUNNING")
    assert resumed["state"] == "SUCCEEDED", resumed["error"]
    assert resumed["trials_done"] == 2 and resumed["model_version"] == 2
