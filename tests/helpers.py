"""Helpers the test modules share: data files, the `evokt` command, trials on disk."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np

from evokt.hypermodels import data

EVOKT = os.path.join(os.path.dirname(sys.executable), "evokt")


def write_csv(path, header, rows) -> str:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def iris_rows() -> list[list]:
    """The 150 iris rows with their species names, as a CSV would hold them."""
    iris = data.load_builtin("iris")
    names = ["setosa", "versicolor", "virginica"]
    x = np.concatenate([iris.x_train, iris.x_val])
    y = np.concatenate([iris.y_train, iris.y_val])
    return [[*map(float, row), names[label]] for row, label in zip(x, y, strict=True)]


def evokt(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """Runs the installed `evokt` command and captures its output."""
    return subprocess.run(
        [EVOKT, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def saved_trials(project_dir) -> list[dict]:
    """Each trial.json of a KerasTuner project on disk, by trial folder."""
    trials = []
    for name in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            with open(path) as file:
                trials.append(json.load(file))
    return trials


def trial_statuses(project_dir) -> dict[str, tuple]:
    """trial id -> (status, score, values as JSON) of a KerasTuner project on disk."""
    return {trial["trial_id"]: (trial["status"], trial["score"],
                                json.dumps(trial["hyperparameters"]["values"], sort_keys=True))
            for trial in saved_trials(project_dir)}


def epoch_histories(project_dir, metric: str = "val_accuracy") -> dict[str, list]:
    """trial id -> [(epoch, [values])] of `metric`, as each trial.json on disk holds it."""
    return {trial["trial_id"]: [
        (observation["step"], observation["value"]) for observation in
        trial["metrics"]["metrics"].get(metric, {}).get("observations", [])]
        for trial in saved_trials(project_dir)}


def assert_every_epoch_once(project_dir, epochs: int) -> None:
    """Every trial recorded each of its `epochs` epochs once: one value per epoch, none
    averaged with a run cut short."""
    for trial_id, history in epoch_histories(project_dir).items():
        assert [step for step, _ in history] == list(range(epochs)), (trial_id, history)
        assert all(len(values) == 1 for _, values in history), (trial_id, history)
