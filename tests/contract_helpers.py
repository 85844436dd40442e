"""What the KerasTuner contract tests share: tiny data, model builders of
every kind, and a search's outcome run beside KerasTuner's `RandomSearch`."""

from __future__ import annotations

import keras
import keras_tuner
import numpy as np

from evokt import GeneticOracle
from evokt import GeneticSearch
from evokt import GreedyOracle
from evokt import GreedySearch

TRIALS = 2
EVOKT_SEARCHES = {"genetic": GeneticSearch, "greedy": GreedySearch}
EVOKT_ORACLES = {"genetic": GeneticOracle, "greedy": GreedyOracle}

RNG = np.random.default_rng(0)
X = RNG.random((48, 4)).astype("float32")
Y = (X.sum(axis=1) > 2).astype("int32")
FIT = {"epochs": 1, "validation_data": (X, Y), "verbose": 0}


def dense_layers(hp: keras_tuner.HyperParameters) -> list[keras.layers.Layer]:
    return [keras.layers.Dense(hp.Int("units", 2, 16, step=2, sampling="log"), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid")]


def compiled(model: keras.Model, metrics=("accuracy",)) -> keras.Model:
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=list(metrics))
    return model


def build_sequential(hp: keras_tuner.HyperParameters) -> keras.Model:
    return compiled(keras.Sequential([keras.Input((4,)), *dense_layers(hp)]))


def build_functional(hp: keras_tuner.HyperParameters) -> keras.Model:
    inputs = keras.Input((4,))
    outputs = inputs
    for layer in dense_layers(hp):
        outputs = layer(outputs)
    return compiled(keras.Model(inputs, outputs))


class SubclassedModel(keras.Model):
    """A model written as a class: no `inputs`, no `get_config`."""

    def __init__(self, units: int):
        super().__init__()
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def build_subclassed(hp: keras_tuner.HyperParameters) -> keras.Model:
    return compiled(SubclassedModel(hp.Int("units", 2, 16, step=2, sampling="log")))


def describe(error: BaseException) -> tuple[str, str]:
    return type(error).__name__, str(error)


def outcome(make_tuner, *search_args, **search_kwargs) -> tuple[list[str] | None, tuple | None]:
    """What a search does: its trials' statuses in order, and the error it
    raised (type name and message), if any (statuses None if construction
    raised)."""
    try:
        tuner = make_tuner()
    except Exception as error:
        return None, describe(error)
    try:
        tuner.search(*search_args, **search_kwargs)
        error = None
    except Exception as raised:
        error = describe(raised)
    trials = sorted(tuner.oracle.trials.values(), key=lambda trial: int(trial.trial_id))
    return [trial.status for trial in trials], error


def assert_same_as_random_search(tmp_path, make, *search_args, **search_kwargs):
    """Runs `make(SearchClass, directory)`'s search with `RandomSearch` and
    with each evokt search, asserts the outcomes are the same, and returns it.
    """
    reference = outcome(lambda: make(keras_tuner.RandomSearch, tmp_path / "random"),
                        *search_args, **search_kwargs)
    for name, cls in EVOKT_SEARCHES.items():
        result = outcome(lambda cls=cls, name=name: make(cls, tmp_path / name),
                         *search_args, **search_kwargs)
        assert result == reference, name
    return reference


def subclass(base: type, run_trial) -> type:
    """A user's tuner: `base` with its own `run_trial`."""
    return type(f"User{base.__name__}", (base,), {"run_trial": run_trial})
