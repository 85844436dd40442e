"""Reading a search's trials from its project directory, and the results table.

Trials are read from KerasTuner's own `trial_*/trial.json` files, and the
re-evaluations from the oracle's saved state (`oracle.json`), so a table can
be printed for a finished, running or interrupted search, of any strategy,
without building a tuner.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence

import keras_tuner
from keras_tuner.engine import trial as trial_module
from rich.table import Table

from evokt.oracles import estimate
from evokt.oracles.constraints import Constraints
from evokt.oracles.pareto import objective_value
from evokt.oracles.pareto import pareto_front
from evokt.oracles.pareto import trial_fronts
from evokt.oracles.trials import has_score
from evokt.oracles.trials import is_feasible
from evokt.oracles.trials import reevaluations_in

# Hyperparameters shown first in a table row: the ones that shape the network.
_STRUCTURE_FIRST = ("num_layers", "num_blocks")


def load_trials(project_dir: str) -> list[trial_module.Trial]:
    """All trials saved in a KerasTuner project directory, by trial id."""
    paths = glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))
    trials = [trial_module.Trial.load(path) for path in paths]
    return sorted(trials, key=lambda trial: trial.trial_id)


def load_reevaluations(project_dir: str) -> dict[str, str]:
    """Re-evaluation trial id -> its configuration's first trial id, from the
    oracle's saved state; empty before the oracle first saved it."""
    try:
        with open(os.path.join(project_dir, "oracle.json")) as file:
            return reevaluations_in(json.load(file))
    except FileNotFoundError:
        return {}


def rank_trials(
    trials: Sequence[trial_module.Trial],
    objectives: Sequence[keras_tuner.Objective],
    constraints: Constraints = None,
    reevaluations: dict[str, str] | None = None,
) -> list[trial_module.Trial]:
    """Scored trials that meet the constraints, best first.

    For one objective, configurations in the oracle's order of
    recommendation (by the estimate from all their evaluations, the loss
    breaking ties; see `evokt.oracles.estimate`), each first trial
    followed by its re-evaluations; for several, front by front (each by the
    first objective).

    Args:
        trials: The search's trials, in the order they were created.
        objectives: The search's objectives.
        constraints: Upper bounds on metrics; trials over them are left out.
        reevaluations: Re-evaluation trial id -> its configuration's first
            trial id.
    """
    scored = [trial for trial in trials if has_score(trial) and is_feasible(trial, constraints)]
    if len(objectives) > 1:
        return [trial for front in trial_fronts(scored, objectives) for trial in front]
    reevaluations = reevaluations or {}
    ranking = estimate.rank(scored, reevaluations, objectives[0].direction, len(scored),
                            tie_break=estimate.tie_break_metric(objectives[0].name))
    repeats: dict[str, list[trial_module.Trial]] = {}
    for trial in scored:
        if trial.trial_id in reevaluations:
            repeats.setdefault(reevaluations[trial.trial_id], []).append(trial)
    return [trial for configuration in ranking.ranked
            for trial in [configuration.trial, *repeats.get(configuration.trial.trial_id, [])]]


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
    reevaluations: dict[str, str] | None = None,
) -> Table:
    """A table of the best trials: rank, id, objectives, size, latency and
    hyperparameters; with several objectives, the Pareto front's trials are
    marked. A re-evaluation is listed under its configuration's first trial,
    without a rank of its own, its "reevaluates" column naming that trial.

    Args:
        trials: The search's trials.
        objectives: The search's objectives.
        top: How many configurations to show; None for all ranked ones.
        constraints: Upper bounds on metrics; trials over them are left out.
        reevaluations: Re-evaluation trial id -> its configuration's first
            trial id (`load_reevaluations`, or `reevaluations_in` of the
            oracle's state).
    """
    reevaluations = reevaluations or {}
    ranked = rank_trials(trials, objectives, constraints, reevaluations)
    front = {trial.trial_id for trial in pareto_front(ranked, objectives)} \
        if len(objectives) > 1 else set()
    names = ", ".join(f"{objective.name} ({objective.direction})" for objective in objectives)
    table = Table(title=f"Best trials by {names}" + (" — * on the Pareto front" if front else ""))
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    if reevaluations:
        table.add_column("reevaluates", justify="right")
    for objective in objectives:
        table.add_column(objective.name, justify="right")
    shown_measures = [metric for metric in ("params", "latency_ms")
                      if metric not in {objective.name for objective in objectives}]
    for metric in shown_measures:
        table.add_column(metric, justify="right")
    table.add_column("hyperparameters", overflow="fold")
    rank = 0
    for trial in ranked:
        reevaluated = reevaluations.get(trial.trial_id)
        if reevaluated is None:
            rank += 1
            if top is not None and rank > top:
                break
        values = [objective_value(trial, objective) for objective in objectives]
        measures = [trial.metrics.get_last_value(metric) if trial.metrics.exists(metric) else None
                    for metric in shown_measures]
        table.add_row(
            "" if reevaluated else f"{rank}{'*' if trial.trial_id in front else ''}",
            trial.trial_id,
            *([reevaluated or ""] if reevaluations else []),
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
