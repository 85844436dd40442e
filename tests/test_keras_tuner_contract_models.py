"""KerasTuner's documented patterns for the models themselves, with evokt's
tuners as with KerasTuner's `RandomSearch`: functional, `Sequential` and
subclassed models, compile overrides, several executions per trial, a
`tf.data.Dataset`, and every way of giving the objective (see
`test_keras_tuner_contract` for spaces declared in `run_trial`, errors and
evokt's measures)."""

from __future__ import annotations

import warnings

import keras
import keras_tuner
import pytest
import tensorflow as tf
from contract_helpers import FIT
from contract_helpers import TRIALS
from contract_helpers import X
from contract_helpers import Y
from contract_helpers import assert_same_as_random_search
from contract_helpers import build_functional
from contract_helpers import build_sequential
from contract_helpers import build_subclassed
from contract_helpers import compiled
from contract_helpers import dense_layers

from evokt import GeneticHyperband
from evokt import GeneticSearch

# -- Models, compile overrides, executions, data --------------------------------------------

@pytest.mark.parametrize("build", [build_sequential, build_functional, build_subclassed],
                         ids=["sequential", "functional", "subclassed"])
def test_every_kind_of_keras_model_completes_and_reloads(tmp_path, build):
    def make(cls, directory):
        return cls(build, objective="val_accuracy", max_trials=TRIALS, seed=3,
                   directory=directory)

    assert assert_same_as_random_search(tmp_path, make, X, Y, **FIT) == (["COMPLETED"] * TRIALS,
                                                                          None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tuner = GeneticSearch(build, objective="val_accuracy", max_trials=TRIALS, seed=3,
                              directory=tmp_path / "genetic")
    model = tuner.get_best_models(1)[0]
    assert model(X[:3]).shape == (3, 1)
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.metrics.get_last_value("params") == model.count_params()
    assert best.metrics.exists("latency_ms")


def test_a_subclassed_model_is_promoted_from_its_parents_checkpoint(tmp_path):
    tuner = GeneticHyperband(build_subclassed, objective="val_accuracy", max_epochs=2,
                             factor=2, max_epochs_budget=5, seed=3, directory=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tuner.search(X, Y, validation_data=(X, Y), verbose=0)
    trials = list(tuner.oracle.trials.values())
    promoted = [trial for trial in trials if trial.hyperparameters.values.get("tuner/trial_id")]
    assert promoted and {trial.status for trial in trials} == {"COMPLETED"}
    assert tuner.get_best_models(1)[0](X[:2]).shape == (2, 1)


@pytest.mark.parametrize("override", [
    {"optimizer": "adam_instance"},
    {"loss": "mean_squared_error"},
    {"metrics": ["auc_instance"]},
], ids=["optimizer", "loss", "metrics"])
def test_compile_overrides_complete_every_trial(tmp_path, override):
    def make(cls, directory):
        kwargs = dict(override)
        if "optimizer" in kwargs:
            kwargs["optimizer"] = keras.optimizers.Adam(learning_rate=0.01)
        if "metrics" in kwargs:
            kwargs["metrics"] = [keras.metrics.AUC(name="auc")]
        objective = "val_auc" if "metrics" in kwargs else "val_loss"
        return cls(build_functional, objective=objective, max_trials=TRIALS, seed=4,
                   directory=directory, **kwargs)

    assert assert_same_as_random_search(tmp_path, make, X, Y, **FIT) == (["COMPLETED"] * TRIALS,
                                                                          None)


def test_executions_per_trial_average_as_in_keras_tuner(tmp_path):
    tuner = GeneticSearch(build_sequential, objective="val_accuracy", max_trials=TRIALS,
                          executions_per_trial=2, seed=5, directory=tmp_path)
    tuner.search(X, Y, **FIT)
    trials = list(tuner.oracle.trials.values())
    assert [trial.status for trial in trials] == ["COMPLETED"] * TRIALS
    assert all(trial.metrics.exists("params") for trial in trials)
    reference = keras_tuner.RandomSearch(build_sequential, objective="val_accuracy",
                                         max_trials=TRIALS, executions_per_trial=2, seed=5,
                                         directory=tmp_path / "random")
    reference.search(X, Y, **FIT)
    assert len(reference.oracle.trials) == len(trials)


def test_a_tf_data_dataset_searches(tmp_path):
    train = tf.data.Dataset.from_tensor_slices((X, Y)).batch(16)

    def make(cls, directory):
        return cls(build_functional, objective="val_loss", max_trials=TRIALS, seed=6,
                   directory=directory)

    assert assert_same_as_random_search(
        tmp_path, make, train, epochs=1, validation_data=train, verbose=0) == (
        ["COMPLETED"] * TRIALS, None)


# -- How the objective is given ---------------------------------------------------------------

OBJECTIVES = {
    "string": "val_accuracy",
    "objective": keras_tuner.Objective("val_auc", "max"),
    "list": ["val_accuracy", keras_tuner.Objective("val_loss", "min")],
    # KerasTuner infers the direction from the metric's name.
    "metric name": "val_auc",
}


@pytest.mark.parametrize("given", sorted(OBJECTIVES))
def test_objectives_are_given_as_keras_tuner_takes_them(tmp_path, given):
    def build(hp):
        return compiled(keras.Sequential([keras.Input((4,)), *dense_layers(hp)]),
                        metrics=["accuracy", keras.metrics.AUC(name="auc")])

    def make(cls, directory):
        return cls(build, objective=OBJECTIVES[given], max_trials=TRIALS, seed=8,
                   directory=directory)

    assert assert_same_as_random_search(tmp_path, make, X, Y, **FIT) == (
        ["COMPLETED"] * TRIALS, None)
    tuner = make(GeneticSearch, tmp_path / "genetic")
    assert tuner.get_best_hyperparameters(1)[0].values.keys() == {"units"}
