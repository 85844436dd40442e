"""Reading a search's trials from its project directory, and the results table.

Trials are read from KerasTuner's own `trial_*/trial.json` files, so a table
can be printed for a finished, running or interrupted search, of any
strategy, without building a tuner.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

from keras_tuner.engine import trial as trial_module
from rich.table import Table

from tuner_ext.oracles.trials import has_score

# Hyperparameters shown first in a table row: the ones that shape the network.
_STRUCTURE_FIRST = ("num_layers", "num_blocks")


def load_trials(project_dir: str) -> list[trial_module.Trial]:
    """All trials saved in a KerasTuner project directory, by trial id."""
    paths = glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))
    trials = [trial_module.Trial.load(path) for path in paths]
    return sorted(trials, key=lambda trial: trial.trial_id)


def rank_trials(
    trials: Sequence[trial_module.Trial], direction: str
) -> list[trial_module.Trial]:
    """Completed trials, best first for an objective of `direction`."""
    scored = [trial for trial in trials if has_score(trial)]
    return sorted(scored, key=lambda trial: trial.score, reverse=direction == "max")


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
    objective_name: str,
    direction: str,
    top: int | None = 10,
) -> Table:
    """A table of the best trials: rank, id, score and hyperparameters.

    Args:
        trials: The search's trials.
        objective_name: Name of the objective, for the score column.
        direction: "min" or "max".
        top: How many trials to show; None for all completed ones.
    """
    ranked = rank_trials(trials, direction)
    table = Table(title=f"Best trials by {objective_name} ({direction})")
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    table.add_column(objective_name, justify="right")
    table.add_column("hyperparameters", overflow="fold")
    for rank, trial in enumerate(ranked[:top], start=1):
        table.add_row(
            str(rank), trial.trial_id, f"{trial.score:.4f}",
            format_values(trial.hyperparameters.values),
        )
    return table


def status_counts(trials: Sequence[trial_module.Trial]) -> dict[str, int]:
    """How many trials are in each status (RUNNING: interrupted or running)."""
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return counts
