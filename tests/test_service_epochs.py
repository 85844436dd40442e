"""Trials' metrics epoch by epoch in the service: the job store's history (and its
migration), `GET /v1/searches/{id}/trials?history=true`, and the `epoch` events of
a search's stream, from the search process's observer to a real `evokt serve`."""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request
from collections.abc import Iterator

import jsonschema
import keras_tuner
import pytest
from conftest import start_oracle
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import conforms
from service_helpers import make_app
from service_helpers import running_server

from evokt.search.spec import SearchSpec
from evokt.service.epochs import trial_epochs
from evokt.service.epochs import trial_views
from evokt.service.openapi import DOCUMENT
from evokt.service.search_process import StoreObserver
from evokt.service.store import SCHEMA_VERSION
from evokt.service.store import JobStore

EPOCHS = 5


def add_search(store: JobStore, search_id: str, state: str = "RUNNING") -> None:
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=3, epochs=EPOCHS)
    store.add_search(search_id, spec.to_dict(), "iris", "model", max_pending=10)
    store.set_state(search_id, state)


def observed_search(tmp_path) -> tuple[str, JobStore, keras_tuner.Oracle, StoreObserver]:
    """A running search `s1` in a job store, a KerasTuner oracle, and the search
    process's observer: the data directory, the store, the oracle and the observer."""
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    add_search(store, "s1")
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 8, 64, step=8)
    oracle = start_oracle(keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=3,
        hyperparameters=hp, seed=1), str(tmp_path / "project"))
    return data_dir, store, oracle, StoreObserver(store, "s1")


def train(oracle, observer: StoreObserver, epochs: int, stop_after: int | None = None):
    """A trial trained for `epochs` epochs (stopped early after epoch `stop_after`),
    each epoch recorded by the oracle and then told to the observer, as a search does."""
    trial = oracle.create_trial("tuner0")
    observer.trial_started(oracle, trial)
    for epoch in range(epochs):
        metrics = {"val_accuracy": 0.5 + epoch / 20, "loss": 1 / (epoch + 1)}
        oracle.update_trial(trial.trial_id, metrics, step=epoch)
        if epoch == stop_after:
            trial.status = "STOPPED"
        observer.epoch_ended(oracle, trial, epoch, metrics)
        if epoch == stop_after:
            break
    return trial


def end(oracle, observer: StoreObserver, trial) -> None:
    if trial.status == "RUNNING":
        trial.status = "COMPLETED"
    oracle.end_trial(trial)
    observer.trial_ended(oracle, trial)


def test_the_observer_stores_each_epoch_and_the_api_shows_every_trials_history(tmp_path):
    data_dir, store, oracle, observer = observed_search(tmp_path)
    completed = train(oracle, observer, EPOCHS)
    end(oracle, observer, completed)
    stopped = train(oracle, observer, EPOCHS, stop_after=2)
    end(oracle, observer, stopped)
    running = train(oracle, observer, 3)
    client = make_app(data_dir).test_client()

    answer = client.get("/v1/searches/s1/trials?history=true", headers=AUTH)
    assert answer.status_code == 200
    conforms(answer, "/v1/searches/{search_id}/trials", "get")
    views = {trial["trial_id"]: trial for trial in answer.json["trials"]}
    assert views[completed.trial_id]["history"] == {
        "val_accuracy": [0.5 + epoch / 20 for epoch in range(EPOCHS)],
        "loss": [1 / (epoch + 1) for epoch in range(EPOCHS)]}
    # The store holds what KerasTuner's trial holds, epoch by epoch.
    for trial in (completed, stopped, running):
        history = views[trial.trial_id]["history"]
        assert {epoch: {name: values[epoch] for name, values in history.items()}
                for epoch in range(len(history["loss"]))} == trial_epochs(trial)
    assert (views[completed.trial_id]["epochs_done"], views[completed.trial_id]["stopped_epoch"]) \
        == (EPOCHS, None)
    assert views[stopped.trial_id]["status"] == "STOPPED"
    assert (views[stopped.trial_id]["epochs_done"], views[stopped.trial_id]["stopped_epoch"]) \
        == (3, 2)
    assert views[running.trial_id]["status"] == "RUNNING"
    assert views[running.trial_id]["epochs_done"] == 3 and views[running.trial_id]["score"] is None

    # Without ?history the trials carry their epochs, not their histories.
    plain = client.get("/v1/searches/s1/trials", headers=AUTH)
    conforms(plain, "/v1/searches/{search_id}/trials", "get")
    assert all("history" not in trial and "epochs_done" in trial for trial in plain.json["trials"])
    # Only the ended trials count and rank.
    assert [trial["trial_id"] for trial in store.trials("s1")] == sorted(
        [completed.trial_id, stopped.trial_id])
    pareto = client.get("/v1/searches/s1/pareto", headers=AUTH)
    conforms(pareto, "/v1/searches/{search_id}/pareto", "get")

    # Once the search has ended, a trial it left running is not listed.
    store.set_state("s1", "CANCELLED")
    ended = client.get("/v1/searches/s1/trials?history=true", headers=AUTH).json["trials"]
    assert running.trial_id not in {trial["trial_id"] for trial in ended}
    # Deleting the search deletes its epochs.
    assert client.delete("/v1/searches/s1", headers=AUTH).status_code == 200
    assert store.histories("s1") == {} and store.last_epoch_seq("s1") == 0


