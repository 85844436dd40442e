"""Shared fixtures: small real search spaces and a loop that drives an oracle
through KerasTuner's own API (`create_trial`, `update_trial`, `end_trial`)."""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner  # noqa: E402
import pytest  # noqa: E402

from evokt.threads import set_tensorflow_threads  # noqa: E402

# The suite runs in two pytest-xdist workers (pyproject's addopts), one per
# core: each trains on one thread.
IN_A_WORKER = bool(os.environ.get("PYTEST_XDIST_WORKER"))
set_tensorflow_threads(1 if IN_A_WORKER else 2)

MAX_LAYERS = 3


def conditional_space() -> keras_tuner.HyperParameters:
    """A finite MLP-like space with conditional per-layer hyperparameters."""
    hp = keras_tuner.HyperParameters()
    hp.Int("num_layers", 1, MAX_LAYERS)
    for i in range(MAX_LAYERS):
        with hp.conditional_scope("num_layers", list(range(i + 1, MAX_LAYERS + 1))):
            hp.Int(f"units_{i}", 16, 256, step=2, sampling="log")
            hp.Choice(f"activation_{i}", ["relu", "tanh"])
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Boolean("batch_norm")
    hp.Fixed("optimizer", "adam")
    return hp


def continuous_space() -> keras_tuner.HyperParameters:
    """The conditional space plus a continuous, log-scaled learning rate."""
    hp = conditional_space()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    return hp


def peak_score(values: dict) -> float:
    """A deterministic score, best (0) at 3 layers of 128 units, dropout 0.2."""
    score = -abs(values["num_layers"] - 3)
    for i in range(values["num_layers"]):
        score -= abs(math.log2(values[f"units_{i}"]) - 7) / 4
    score -= abs(values["dropout"] - 0.2)
    if "learning_rate" in values:
        score -= abs(math.log10(values["learning_rate"]) + 2.5)
    return score


class FakeClock:
    """A `evokt.clock.Clock` that moves only when told to.

    `sleep` moves it too and records the pause, so a test sees how long code
    would have waited without waiting.
    """

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class NoisyScore:
    """`peak_score` plus Gaussian noise, as training with another seed gives.

    The noise comes from one generator consumed call after call, so the same
    sequence of evaluations gets the same scores (a resumed search included,
    when it keeps using the same instance).
    """

    def __init__(self, seed: int = 0, deviation: float = 0.3):
        self.rng = random.Random(seed)
        self.deviation = deviation

    def __call__(self, values: dict) -> float:
        return peak_score(values) + self.rng.gauss(0.0, self.deviation)


def values_key(values: dict) -> str:
    return json.dumps(values, sort_keys=True)


def repeats_outside(trials: list, reevaluations: dict) -> list:
    """Trials whose configuration was tried before and that are not declared
    re-evaluations of that configuration's first trial."""
    first_of: dict = {}
    accidental = []
    for trial in trials:
        key = values_key(trial.hyperparameters.values)
        if key not in first_of:
            first_of[key] = trial.trial_id
        elif reevaluations.get(trial.trial_id) != first_of[key]:
            accidental.append(trial.trial_id)
    return accidental


def start_oracle(oracle: keras_tuner.Oracle, directory: str) -> keras_tuner.Oracle:
    """Points an oracle at a project directory and silences its display."""
    oracle._set_project_dir(directory, "project")
    oracle.verbose = 0
    return oracle


def run_trials(
    oracle: keras_tuner.Oracle,
    count: int,
    score: Callable[[dict], float] = peak_score,
    metric: str = "score",
    status: Callable[[int], str] | None = None,
) -> list:
    """Runs `count` trials one after another; returns the trials started.

    Args:
        status: Optional function of the trial number giving its end status
            (default "COMPLETED").
    """
    trials = []
    for number in range(count):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        trials.append(trial)
        end_status = status(number) if status else "COMPLETED"
        if end_status == "COMPLETED":
            oracle.update_trial(trial.trial_id, {metric: score(trial.hyperparameters.values)})
        trial.status = end_status
        oracle.end_trial(trial)
    return trials


@pytest.fixture
def project_dir(tmp_path) -> str:
    return str(tmp_path)


@pytest.fixture
def app(tmp_path):
    """The service's application on a temporary data directory."""
    from service_helpers import make_app

    return make_app(str(tmp_path / "data"))


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile, shared by a module's browser tests."""
    from browser_helpers import fresh_profile
    from browser_helpers import start_chromium

    driver = start_chromium(fresh_profile(str(tmp_path_factory.mktemp("chromium")), "profile"))
    yield driver
    driver.quit()
