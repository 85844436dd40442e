"""Trials' metrics epoch by epoch: read from KerasTuner's trials for the job
store, and shown by the API.

The search process stores each epoch as its oracle records it
(`JobStore.record_epoch`), and a trial's whole history again when it ends, as
KerasTuner's `trial.metrics` holds it (which is also what `evokt store rebuild`
reads). The API shows every trial's `epochs_done` (the epochs its model has
trained, a promoted trial's parent's included), the epoch a trial stopped
early was stopped after, and on request its `history`. Epochs count from 0,
as KerasTuner's steps do: a trial "stopped at epoch 3 of 20" has
`stopped_epoch` 2 and `epochs_done` 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from keras_tuner.engine import trial as trial_module

from evokt.oracles.early_stopping import recorded_epochs
from evokt.service.store import STOPPED_TRIAL
from evokt.service.store import JobStore

Epochs = Mapping[int, Mapping[str, float | None]]


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """`metrics` as floats, None for a value that is not a finite number (a loss
    that diverged to NaN): JSON has no NaN."""
    finite = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        finite[name] = number if math.isfinite(number) else None
    return finite


def trial_epochs(trial: trial_module.Trial) -> dict[int, dict[str, float | None]]:
    """A KerasTuner trial's metrics by epoch, from its `trial.metrics`.

    Args:
        trial: The trial; each metric observation's step is its epoch.

    Returns:
        Epoch -> metric -> value (the mean of the epoch's observations, as
        KerasTuner averages a trial's executions), in the order of the epochs.
    """
    epochs: dict[int, dict[str, float]] = {}
    for name, epoch, value in recorded_epochs(trial):
        epochs.setdefault(epoch, {})[name] = value
    return {epoch: finite_metrics(epochs[epoch]) for epoch in sorted(epochs)}


def history_view(epochs: Epochs) -> dict[str, list[float | None]]:
    """A trial's history as the API shows it: metric -> its value at each epoch
    from 0 to the last recorded, None where an epoch lacks it (the epochs a
    promoted trial's parent trained, a metric not measured at every epoch)."""
    order = sorted(epochs)
    names = dict.fromkeys(name for epoch in order for name in epochs[epoch])
    length = order[-1] + 1 if order else 0
    return {name: [epochs[epoch].get(name) if epoch in epochs else None
                   for epoch in range(length)] for name in names}


def trial_views(store: JobStore, search_id: str, running: bool = False,
                history: bool = False) -> list[dict[str, Any]]:
    """A search's trials as the API shows them.

    Args:
        store: The job store.
        search_id: The search.
        running: List the trials still running too (while the search runs).
        history: Give each trial its `history`.

    Returns:
        Each trial's record, with `epochs_done`, `stopped_epoch` (the last
        epoch, from 0 as `history` counts them, of a trial stopped early; else
        None: the same as `evokt.oracles.early_stopping.stopped_epoch`) and,
        with `history`, its `history`.
    """
    trials = store.trials(search_id, running=running)
    done = store.epochs_done(search_id)
    histories = store.histories(search_id) if history else {}
    for trial in trials:
        trial["epochs_done"] = done.get(trial["trial_id"], 0)
        stopped = trial["status"] == STOPPED_TRIAL and trial["epochs_done"] > 0
        trial["stopped_epoch"] = trial["epochs_done"] - 1 if stopped else None
        if history:
            trial["history"] = history_view(histories.get(trial["trial_id"], {}))
    return trials
