"""A full disk: predictions and reads go on, writes get 507, searches pause and resume.

Most tests fill a real 20 MB tmpfs that the test mounts (root can, as on CI),
skipped with the reason where mounting is not allowed; the others set the
free-space floor above the free space, or inject the error a full disk raises.
"""

import errno
import json
import os
import shutil
import subprocess

import keras
import pytest
from service_helpers import AUTH
from service_helpers import make_app
from service_helpers import register_iris_model
from service_helpers import running_runner
from service_helpers import wait_for_record
from test_service_api import upload_iris

from evokt import GeneticSearch
from evokt.hypermodels.data import load_builtin
from evokt.search.errors import DiskFullError
from evokt.search.errors import is_disk_full
from evokt.search.observe import SearchObserver
from evokt.search.observe import observed
from evokt.search.spec import SearchSpec
from evokt.service.store import JobStore

IRIS_ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


@pytest.fixture
def small_disk(tmp_path):
    """A 20 MB tmpfs of the test's own, unmounted at the end."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk, leave: int = 0) -> str:
    """Fills `disk` but `leave` bytes; returns the filler file to remove."""
    filler = os.path.join(disk, "filler")
    with open(filler, "ab") as file:
        while shutil.disk_usage(disk).free > leave:
            chunk = min(1 << 20, shutil.disk_usage(disk).free - leave)
            try:
                file.write(b"\0" * max(chunk, 1))
                file.flush()
            except OSError:
                break
    return filler


def left_in(folder: str) -> list[str]:
    return os.listdir(folder) if os.path.isdir(folder) else []


def test_below_the_floor_writes_get_507_and_predictions_and_reads_go_on(tmp_path):
    data_dir = str(tmp_path / "data")
    floor = shutil.disk_usage(tmp_path).free + 2**30
    app = make_app(data_dir, MIN_FREE_BYTES=floor)
    client = app.test_client()
    register_iris_model(app)
    uploaded = upload_iris(client, tmp_path)
    assert uploaded.status_code == 507
    assert "EVOKT_MIN_FREE_BYTES" in uploaded.json["error"]
    assert not left_in(os.path.join(data_dir, "datasets"))
    searched = client.post("/v1/searches", json={"dataset": "iris"}, headers=AUTH)
    assert searched.status_code == 507
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503 and "bytes free" in ready.json["error"]
    assert client.get("/v2/health/live").status_code == 200
    assert client.post("/v1/models/iris:predict", json=IRIS_ROW, headers=AUTH).status_code == 200
    assert client.get("/v1/searches", headers=AUTH).json == {"searches": []}


def test_an_upload_that_would_cross_the_floor_is_refused_before_it_is_read(tmp_path):
    data_dir = str(tmp_path / "data")
    app = make_app(data_dir, MIN_FREE_BYTES=shutil.disk_usage(tmp_path).free - 1000)
    refused = upload_iris(app.test_client(), tmp_path)
    assert refused.status_code == 507
    assert "more bytes" in refused.json["error"]


def test_a_full_disk_gives_507_for_uploads_and_searches_not_500(small_disk, tmp_path):
    data_dir = str(small_disk / "data")
    # No floor: the writes themselves meet the full disk (SQLite's "database or
    # disk is full", the upload's ENOSPC).
    app = make_app(data_dir, MIN_FREE_BYTES=0)
    client = app.test_client()
    register_iris_model(app)
    assert client.post("/v1/models/iris:predict", json=IRIS_ROW, headers=AUTH).status_code == 200
    fill(small_disk)
    searched = client.post("/v1/searches", json={"dataset": "iris"}, headers=AUTH)
    assert searched.status_code == 507, searched.json
    assert searched.json["error"].startswith("the data directory's disk is full")
    uploaded = upload_iris(client, tmp_path)
    assert uploaded.status_code == 507, uploaded.json
    assert not left_in(os.path.join(data_dir, "datasets"))
    assert client.post("/v1/models/iris:predict", json=IRIS_ROW, headers=AUTH).status_code == 200
    assert client.get("/v1/searches", headers=AUTH).status_code == 200
    assert client.get("/v1/models/iris", headers=AUTH).status_code == 200


def test_a_search_pauses_on_a_full_disk_and_resumes_with_exactly_max_trials(small_disk, tmp_path):
    data_dir = str(small_disk / "data")
    store = JobStore(data_dir)
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=6, epochs=2)
    store.add_search("paused", spec.to_dict(), "iris", "iris-model", max_pending=10)
    floor = 4 * 2**20
    with running_runner(data_dir, env={"EVOKT_MIN_FREE_BYTES": str(floor)}) as runner:
        wait_for_record(store, "paused", lambda r: r["trials_done"] >= 1)
        filler = fill(small_disk, leave=floor // 2)
        paused = wait_for_record(store, "paused", lambda r: (r["error"] or "").startswith(
            "paused"), timeout=120)
        assert paused["state"] == "RUNNING"
        assert runner.poll() is None
        os.remove(filler)
        done = wait_for_record(store, "paused", lambda r: r["state"] != "RUNNING")
    assert done["state"] == "SUCCEEDED", done["error"]
    assert done["error"] is None and done["restarts"] == 0
    trials = store.trials("paused")
    assert len(trials) == 6 and all(trial["status"] == "COMPLETED" for trial in trials)
    assert [version["version"] for version in store.model_versions("iris-model")] == [1]



def test_the_errors_a_full_disk_raises_are_recognised_through_their_causes():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as error:
            raise RuntimeError("could not save the checkpoint") from error
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    assert is_disk_full(OSError("Unable to synchronously create file (errno = 28)"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("bad value"))


def test_a_trial_that_hits_a_full_disk_stops_the_search_and_runs_again_on_resume(tmp_path):
    iris = load_builtin("iris")
    builds = []

    def build(hp):
        builds.append(hp.Int("units", 4, 64))
        if len(builds) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp["units"]),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def tuner():
        return observed(GeneticSearch)(
            build, objective="val_accuracy", max_trials=3, seed=1, directory=str(tmp_path),
            project_name="full", overwrite=False, observer=SearchObserver())

    data = (iris.x_train, iris.y_train)
    fit = {"validation_data": (iris.x_val, iris.y_val), "epochs": 1, "verbose": 0}
    with pytest.raises(DiskFullError, match="the disk is full"):
        tuner().search(*data, **fit)
    with open(tmp_path / "full" / "oracle.json") as file:
        ongoing = json.load(file)["ongoing_trials"]
    # The first trial (KerasTuner's first build declares the space) was interrupted,
    # and is left running, not recorded as failed.
    assert list(ongoing.values()) == ["0"]
    resumed = tuner()
    resumed.search(*data, **fit)
    trials = resumed.oracle.trials.values()
    assert [trial.status for trial in trials] == ["COMPLETED"] * 3
