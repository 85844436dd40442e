"""Which trials count, and which one is recommended: one definition for evokt.

A trial counts when it completed with a finite score and meets the search's
constraints (upper bounds on metrics such as `params`). A re-evaluation (a
trial of a configuration already tried, declared in the oracle's state) adds
a score to that configuration; it is never recommended itself. The
recommendation is the oracle's own order (`get_best_trials`: evokt's oracles
rank configurations by an estimate from all their evaluations, not by their
luckiest score), and with several objectives the Pareto fronts, each ordered
by the first objective. The export, the progress view,
the results table and the service all follow it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.oracles import pareto
from evokt.oracles.constraints import Constraints
from evokt.oracles.constraints import broken_constraints


def reevaluations_in(state: Mapping) -> dict[str, str]:
    """Re-evaluation trial id -> the id of its configuration's first trial.

    Read from an oracle's state (`oracle.get_state()`, or the project's saved
    `oracle.json`), where evokt's oracles declare every re-evaluation; empty
    for KerasTuner's oracles, which never re-evaluate.

    Args:
        state: An oracle's state.
    """
    return dict(state.get("reevaluations", {}))


def has_score(trial: trial_module.Trial) -> bool:
    """Whether a trial completed with a usable (finite) score."""
    return (
        trial.status == trial_module.TrialStatus.COMPLETED
        and trial.score is not None
        and math.isfinite(trial.score)
    )


def informs_search(trial: trial_module.Trial) -> bool:
    """Whether a trial's score may guide the search: it completed, or it was stopped early
    (`STOPPED`, scored by its best value before the stop), with a finite score."""
    return (
        trial.status in (trial_module.TrialStatus.COMPLETED, trial_module.TrialStatus.STOPPED)
        and trial.score is not None
        and math.isfinite(trial.score)
    )


def violations(trial: trial_module.Trial, constraints: Constraints) -> list[str]:
    """The constraints a trial breaks, in words ("params 120000 > 50000");
    a metric it did not record breaks its constraint."""
    return broken_constraints(
        {metric: pareto.metric_at_best_step(trial, metric)
         for metric in (constraints or {}) if trial.metrics.exists(metric)}, constraints)


def is_feasible(trial: trial_module.Trial, constraints: Constraints) -> bool:
    return not violations(trial, constraints)


def recommended_trials(
    oracle: keras_tuner.Oracle, constraints: Constraints = None
) -> list[trial_module.Trial]:
    """The scored, feasible trials in the oracle's order of recommendation."""
    ranked = [trial for trial in oracle.get_best_trials(len(oracle.trials))
              if has_score(trial) and is_feasible(trial, constraints)]
    objectives = pareto.objectives_of(oracle.objective)
    if len(objectives) > 1:
        return [trial for front in pareto.trial_fronts(ranked, objectives) for trial in front]
    return ranked


def best_scored_trial(
    oracle: keras_tuner.Oracle, constraints: Constraints = None
) -> trial_module.Trial | None:
    """The recommended trial, or None while no trial has a score (and meets the
    constraints)."""
    recommended = recommended_trials(oracle, constraints)
    return recommended[0] if recommended else None
