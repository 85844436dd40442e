"""Intermediate results: each epoch's metrics in the oracle, and early stopping of bad trials.

KerasTuner 1.4.8 reports a trial to its oracle once, when it ends
(`Tuner.on_epoch_end` is empty, and `Oracle.update_trial` leaves early
stopping as a TODO). evokt's tuners report every epoch
(`update_trial(trial_id, metrics, step=epoch)`, locally or over gRPC to a
chief), so a trial's history is in the oracle's state (`trial.metrics`, one
observation per epoch, saved in its `trial.json`) and survives a resume.

`install_epoch_reports` adds two things to any oracle, KerasTuner's or
evokt's, on the process that holds it (the chief of a distributed search):

- a report of an epoch at or before the last one recorded for a trial starts
  its history anew: the trial is being trained again (a lost worker's trial,
  or a running trial resumed after a crash), and KerasTuner would average the
  two runs' values of each epoch;
- an optional stopping rule (`MedianStopping`): a trial it stops is marked
  `STOPPED` in the answer to the report, its tuner stops training it, and it
  ends `STOPPED` with its best value so far as its score. KerasTuner's
  `get_best_trials` and evokt's recommendations only take `COMPLETED` trials,
  so a trial cut short is never recommended over fully trained ones; evokt's
  evolutionary oracles still breed from what it showed.
"""

from __future__ import annotations

import math
import statistics
import types
from collections.abc import Callable
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt import compat
from evokt.oracles.pareto import objectives_of

TrialStatus = trial_module.TrialStatus
# A listener of recorded epochs: (trial, epoch, metrics).
EpochListener = Callable[[trial_module.Trial, int, dict], None]


class MedianStopping:
    """The median stopping rule (Golovin et al. 2017, Optuna's `MedianPruner`).

    A trial is stopped after epoch `e` when its best objective value by `e`
    is worse than the median of the completed trials' values at `e`, once it
    has trained `min_epochs` epochs and at least `min_trials` completed trials
    reached epoch `e`.

    Args:
        min_epochs: Epochs a trial trains before it may be stopped.
        min_trials: Completed trials needed at an epoch before any trial is
            stopped there.
    """

    name = "median"

    def __init__(self, min_epochs: int = 3, min_trials: int = 5):
        if min_epochs < 1 or min_trials < 1:
            raise ValueError(f"`min_epochs` and `min_trials` must be at least 1, got "
                             f"{min_epochs} and {min_trials}.")
        self.min_epochs = min_epochs
        self.min_trials = min_trials

    def should_stop(self, trial: trial_module.Trial, epoch: int,
                    trials: list[trial_module.Trial], objective: keras_tuner.Objective) -> bool:
        """Whether `trial` stops after `epoch`.

        Args:
            trial: The running trial, its history up to `epoch` recorded.
            epoch: The epoch just recorded.
            trials: Every trial of the search (the completed ones count).
            objective: The objective, with its direction.
        """
        history = _values(trial, objective.name)
        trained = [step for step in history if step <= epoch]
        if len(trained) < self.min_epochs:
            return False
        others = [values[epoch] for other in trials
                  if other.status == TrialStatus.COMPLETED and other.trial_id != trial.trial_id
                  and epoch in (values := _values(other, objective.name))]
        if len(others) < self.min_trials:
            return False
        sign = 1 if objective.direction == "min" else -1
        best = min(sign * history[step] for step in trained)
        return best > sign * statistics.median(others)


# The rules by name: `evokt.oracles.defaults.EARLY_STOPPING_RULES`, for the CLI and the service.
RULES: dict[str, type[MedianStopping]] = {rule.name: rule for rule in (MedianStopping,)}


def stopping_rule(early_stopping: str | MedianStopping | None) -> MedianStopping | None:
    """The rule `early_stopping` names (`"median"`), itself if it is a rule, or None.

    Raises:
        ValueError: An unknown name.
    """
    if early_stopping is None or not isinstance(early_stopping, str):
        return early_stopping
    if early_stopping not in RULES:
        raise ValueError(f"`early_stopping` must be one of {', '.join(RULES)}, got "
                         f"{early_stopping!r}.")
    return RULES[early_stopping]()


def _values(trial: trial_module.Trial, name: str) -> dict[int, float]:
    """A trial's finite values of metric `name`, by epoch."""
    if not trial.metrics.exists(name):
        return {}
    return {int(observation.step): observation.mean()
            for observation in trial.metrics.get_history(name)
            if math.isfinite(observation.mean())}


class ReportEpochs(keras.callbacks.Callback):
    """Reports each epoch to the oracle of a plain `keras_tuner.Tuner`, as evokt's tuners do.

    `tuner.search(..., callbacks=[ReportEpochs(tuner)])`: each epoch's
    metrics go to `tuner.oracle.update_trial(trial_id, metrics, step=epoch)`,
    and training stops when the oracle stops the trial (with an evokt oracle
    and `install_epoch_reports(oracle, MedianStopping())`, say). The trial is
    the one the oracle runs for this tuner, so the oracle must be in this
    process (evokt's own tuners also report over gRPC). KerasTuner then skips
    its own report at the trial's end, with its warning that reporting from
    `run_trial` is deprecated.

    Args:
        tuner: The tuner whose search this callback is given to.
    """

    def __init__(self, tuner: keras_tuner.Tuner):
        super().__init__()
        self.tuner = tuner

    def __deepcopy__(self, memo: dict) -> ReportEpochs:
        # KerasTuner copies the callbacks for each trial: the copy shares the tuner.
        return ReportEpochs(self.tuner)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        trial = self.tuner.oracle.ongoing_trials.get(self.tuner.tuner_id)
        if trial is not None and report_epoch(self.tuner.oracle, trial.trial_id, epoch, logs):
            self.model.stop_training = True


