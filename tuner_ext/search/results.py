"""Reading a search's trials from its project directory, and the results table.

Trials are read from KerasTuner's own `trial_*/trial.json` files, so a table
can be printed for a finished, running or interrupted search, of any
strategy, without building a tuner.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

import keras_tuner
from keras_tuner.engine import trial as trial_module
from rich.table import Table

from tuner_ext.oracles.pareto import objective_value
from tuner_ext.oracles.pareto import pareto_front
from tuner_ext.oracles.pareto import trial_fronts
from tuner_ext.oracles.trials import Constraints
from tuner_ext.oracles.trials import has_score
from tuner_ext.oracles.trials import is_feasible

# Hyperparameters shown first in a table row: the ones that shape the network.
_STRUCTURE_FIRST = ("num_layers", "num_blocks")


def load_trials(project_dir: str) -> list[trial_module.Trial]:
    """All trials saved in a KerasTuner project directory, by trial id."""
    paths = glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))
    trials = [trial_module.Trial.load(path) for path in paths]
    return sorted(trials, key=lambda trial: trial.trial_id)


def rank_trials(
    trials: Sequence[trial_module.Trial],
    objectives: Sequence[keras_tuner.Objective],
    constraints: Constraints = None,
) -> list[trial_module.Trial]:
    """Scored trials that meet the constraints, best first: by score for one
    objective, front by front (each by the first objective) for several."""
    scored = [trial for trial in trials if has_score(trial) and is_feasible(trial, constraints)]
    if len(objectives) > 1:
        return [trial for front in trial_fronts(scored, objectives) for trial in front]
    return sorted(scored, key=lambda trial: trial.score,
                  reverse=objectives[0].direction == "max")


def format_values(values: dict) -> str:
    """Hyperparameter values on one line, the network's shape first."""
    names = [name for name in _STRUCTURE_FIRST if name in values]
    names += [name for name in values if name not in names]
    return "  ".join(f"{name}={_format_value(values[name])}" for name in names)


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def results_table(
    trials: Sequence[trial_module.Trial],
    objectives: Sequence[keras_tuner.Objective],
    top: int | None = 10,
    constraints: Constraints = None,
) -> Table:
    """A table of the best trials: rank, id, objectives, size, latency and
    hyperparameters; with several objectives, the Pareto front's trials are
    marked.

    Args:
        trials: The search's trials.
        objectives: The search's objectives.
        top: How many trials to show; None for all ranked ones.
        constraints: Upper bounds on metrics; trials over them are left out.
    """
    ranked = rank_trials(trials, objectives, constraints)
    front = {trial.trial_id for trial in pareto_front(ranked, objectives)} \
        if len(objectives) > 1 else set()
    names = ", ".join(f"{objective.name} ({objective.direction})" for objective in objectives)
    table = Table(title=f"Best trials by {names}" + (" — * on the Pareto front" if front else ""))
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    for objective in objectives:
        table.add_column(objective.name, justify="right")
    shown_measures = [metric for metric in ("params", "latency_ms")
                      if metric not in {objective.name for objective in objectives}]
    for metric in shown_measures:
        table.add_column(metric, justify="right")
    table.add_column("hyperparameters", overflow="fold")
    for rank, trial in enumerate(ranked[:top], start=1):
        values = [objective_value(trial, objective) for objective in objectives]
        measures = [trial.metrics.get_last_value(metric) if trial.metrics.exists(metric) else None
                    for metric in shown_measures]
        table.add_row(
            f"{rank}{'*' if trial.trial_id in front else ''}", trial.trial_id,
            *(_format_number(value) for value in [*values, *measures]),
            format_values(trial.hyperparameters.values),
        )
    return table


def _format_number(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"


def status_counts(trials: Sequence[trial_module.Trial]) -> dict[str, int]:
    """How many trials are in each status (RUNNING: interrupted or running)."""
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return counts
