"""Helpers for the dashboard's browser tests and benchmark: Debian's headless
Chromium through Selenium, and searches with many synthetic trials."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import time
from typing import Any

import numpy as np

from evokt.search.spec import SearchSpec
from evokt.service.store import SUCCEEDED
from evokt.service.store import JobStore

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A phone's width and a laptop's, in CSS pixels.
PHONE = (390, 844)
LAPTOP = (1366, 900)
# Chromium stays off the network but for the service under test on 127.0.0.1.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def missing_browser() -> str | None:
    """Why no browser test can run here, or None when they can."""
    if importlib.util.find_spec("selenium") is None:
        return "the selenium package is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return (f"{path} is missing: install Debian's {package} "
                    "(apt-get install chromium chromium-driver)")
    return None


def start_chromium(user_data_dir: str, size: tuple[int, int] = LAPTOP):
    """Headless Chromium with a fresh profile, driven by Debian's chromedriver.

    Args:
        user_data_dir: An empty directory for the browser's profile.
        size: The window's width and height in CSS pixels.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    # The page's console (script errors, refused policy violations) for the tests to read.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The explicit driver path keeps Selenium Manager from looking for one online.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_window_size(*size)
    return driver


def synthetic_history(score: float, epochs: int, rng: np.random.Generator) -> dict[int, dict]:
    """Learning curves of `epochs` epochs that rise to about `score` (`val_accuracy`
    and `accuracy`) while the losses fall, each at its own pace, with a little noise."""
    pace = rng.uniform(0.08, 0.5)
    start = rng.uniform(0.2, 0.4)
    history = {}
    for epoch in range(epochs):
        reached = 1 - math.exp(-pace * (epoch + 1))
        accuracy = min(0.999, max(0.01, start + (score - start) * reached + rng.normal(0, 0.004)))
        history[epoch] = {
            "val_accuracy": round(accuracy, 4),
            "accuracy": round(min(0.999, accuracy + 0.03 * reached), 4),
            "val_loss": round(-math.log(accuracy), 4),
            "loss": round(-math.log(min(0.999, accuracy + 0.03 * reached)), 4),
        }
    return history


def synthetic_trials(count: int, seed: int = 0, epochs: int = 0) -> list[dict[str, Any]]:
    """`count` trials of an MLP-like space with conditional layers.

    Each trial has `num_layers` from 1 to 3 and, for each layer it has, a
    width and an activation (the others are inactive: missing), a dropout
    rate, a learning rate on a log scale and a batch-norm switch. About 2% fail
    and have no score.

    With `epochs`, each trial that did not fail has a `history` (epoch ->
    metrics, see `synthetic_history`), and about half of the worst fifth were
    stopped early (`STOPPED` after an epoch in the first third, their score
    the best value by then).
    """
    rng = np.random.default_rng(seed)
    width = len(str(count - 1))
    start = time.time() - count
    trials = []
    for number in range(count):
        layers = int(rng.integers(1, 4))
        values: dict[str, Any] = {"num_layers": layers}
        for layer in range(layers):
            values[f"units_{layer}"] = int(2 ** rng.integers(4, 9))
            values[f"activation_{layer}"] = str(rng.choice(["relu", "tanh", "gelu"]))
        values["dropout"] = round(float(rng.integers(0, 6)) / 10, 1)
        values["learning_rate"] = float(10 ** rng.uniform(-4, -1))
        values["batch_norm"] = bool(rng.integers(0, 2))
        failed = rng.random() < 0.02
        quality = (0.96 - abs(layers - 2) * 0.05
                   - abs(math.log10(values["learning_rate"]) + 2.5) * 0.04
                   - values["dropout"] * 0.1 + rng.normal(0, 0.02))
        trial = {
            "trial_id": str(number).zfill(width),
            "status": "FAILED" if failed else "COMPLETED",
            "score": None if failed else round(min(0.999, max(0.05, quality)), 4),
            "hyperparameters": values,
            "message": "ValueError: synthetic failure" if failed else None,
            "ended": start + number,
        }
        if epochs and not failed:
            trial["history"] = synthetic_history(trial["score"], epochs, rng)
            if quality < 0.837 and rng.random() < 0.5:
                last = int(rng.integers(1, max(2, epochs // 3)))
                trial["history"] = {epoch: trial["history"][epoch] for epoch in range(last + 1)}
                trial["status"] = "STOPPED"
            trial["score"] = max(metrics["val_accuracy"] for metrics in trial["history"].values())
        trials.append(trial)
    return trials


def add_synthetic_search(
    store: JobStore, search_id: str, count: int, seed: int = 0, oracle: str = "genetic",
    epochs: int = 0,
) -> list[dict]:
    """A SUCCEEDED search with `count` synthetic trials, stored trial by trial
    through the job store's own `record_trial`, as a search process stores them.

    Call it before the runner starts: the search is PENDING for a moment.

    Args:
        store: The job store.
        search_id: The new search's id.
        count: How many trials.
        seed: Seeds the trials' values and scores.
        oracle: The oracle the search names (nothing runs it).
        epochs: The epochs of each trial's history (see `synthetic_trials`); 0 for none.

    Returns:
        The trials.
    """
    spec = SearchSpec(dataset="iris", hypermodel="mlp", oracle=oracle, max_trials=count,
                      epochs=epochs or 1)
    store.add_search(search_id, spec.to_dict(), "iris", f"synthetic-{search_id}", max_pending=1_000)
    trials = synthetic_trials(count, seed, epochs)
    best = None
    for done, trial in enumerate(trials, start=1):
        # As KerasTuner's, the best is a completed trial, never one stopped early.
        if trial["status"] == "COMPLETED" and (best is None or trial["score"] > best["score"]):
            best = trial
        store.record_trial(search_id, trial, {
            "trials_done": done, "objective": "val_accuracy", "direction": "max",
            "objectives": [{"name": "val_accuracy", "direction": "max"}],
            "best_score": best and best["score"], "best_trial": best and best["trial_id"],
            "best_hyperparameters": best and best["hyperparameters"],
        }, epochs=trial.get("history"))
    store.set_state(search_id, SUCCEEDED, started=trials[0]["ended"] - 1,
                    finished=trials[-1]["ended"])
    return trials


def fresh_profile(root: str, name: str) -> str:
    """An empty browser profile directory under `root`."""
    path = os.path.join(root, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path



def console_errors(browser, expected: tuple[int, ...] = (401,)) -> list[str]:
    """The page's errors logged since the last call: script errors and anything the
    Content-Security-Policy refused, less refused requests of the `expected` statuses."""
    return [entry["message"] for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE"
            and not any(f"status of {status}" in entry["message"] for status in expected)]