def report_epoch(oracle: keras_tuner.Oracle, trial_id: str, epoch: int,
                 logs: dict | None) -> bool:
    """Reports one epoch's metrics to the oracle; whether it stopped the trial.

    Nothing is reported when the logs lack an objective (one that `run_trial`
    computes, say): KerasTuner's report at the trial's end is then the only one.

    Args:
        oracle: The oracle, or a worker's client of the chief's.
        trial_id: The trial.
        epoch: The epoch that ended, from 0.
        logs: What Keras gives `on_epoch_end`.
    """
    metrics = numeric_metrics(logs or {})
    if not {objective.name for objective in objectives_of(oracle.objective)} <= set(metrics):
        return False
    # With several objectives, KerasTuner scores by their `multi_objective` sum.
    metrics.setdefault(oracle.objective.name, oracle.objective.get_value(metrics))
    return oracle.update_trial(trial_id, metrics, step=epoch).status == TrialStatus.STOPPED


class EpochReports:
    """What `install_epoch_reports` added to an oracle: its rule and its listeners.

    Args:
        rule: The stopping rule, or None.
        exempt: Whether a trial is never stopped (re-evaluations, which keep
            their own rules); by default none is.
    """

    def __init__(self, rule: MedianStopping | None,
                 exempt: Callable[[str], bool] = lambda trial_id: False):
        self.rule = rule
        self.exempt = exempt
        self.listeners: list[EpochListener] = []
        # Trials the rule stopped: they end STOPPED whatever their tuner says.
        self.stopped: set[str] = set()

    def add_listener(self, listener: EpochListener) -> None:
        """Calls `listener(trial, epoch, metrics)` after each recorded epoch, with the oracle's
        lock held (queue the call for another thread if it may be slow)."""
        self.listeners.append(listener)


def install_epoch_reports(oracle: keras_tuner.Oracle,
                          rule: MedianStopping | None = None) -> EpochReports:
    """Makes `oracle` keep each trial's epochs apart from a re-run's and apply `rule`.

    Installed once per oracle object: a second call returns the first one's
    `EpochReports`, with `rule` set if given.

    Args:
        oracle: The oracle, in the process that holds its state.
        rule: A stopping rule, or None to only record.

    Returns:
        The oracle's `EpochReports` (also `oracle.epoch_reports`).
    """
    existing = getattr(oracle, "epoch_reports", None)
    if existing is not None:
        existing.rule = rule or existing.rule
        return existing
    reevaluations = getattr(oracle, "reevaluations", None)
    reports = EpochReports(rule, exempt=(lambda trial_id: trial_id in reevaluations())
                           if reevaluations else lambda trial_id: False)
    recorded = oracle.update_trial
    ended = oracle.end_trial

    @compat.synchronized
    def update_trial(self: keras_tuner.Oracle, trial_id: str, metrics: dict,
                     step: int = 0) -> trial_module.Trial:
        trial = self.trials[trial_id]
        if trial.status == TrialStatus.RUNNING and _last_step(trial) >= step:
            # Trained again from the start (or from a promotion's first epoch).
            trial.metrics = type(trial.metrics)()
            reports.stopped.discard(trial_id)
        trial = recorded(trial_id, metrics, step=step)
        if (trial.status == TrialStatus.RUNNING and reports.rule is not None
                and not reports.exempt(trial_id)
                and len(objectives_of(self.objective)) == 1
                and reports.rule.should_stop(trial, int(step), list(self.trials.values()),
                                             self.objective)):
            trial.status = TrialStatus.STOPPED
            reports.stopped.add(trial_id)
            self._save_trial(trial)
        for listener in reports.listeners:
            listener(trial, int(step), dict(metrics))
        return trial

    @compat.synchronized
    def end_trial(self: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        if trial.trial_id in reports.stopped and trial.status == TrialStatus.COMPLETED:
            # Its tuner trained it to the stop and called that complete.
            trial.status = TrialStatus.STOPPED
        if trial.status == TrialStatus.STOPPED and trial.trial_id not in self.end_order:
            # KerasTuner scores COMPLETED trials only: the best value before the stop,
            # set before the trial ends so that what the end updates sees it.
            self.score_trial(self.trials[trial.trial_id])
        ended(trial)

    oracle.update_trial = types.MethodType(update_trial, oracle)
    oracle.end_trial = types.MethodType(end_trial, oracle)
    oracle.epoch_reports = reports
    return reports


def recorded_epochs(trial: trial_module.Trial) -> list[tuple[str, int, float]]:
    """(metric, epoch, value) of every observation the oracle holds of a trial: each
    epoch, or only the end for a trial reported once (cross-validation). The value is
    the mean of the epoch's observations, as KerasTuner averages executions.

    Args:
        trial: The oracle's trial.
    """
    return [(name, int(observation.step), float(observation.mean()))
            for name, history in trial.metrics.metrics.items()
            for observation in history.get_history()]


def _last_step(trial: trial_module.Trial) -> int:
    """The last epoch recorded for a trial, or -1."""
    return max((epoch for _, epoch, _ in recorded_epochs(trial)), default=-1)


def stopped_epoch(trial: trial_module.Trial) -> int | None:
    """The last epoch a `STOPPED` trial trained (from 0), or None for any other trial.

    Args:
        trial: A trial of an oracle.
    """
    if trial.status != TrialStatus.STOPPED:
        return None
    return _last_step(trial)


def numeric_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """An epoch's logs with the numbers only, as floats (Keras logs hold tensors and NumPy
    values).

    Args:
        logs: What Keras gives `on_epoch_end`.
    """
    numbers = {}
    for name, value in logs.items():
        try:
            numbers[name] = float(value)
        except (TypeError, ValueError):
            continue
    return numbers
