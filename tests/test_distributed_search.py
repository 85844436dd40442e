"""Chief and workers as real processes on 127.0.0.1, over KerasTuner's gRPC."""

import json
import os
import signal
import subprocess
import time

import keras
import pytest
from helpers import EVOKT
from helpers import assert_every_epoch_once
from helpers import trial_statuses

from evokt.search.distributed import free_port
from evokt.search.layout import WORKERS_FILE


def assert_complete_without_duplicates(project, max_trials):
    statuses = trial_statuses(project)
    assert len(statuses) == max_trials
    assert all(status == "COMPLETED" for status, _, _ in statuses.values())
    assert len({values for _, _, values in statuses.values()}) == max_trials


def environment_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as file:
        pairs = [entry.split(b"=", 1) for entry in file.read().split(b"\0") if b"=" in entry]
    return {key.decode(): value.decode() for key, value in pairs}


def test_local_workers_finish_a_genetic_search_and_the_chief_exports_the_best(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    # Two GPUs as the chief sees them (none here: TensorFlow trains on the CPU).
    search = subprocess.Popen(
        [EVOKT, "search", "--dataset", "digits", "--max-trials", "6",
         "--epochs", "3", "--workers", "2", "--option", "population_size=2",
         "--project-dir", str(project), "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "3,5"})
    try:
        seen, deadline = {}, time.monotonic() + 120
        while len(seen) < 2 and time.monotonic() < deadline and search.poll() is None:
            try:
                records = json.loads((project / WORKERS_FILE).read_text())["workers"]
                seen = {record["id"]: (environment_of(record["pid"]), record["gpus"])
                        for record in records}
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        _, stderr = search.communicate(timeout=300)
    finally:
        if search.poll() is None:
            search.kill()
    assert search.returncode == 0, stderr[-3000:]
    # Each worker process saw its own GPU, and the token came in its environment.
    assert {worker: (env["CUDA_VISIBLE_DEVICES"], gpus) for worker, (env, gpus) in seen.items()
            } == {"worker0": ("3", ["3"]), "worker1": ("5", ["5"])}
    assert all("TF_FORCE_GPU_ALLOW_GROWTH" not in env for env, _ in seen.values())
    token = (project / "chief.token").read_text().strip()
    assert all(env["EVOKT_CHIEF_TOKEN"] == token for env, _ in seen.values())
    assert_complete_without_duplicates(project, 6)
    # Each epoch went to the chief's oracle over gRPC as it ended.
    assert_every_epoch_once(project, 3)
    # Both workers trained trials (each saves its own tuner state); trials of
    # several seconds leave neither worker without one.
    assert (project / "worker0.json").exists() and (project / "worker1.json").exists()
    assert "(6 of 6)" in stderr
    model = keras.saving.load_model(str(output / "model.keras"), safe_mode=True)
    assert model.output_shape == (None, 10)


def test_a_worker_killed_mid_trial_does_not_stop_the_search(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    port = free_port()
    chief = subprocess.Popen(
        [EVOKT, "search", "--dataset", "digits", "--max-trials", "5", "--epochs", "3",
         "--chief", "--listen", f"127.0.0.1:{port}", "--trial-timeout", "15",
         "--project-dir", str(project), "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    workers = [
        subprocess.Popen([EVOKT, "worker", "--chief", f"127.0.0.1:{port}", "--project-dir",
                          str(project), "--tuner-id", f"remote{i}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = trial_statuses(project).values() if project.exists() else []
            running = [status for status, _, _ in statuses]
            if running.count("RUNNING") >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the workers never ran two trials at once")
        workers[0].send_signal(signal.SIGKILL)  # it holds one of the running trials
        workers[0].wait()
        _, stderr = chief.communicate(timeout=240)
        assert chief.returncode == 0, stderr[-3000:]
        assert workers[1].wait(60) == 0
    finally:
        for process in [chief, *workers]:
            if process.poll() is None:
                process.kill()
    assert_complete_without_duplicates(project, 5)
    # The killed worker's trial, trained again elsewhere, holds its second run's epochs only.
    assert_every_epoch_once(project, 3)
    assert (output / "model.keras").exists()
