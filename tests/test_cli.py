"""The `evokt` console script, run as a real subprocess."""

import json
import signal
import subprocess
import time

import keras
import numpy as np
import pytest
from helpers import EVOKT
from helpers import assert_every_epoch_once
from helpers import epoch_histories
from helpers import evokt
from helpers import iris_rows
from helpers import trial_statuses
from helpers import write_csv

from evokt.hypermodels import data


def test_search_on_digits_writes_a_model_that_scores_what_best_json_says(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    result = evokt("search", "--dataset", "digits", "--max-trials", "2", "--epochs", "1",
                   "--project-dir", str(project), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "Best trials by val_accuracy (max)" in result.stdout
    assert "trial 1 (2 of 2)" in result.stderr  # progress, one line per trial off a terminal
    best = json.loads((output / "best.json").read_text())
    assert best["strategy"] == "genetic" and best["data"]["input_shape"] == [8, 8, 1]
    assert best["data"]["class_labels"] == list(range(10))
    model = keras.saving.load_model(str(output / "model.keras"), safe_mode=True)
    digits = data.load_builtin("digits", seed=0)
    probabilities = model.predict(digits.x_val, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == digits.y_val))
    assert accuracy == pytest.approx(best["score"], abs=1e-6)

    summary = evokt("summary", str(project))
    assert summary.returncode == 0, summary.stderr
    assert "genetic search on digits: 2 of 2 trials ended (2 completed)" in summary.stdout


def test_search_on_a_csv_predicts_from_raw_rows(tmp_path):
    path = write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
    result = evokt("search", "--csv", path, "--target", "species", "--oracle", "random",
                   "--max-trials", "2", "--epochs", "2", "--project-dir", str(tmp_path / "s"),
                   "--output", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    best = json.loads((tmp_path / "m" / "best.json").read_text())
    assert best["data"]["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert best["data"]["feature_names"] == ["sl", "sw", "pl", "pw"]
    model = keras.saving.load_model(str(tmp_path / "m" / "model.keras"), safe_mode=True)
    raw = np.array([row[:4] for row in iris_rows()], dtype="float32")
    assert model.predict(raw, verbose=0).shape == (150, 3)


def test_a_search_killed_mid_trial_resumes_to_exactly_max_trials(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    args = ["search", "--dataset", "digits", "--max-trials", "4", "--epochs", "3",
            "--project-dir", str(project), "--output", str(output)]
    process = subprocess.Popen([EVOKT, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            statuses = trial_statuses(project) if project.exists() else {}
            completed = [tid for tid, (status, _, _) in statuses.items() if status == "COMPLETED"]
            running = [tid for tid, (status, _, _) in statuses.items() if status == "RUNNING"]
            if completed and running:
                break
            assert process.poll() is None, "the search ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the search never had a completed and a running trial")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before, histories = trial_statuses(project), epoch_histories(project)

    incomplete = evokt("search", "--project-dir", str(project), "--output", str(output))
    assert incomplete.returncode == 2 and "pass --resume" in incomplete.stderr

    resumed = evokt(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = trial_statuses(project)
    assert len(after) == 4
    assert all(status == "COMPLETED" for status, _, _ in after.values())
    assert len({values for _, _, values in after.values()}) == 4, (before, after)
    for trial_id, (status, score, values) in before.items():
        if status == "COMPLETED":
            assert after[trial_id] == (status, score, values)
            assert epoch_histories(project)[trial_id] == histories[trial_id]
    # The killed trial's partial history was replaced by its re-run's, not averaged with it.
    assert_every_epoch_once(project, 3)
    assert (output / "model.keras").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["search", "--csv", "{tmp}/none.csv", "--target", "y"], "none.csv: no such file"),
        (["search", "--csv", "{tmp}/bad.csv", "--target", "label"], "no target column 'label'"),
        (["search", "--csv", "{tmp}/text.csv", "--target", "y"], "column 'x' is not numeric"),
        (["search", "--csv", "{tmp}/nan.csv", "--target", "y"], "missing value in column 'x'"),
        (["search", "--csv", "{tmp}/few.csv", "--target", "y"], "too few rows (3)"),
        (["search", "--csv", "{tmp}/one.csv", "--target", "y"], "one class only"),
        (["search", "--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["search", "--max-trials", "0"], "max_trials: must be an integer from 1"),
        (["search", "--option", "population_size"], "expected KEY=VALUE"),
        (["search", "--initial-hps", "{tmp}/none.json"], "--initial-hps"),
        (["search", "--resume", "--project-dir", "{tmp}/empty"], "no evokt search here"),
        (["search", "--objective", "val_auc"], "objective: 'val_auc' is not reported"),
        (["search", "--hypermodel", "cnn", "--dataset", "iris"],
         "the cnn hypermodel needs (height, width, channels) images"),
        (["search", "--oracle", "random", "--option", "population_size=4"],
         "takes no option population_size"),
        (["summary", "{tmp}"], "no evokt search here"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2_without_traceback(tmp_path, args, message):
    write_csv(tmp_path / "bad.csv", ["x", "y"], [[i, i % 2] for i in range(20)])
    write_csv(tmp_path / "text.csv", ["x", "y"], [["abc", 0]] + [[i, i % 2] for i in range(20)])
    write_csv(tmp_path / "nan.csv", ["x", "y"], [[i, i % 2] for i in range(20)] + [["", 0]])
    write_csv(tmp_path / "few.csv", ["x", "y"], [[i, i % 2] for i in range(3)])
    write_csv(tmp_path / "one.csv", ["x", "y"], [[i, 1] for i in range(20)])
    (tmp_path / "empty").mkdir()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    if args[0] == "search" and "--project-dir" not in args:
        args += ["--project-dir", str(tmp_path / "p")]
    result = evokt(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("evokt: error:")
    assert not (tmp_path / "p" / "oracle.json").exists()


def test_help_explains_every_option():
    result = evokt("search", "--help")
    assert result.returncode == 0
    for option in ["--dataset", "--csv", "--target", "--npz", "--hypermodel", "--oracle",
                   "--max-trials", "--epochs", "--objective", "--seed", "--project-dir",
                   "--output", "--resume", "--option", "--initial-hps"]:
        assert option in result.stdout
    assert "genetic: aging evolution" in result.stdout
