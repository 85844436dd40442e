"""Chief and workers as real processes on 127.0.0.1, over KerasTuner's gRPC."""

import signal
import subprocess
import time

import keras
import pytest
from helpers import EVOKT
from helpers import trial_statuses

from evokt.search.distributed import free_port


def assert_complete_without_duplicates(project, max_trials):
    statuses = trial_statuses(project)
    assert len(statuses) == max_trials
    assert all(status == "COMPLETED" for status, _, _ in statuses.values())
    assert len({values for _, _, values in statuses.values()}) == max_trials


def test_local_workers_finish_a_genetic_search_and_the_chief_exports_the_best(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    result = subprocess.run(
        [EVOKT, "search", "--dataset", "digits", "--max-trials", "6",
         "--epochs", "3", "--workers", "2", "--option", "population_size=2",
         "--project-dir", str(project), "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete_without_duplicates(project, 6)
    # Both workers trained trials (each saves its own tuner state); trials of
    # several seconds leave neither worker without one.
    assert (project / "worker0.json").exists() and (project / "worker1.json").exists()
    assert "(6 of 6)" in result.stderr
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
    assert (output / "model.keras").exists()
