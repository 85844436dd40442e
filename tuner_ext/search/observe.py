"""Trial-level hooks on any KerasTuner tuner, for progress displays.

KerasTuner calls `Tuner.on_trial_begin` and `on_trial_end` around every
trial, whatever the oracle; `observed()` makes a subclass of a tuner class
that also tells a `SearchObserver`, so the CLI's progress bar and the
service's job store see every strategy the same way.
"""

from __future__ import annotations

import functools
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module


class SearchObserver:
    """Receives a search's trial events; override what you need."""

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        """Called when a trial starts training."""

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        """Called when the oracle has recorded a trial's end."""


@functools.cache
def observed(tuner_class: type[keras_tuner.Tuner]) -> type[keras_tuner.Tuner]:
    """A subclass of `tuner_class` that takes an `observer=` argument.

    Args:
        tuner_class: Any `keras_tuner.Tuner` subclass.

    Returns:
        The subclass; the same one for the same `tuner_class`.
    """

    class Observed(tuner_class):
        def __init__(self, *args: Any, observer: SearchObserver, **kwargs: Any):
            self.observer = observer
            super().__init__(*args, **kwargs)

        def on_trial_begin(self, trial: trial_module.Trial) -> None:
            super().on_trial_begin(trial)
            self.observer.trial_started(self.oracle, trial)

        def on_trial_end(self, trial: trial_module.Trial) -> None:
            super().on_trial_end(trial)
            self.observer.trial_ended(self.oracle, trial)

    Observed.__name__ = Observed.__qualname__ = f"Observed{tuner_class.__name__}"
    return Observed