def test_history_takes_true_or_false_only(tmp_path):
    data_dir = str(tmp_path / "data")
    add_search(JobStore(data_dir), "s1")
    client = make_app(data_dir).test_client()
    assert client.get("/v1/searches/s1/trials?history=false", headers=AUTH).status_code == 200
    refused = client.get("/v1/searches/s1/trials?history=yes", headers=AUTH)
    assert refused.status_code == 400
    assert refused.json == {"error": "history: must be true or false"}


def test_a_trial_trained_again_starts_its_history_anew(tmp_path):
    store = JobStore(str(tmp_path / "data"))
    add_search(store, "s1")
    for epoch in range(4):
        store.record_epoch("s1", "0", {"units": 8}, epoch, {"loss": 1.0 - epoch / 10}, "RUNNING")
    # A resumed process runs it again from epoch 0; its oracle's history starts anew too.
    store.record_epoch("s1", "0", {"units": 8}, 0, {"loss": 2.0}, "RUNNING")
    assert store.histories("s1") == {"0": {0: {"loss": 2.0}}}
    assert store.epochs_done("s1") == {"0": 1}
    # The trial's end writes its history as its oracle holds it.
    store.record_trial("s1", {"trial_id": "0", "status": "COMPLETED", "score": 0.5,
                              "hyperparameters": {"units": 8}},
                       {"trials_done": 1, "objective": "loss", "direction": "min"},
                       epochs={0: {"loss": 2.0}, 1: {"loss": 1.5, "val_loss": None}})
    assert store.histories("s1") == {"0": {0: {"loss": 2.0}, 1: {"loss": 1.5, "val_loss": None}}}


def test_a_restarted_search_forgets_the_trials_its_previous_process_left_running(tmp_path):
    store = JobStore(str(tmp_path / "data"))
    add_search(store, "s1")
    store.record_trial("s1", {"trial_id": "0", "status": "COMPLETED", "hyperparameters": {}},
                       {"trials_done": 1, "objective": "loss", "direction": "min"},
                       epochs={0: {"loss": 1.0}})
    store.start_trial("s1", "1", {"units": 16})
    store.record_epoch("s1", "1", {"units": 16}, 0, {"loss": 1.0}, "RUNNING")
    store.forget_running_trials("s1")
    assert [trial["trial_id"] for trial in store.trials("s1", running=True)] == ["0"]
    assert store.histories("s1") == {"0": {0: {"loss": 1.0}}}


@pytest.mark.filterwarnings("ignore:All-NaN axis encountered")
def test_metrics_that_are_not_finite_numbers_are_stored_as_null(tmp_path):
    data_dir, store, oracle, observer = observed_search(tmp_path)
    trial = oracle.create_trial("tuner0")
    observer.trial_started(oracle, trial)
    oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5, "loss": math.nan}, step=0)
    observer.epoch_ended(oracle, trial, 0, {"val_accuracy": 0.5, "loss": math.nan})
    answer = make_app(data_dir).test_client().get("/v1/searches/s1/trials?history=true",
                                                  headers=AUTH)
    assert b"NaN" not in answer.data
    assert answer.json["trials"][0]["history"] == {"val_accuracy": [0.5], "loss": [None]}


