"""Trial-level hooks on any KerasTuner tuner, for progress displays.

KerasTuner calls `Tuner.on_trial_begin` and `on_trial_end` around every
trial, whatever the oracle; `observed()` makes a subclass of a tuner class
that also tells a `SearchObserver`, so the CLI's progress bar and the
service's job store see every strategy the same way. Each epoch an evokt
tuner reports reaches the observer from the oracle (see
`evokt.oracles.early_stopping`).

The subclass also stops the search when the disk is full: KerasTuner would
record a trial whose checkpoint could not be written as failed and go on to
fail the next ones, spending the budget on a disk problem. Instead the search
stops with `DiskFullError`, its running trial left running in the oracle's
state, so a resumed search runs it again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.search.errors import DiskFullError
from evokt.search.errors import is_disk_full


class SearchObserver:
    """Receives a search's trial events; override what you need."""

    def search_started(self, oracle: keras_tuner.Oracle) -> None:
        """Called once as the search (or its resumption) begins, its oracle loaded."""

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        """Called when a trial starts training; raising `DiskFullError` stops the search."""

    def epoch_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial, epoch: int,
                    metrics: dict[str, float]) -> None:
        """Called when the oracle has recorded a trial's metrics of one epoch (and decided
        whether the trial stops early: `trial.status` is then `STOPPED`).

        Args:
            oracle: The search's oracle (the chief's, for a distributed search).
            trial: The oracle's trial, its history (`trial.metrics`) up to `epoch`.
            epoch: The epoch, from 0 (a promoted trial's continue its parent's).
            metrics: What was reported for it.
        """

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        """Called when the oracle has recorded a trial's end."""

    def search_ended(self, oracle: keras_tuner.Oracle) -> None:
        """Called once when every trial has ended (not when the search stops with an error)."""


class _DiskFullInTrial(DiskFullError, keras_tuner.errors.FatalError):
    """`DiskFullError` as KerasTuner's `FatalError`, which its trial loop lets through."""

    def __init__(self, message: str):
        super().__init__(f"the disk is full: {message}")


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
            reports = getattr(self.oracle, "epoch_reports", None)
            if reports is not None:
                reports.add_listener(functools.partial(observer.epoch_ended, self.oracle))

        def on_search_begin(self) -> None:
            super().on_search_begin()
            self.observer.search_started(self.oracle)

        def on_trial_begin(self, trial: trial_module.Trial) -> None:
            super().on_trial_begin(trial)
            self.observer.trial_started(self.oracle, trial)

        def run_trial(self, trial: trial_module.Trial, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().run_trial(trial, *args, **kwargs)
            except Exception as error:
                if is_disk_full(error):
                    raise _DiskFullInTrial(str(error)) from error
                raise

        def on_trial_end(self, trial: trial_module.Trial) -> None:
            try:
                super().on_trial_end(trial)
            except OSError as error:
                if is_disk_full(error):
                    raise DiskFullError(f"the disk is full: {error}") from error
                raise
            self.observer.trial_ended(self.oracle, trial)

    Observed.__name__ = Observed.__qualname__ = f"Observed{tuner_class.__name__}"
    return Observed


class ObserverGroup(SearchObserver):
    """Several observers as one: each hook tells each of them, in order.

    Args:
        observers: The observers; None entries are left out.
    """

    def __init__(self, observers: Sequence[SearchObserver | None]):
        self.observers = [observer for observer in observers if observer is not None]

    def search_started(self, oracle: keras_tuner.Oracle) -> None:
        for observer in self.observers:
            observer.search_started(oracle)

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        for observer in self.observers:
            observer.trial_started(oracle, trial)

    def epoch_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial, epoch: int,
                    metrics: dict[str, float]) -> None:
        for observer in self.observers:
            observer.epoch_ended(oracle, trial, epoch, metrics)

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        for observer in self.observers:
            observer.trial_ended(oracle, trial)

    def search_ended(self, oracle: keras_tuner.Oracle) -> None:
        for observer in self.observers:
            observer.search_ended(oracle)
