"""KerasTuner's documented patterns, run with evokt's tuners and oracles as
with KerasTuner's own `RandomSearch`: the same trial count, the same
statuses, the same errors (`contract_helpers` runs both).

This module: hyperparameters declared in `run_trial` with no hypermodel, the
errors KerasTuner raises in the first trial, what `run_trial` may return,
evokt's measures of a model (never failing a trial that would complete), and
where evokt differs on purpose (re-evaluations of an exhausted space).
Models, compile overrides and objectives: `test_keras_tuner_contract_models`."""

from __future__ import annotations

import copy
import json
import threading
import warnings

import keras
import keras_tuner
import pytest
from contract_helpers import EVOKT_ORACLES
from contract_helpers import EVOKT_SEARCHES
from contract_helpers import FIT
from contract_helpers import TRIALS
from contract_helpers import X
from contract_helpers import Y
from contract_helpers import assert_same_as_random_search
from contract_helpers import build_sequential
from contract_helpers import build_subclassed
from contract_helpers import outcome
from contract_helpers import subclass

from evokt import GeneticHyperband
from evokt import GeneticSearch
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from evokt.oracles.measures import ModelMeasures
from evokt.oracles.measures import measure_model

# -- Hyperparameters declared in `run_trial`, no hypermodel ------------------------------------

def quadratic(self, trial, *args, **kwargs):
    x = trial.hyperparameters.Float("x", -2.0, 2.0)
    return (x - 0.5) ** 2


def test_a_space_declared_in_run_trial_runs_every_trial(tmp_path):
    def make(cls, directory):
        return subclass(cls, quadratic)(max_trials=3, seed=1, directory=directory)

    reference = assert_same_as_random_search(tmp_path, make)
    assert reference == (["COMPLETED"] * 3, None)


@pytest.mark.parametrize("oracle", sorted(EVOKT_ORACLES))
def test_evokt_oracles_run_a_run_trial_space_in_a_plain_keras_tuner_tuner(tmp_path, oracle):
    tuner = subclass(keras_tuner.Tuner, quadratic)(
        oracle=EVOKT_ORACLES[oracle](objective=None, max_trials=4, seed=2),
        directory=tmp_path, project_name=oracle)
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert [trial.status for trial in trials] == ["COMPLETED"] * 4
    # The first proposal is the empty configuration; `x` is then in the space.
    assert all("x" in trial.hyperparameters.values for trial in trials)
    best = tuner.get_best_hyperparameters(1)[0].values["x"]
    assert min(abs(trial.hyperparameters.values["x"] - 0.5) for trial in trials) == \
        pytest.approx(abs(best - 0.5))


def test_the_first_proposal_of_an_empty_space_is_the_empty_configuration(tmp_path):
    for name, oracle_class in EVOKT_ORACLES.items():
        oracle = oracle_class(objective=None, max_trials=3, seed=0)
        oracle._set_project_dir(str(tmp_path), name)
        trial = oracle.create_trial("tuner0")
        assert (trial.status, trial.hyperparameters.values) == ("RUNNING", {}), name


def test_genetic_hyperband_runs_a_run_trial_space_where_keras_tuners_hyperband_runs_none(
        tmp_path):
    def run_trial(self, trial, *args, **kwargs):
        return (trial.hyperparameters.Float("x", -2.0, 2.0) - 0.5) ** 2

    # KerasTuner 1.4.8's Hyperband tests its first random values with `if
    # values:`, the mistake evokt's oracles made: the empty configuration
    # counts as none, and no trial runs.
    assert outcome(lambda: subclass(keras_tuner.Hyperband, run_trial)(
        max_epochs=2, factor=2, seed=1, directory=tmp_path / "kt")) == ([], None)
    statuses, error = outcome(lambda: subclass(GeneticHyperband, run_trial)(
        max_epochs=2, factor=2, max_epochs_budget=6, seed=1, directory=tmp_path / "evokt"))
    assert error is None and len(statuses) >= 3 and set(statuses) == {"COMPLETED"}


@pytest.mark.parametrize("returned", ["a string", None, [0.5, "a string"]])
def test_a_bad_run_trial_result_raises_keras_tuners_error_in_the_first_trial(tmp_path, returned):
    def run_trial(self, trial, *args, **kwargs):
        trial.hyperparameters.Float("x", -2.0, 2.0)
        return returned

    def make(cls, directory):
        return subclass(cls, run_trial)(max_trials=3, directory=directory)

    statuses, error = assert_same_as_random_search(tmp_path, make)
    assert error[0] == "FatalTypeError" and len(statuses) == 1


def test_a_build_that_returns_no_model_raises_as_in_keras_tuner(tmp_path):
    def make(cls, directory):
        return cls(lambda hp: None, objective="val_loss", max_trials=2, directory=directory)

    statuses, error = assert_same_as_random_search(tmp_path, make, X, Y, **FIT)
    assert error[0] == "FatalTypeError" and "valid Keras Model" in error[1]


class UncopyableCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


def test_a_callback_that_cannot_be_copied_raises_as_in_keras_tuner(tmp_path):
    with pytest.raises(TypeError):
        copy.deepcopy(UncopyableCallback())

    def make(cls, directory):
        return cls(build_sequential, objective="val_loss", max_trials=2, directory=directory)

    statuses, error = assert_same_as_random_search(
        tmp_path, make, X, Y, callbacks=[UncopyableCallback()], **FIT)
    assert error[0] == "FatalValueError" and "deep-copyable" in error[1]