def test_a_store_of_schema_5_gains_the_epochs_and_keeps_its_trials(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    add_search(store, "old", state="SUCCEEDED")
    store.record_trial("old", {"trial_id": "0", "status": "COMPLETED", "score": 0.9,
                               "hyperparameters": {"units": 8}},
                       {"trials_done": 1, "objective": "val_accuracy", "direction": "max"})
    # Back to the schema before the trials' epochs were kept.
    store.connection.execute("DROP TABLE trial_epochs")
    store.connection.execute("PRAGMA user_version = 5")
    store.connection.close()
    migrated = JobStore(data_dir)
    assert migrated.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    (trial,) = trial_views(migrated, "old", history=True)
    assert trial["score"] == 0.9 and trial["epochs_done"] == 0 and trial["history"] == {}
    add_search(migrated, "new")
    migrated.record_epoch("new", "0", {}, 0, {"loss": 1.0}, "RUNNING")
    assert migrated.histories("new") == {"0": {0: {"loss": 1.0}}}


def read_events(response) -> list[tuple[str, dict]]:
    """The (event, data) of a finished Server-Sent Events body."""
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_the_stream_sends_the_running_trials_epochs_then_each_new_one_before_the_end(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    add_search(store, "s1")
    store.record_trial("s1", {"trial_id": "0", "status": "COMPLETED", "hyperparameters": {}},
                       {"trials_done": 1, "objective": "loss", "direction": "min"},
                       epochs={0: {"loss": 1.0}})
    store.start_trial("s1", "1", {})
    store.record_epoch("s1", "1", {}, 0, {"loss": 0.9}, "RUNNING")
    app = make_app(data_dir, EVENTS_POLL_SECONDS=0.05)

    def the_search_goes_on() -> None:
        writer = JobStore(data_dir)
        time.sleep(0.3)
        writer.record_epoch("s1", "1", {}, 1, {"loss": 0.8}, "STOPPED")
        writer.record_trial("s1", {"trial_id": "1", "status": "STOPPED", "hyperparameters": {}},
                            {"trials_done": 2, "objective": "loss", "direction": "min"},
                            epochs={0: {"loss": 0.9}, 1: {"loss": 0.8}})
        writer.set_state("s1", "SUCCEEDED")
        writer.close()

    thread = threading.Thread(target=the_search_goes_on)
    thread.start()
    response = app.test_client().get("/v1/searches/s1/events", headers=AUTH)
    thread.join()
    events = read_events(response)
    epochs = [data for event, data in events if event == "epoch"]
    # The ended trial's epochs are in its history, not replayed; the running one's are.
    assert epochs == [
        {"trial_id": "1", "epoch": 0, "metrics": {"loss": 0.9}, "status": "RUNNING"},
        {"trial_id": "1", "epoch": 1, "metrics": {"loss": 0.8}, "status": "STOPPED"}]
    for data in epochs:
        jsonschema.validate(data, DOCUMENT["components"]["schemas"]["EpochEvent"])
    names = [event for event, _ in events]
    assert names[-1] == "end" and names.index("epoch") < names.index("end")
    assert names.count("epoch") == 2


def stream_events(stream) -> Iterator[tuple[str, dict, float]]:
    """(event, data, when it arrived) of each event of a live Server-Sent Events stream."""
    event = None
    for line in stream:
        if line.startswith(b"event: "):
            event = line[len(b"event: "):].strip().decode()
        elif line.startswith(b"data: ") and event is not None:
            yield event, json.loads(line[len(b"data: "):]), time.monotonic()
            event = None


class StoreWatch(threading.Thread):
    """Notes when each epoch of a search appears in the job store (polling every 20 ms)."""

    def __init__(self, data_dir: str, search_id: str):
        super().__init__(daemon=True)
        self.data_dir, self.search_id = data_dir, search_id
        self.seen: dict[tuple[str, int], float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        store = JobStore(self.data_dir)
        after = 0
        while not self.done.is_set():
            for row in store.epochs(self.search_id, after=after):
                self.seen.setdefault((row["trial_id"], row["epoch"]), time.monotonic())
                after = row["seq"]
            time.sleep(0.02)
        store.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_search_streams_every_epoch_within_a_second_of_its_record(tmp_path, workers):
    """Every epoch of every trial of a real search reaches its event stream, with the
    values its history keeps. The search process records an epoch within 0.2 s of its
    end (its observer is told on the chief's main thread, `workers` 2 included); the
    stream, polling every `EVENTS_POLL_SECONDS` (0.5 by default), sends it within
    0.8 s of that record, so within a second of the epoch's end."""
    with running_server(tmp_path, "--workers", "1", "--threads", "4") as (client, data_dir, _):
        status, search, _ = client.request("POST", "/v1/searches", {
            "dataset": "iris", "hypermodel": "mlp", "max_trials": 2, "epochs": 3,
            "workers": workers, "oracle": "random"})
        assert status == 202, search
        watch = StoreWatch(str(data_dir), search["id"])
        watch.start()
        request = urllib.request.Request(client.base + f"/v1/searches/{search['id']}/events",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        streamed, arrived = {}, {}
        try:
            with urllib.request.urlopen(request, timeout=300) as stream:
                for event, data, when in stream_events(stream):
                    if event == "epoch":
                        streamed[data["trial_id"], data["epoch"]] = data
                        arrived.setdefault((data["trial_id"], data["epoch"]), when)
                    last = (event, data)
        finally:
            watch.done.set()
            watch.join()
        assert last[0] == "end" and last[1]["state"] == "SUCCEEDED", last
        _, trials, _ = client.request("GET", f"/v1/searches/{search['id']}/trials?history=true")
    assert len(trials["trials"]) == 2
    for trial in trials["trials"]:
        assert trial["epochs_done"] == 3 and trial["status"] == "COMPLETED"
        for epoch in range(3):
            stored = {name: values[epoch] for name, values in trial["history"].items()}
            event = streamed[trial["trial_id"], epoch]
            assert event["status"] == "RUNNING"
            assert event["metrics"].items() <= stored.items()
    delays = {key: arrived[key] - watch.seen[key] for key in arrived}
    assert len(delays) == 6 and max(delays.values()) < 0.8, delays
