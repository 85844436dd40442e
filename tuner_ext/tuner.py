"""`EvolutionarySearch`: what evokt's tuners add to `keras_tuner.Tuner`."""

from __future__ import annotations

import time
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

# Longest pause between two requests of a worker that was told IDLE.
MAX_IDLE_WAIT = 2.0


class EvolutionarySearch(keras_tuner.Tuner):
    """A `keras_tuner.Tuner` that waits, instead of spinning, when told IDLE.

    KerasTuner's search loop asks again at once after an IDLE answer. evokt's
    oracles answer IDLE only at the end of a parallel search, while other
    workers finish the last trials; this tuner then waits, 0.1 s doubling to
    2 s, between requests. It keeps its state on the tuner, so it works
    on workers, which reach the oracle through KerasTuner's gRPC client.

    Args:
        oracle: The oracle.
        hypermodel: The hypermodel.
        **kwargs: Keyword arguments of `keras_tuner.Tuner`.
    """

    def __init__(self, oracle: keras_tuner.Oracle, hypermodel: Any = None, **kwargs: Any):
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self._requests_since_trial = 0

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        if self._requests_since_trial:
            time.sleep(min(MAX_IDLE_WAIT, 0.1 * 2 ** (self._requests_since_trial - 1)))
        self._requests_since_trial += 1

    def on_trial_begin(self, trial: trial_module.Trial) -> None:
        self._requests_since_trial = 0
        super().on_trial_begin(trial)