def test_a_tuner_without_hypermodel_or_run_trial_is_refused_at_construction(tmp_path):
    def make(cls, directory):
        return cls(max_trials=2, directory=directory)

    statuses, error = assert_same_as_random_search(tmp_path, make)
    assert statuses is None and error[0] == "ValueError" and "hypermodel=None" in error[1]
    with pytest.raises(ValueError, match="hypermodel=None"):
        GeneticHyperband(max_epochs=2, directory=tmp_path / "gh")


# -- What `run_trial` returns ------------------------------------------------------------------

def fitted_history(trial) -> keras.callbacks.History:
    model = build_sequential(trial.hyperparameters)
    return model.fit(X, Y, epochs=1, validation_data=(X, Y), verbose=0)


RESULTS = {
    "float": lambda trial: float(trial.hyperparameters.Float("x", -2.0, 2.0) ** 2),
    "dict": lambda trial: {"val_loss": trial.hyperparameters.Float("x", -2.0, 2.0) ** 2,
                           "other": 1.0},
    "history": fitted_history,
    "list": lambda trial: [{"val_loss": trial.hyperparameters.Float("x", -2.0, 2.0) ** 2}] * 2,
}


@pytest.mark.parametrize("kind", sorted(RESULTS))
def test_run_trial_may_return_what_keras_tuner_accepts(tmp_path, kind):
    def run_trial(self, trial, *args, **kwargs):
        return RESULTS[kind](trial)

    objective = None if kind == "float" else "val_loss"

    def make(cls, directory):
        return subclass(cls, run_trial)(objective=objective, max_trials=TRIALS, seed=7,
                                        directory=directory)

    assert assert_same_as_random_search(tmp_path, make) == (["COMPLETED"] * TRIALS, None)


def test_without_an_objective_run_trial_returns_the_value_to_minimize(tmp_path):
    def make(cls, directory):
        return subclass(cls, quadratic)(max_trials=3, seed=8, directory=directory)

    assert assert_same_as_random_search(tmp_path, make) == (["COMPLETED"] * 3, None)
    tuner = make(GeneticSearch, tmp_path / "genetic")
    assert tuner.oracle.objective.name == "default_objective"
    assert tuner.oracle.objective.direction == "min"




# -- evokt's measures never fail a trial that would complete --------------------------------

def test_a_measure_that_cannot_be_taken_is_left_out_with_one_warning_per_search(tmp_path):
    tuner = GeneticSearch(build_subclassed, objective="val_accuracy", max_trials=3, seed=9,
                          directory=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner.search(X, Y, **FIT)
    left_out = [str(warning.message) for warning in caught
                if "leaves 'model_bytes' out" in str(warning.message)]
    assert len(left_out) == 1 and "get_config" in left_out[0]
    for trial in tuner.oracle.trials.values():
        assert trial.status == "COMPLETED"
        assert not trial.metrics.exists("model_bytes")
        assert trial.metrics.exists("params") and trial.metrics.exists("latency_ms")


@pytest.mark.parametrize("needs", ["objective", "constraint"])
def test_a_measure_the_search_needs_fails_the_trial_saying_why(tmp_path, needs):
    kwargs = ({"objective": ["val_accuracy", keras_tuner.Objective("model_bytes", "min")]}
              if needs == "objective" else
              {"objective": "val_accuracy", "constraints": {"model_bytes": 1e6}})
    tuner = GeneticSearch(build_subclassed, max_trials=2, seed=10, directory=tmp_path,
                          max_consecutive_failed_trials=2, **kwargs)
    with pytest.raises(RuntimeError, match="consecutive failures"):
        tuner.search(X, Y, **FIT)
    for trial in tuner.oracle.trials.values():
        assert trial.status == "FAILED"
        assert "cannot measure this model's 'model_bytes'" in trial.message
        assert "objective or a constraint" in trial.message


def test_a_model_with_two_inputs_has_no_latency_and_the_reason_says_why():
    first, second = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([first, second],
                        keras.layers.Dense(1)(keras.layers.Concatenate()([first, second])))
    measures, missing = measure_model(model)
    assert missing == {"latency_ms": "it needs a model with one input tensor"}
    assert measures["params"] == 6 and measures["model_bytes"] > 0


def test_the_measures_callback_shares_what_it_warned_across_copies():
    warned: set[str] = set()
    callback = ModelMeasures({"params"}, warned)
    copied = copy.deepcopy(callback)
    assert copied is not callback and copied.warned is warned
    assert copied.required == {"params"} and copied.measures is None


# -- Where evokt differs on purpose ------------------------------------------------------------

def test_an_exhausted_space_is_reevaluated_where_random_search_stops(tmp_path):
    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        return float(hp.Choice("a", [1, 2]) + hp.Choice("b", [10, 20]))

    random_search = subclass(keras_tuner.RandomSearch, run_trial)(
        max_trials=14, seed=11, directory=tmp_path / "random")
    random_search.search()
    assert len(random_search.oracle.trials) == 4
    # evokt spends what is left of its re-evaluation share (15 % of 14 trials:
    # 2) on the best configurations, then stops: 6 trials.
    reevaluations = int(DEFAULT_REEVALUATION_SHARE * 14)
    for name, cls in EVOKT_SEARCHES.items():
        tuner = subclass(cls, run_trial)(max_trials=14, seed=11, directory=tmp_path / name)
        tuner.search()
        trials = tuner.oracle.trials.values()
        assert len(trials) == 4 + reevaluations == 6, name
        assert len({json.dumps(t.hyperparameters.values, sort_keys=True) for t in trials}) == 4
        assert len(tuner.oracle.reevaluations()) == reevaluations, name
        assert {t.status for t in trials} == {"COMPLETED"}, name
