"""The live progress view of a search on the terminal.

On a terminal it is a bar: trial n of N, the best score so far, elapsed and
remaining time. Elsewhere (a log file, a pipe) it prints one plain line per
finished trial instead, since a bar redrawn in a log is noise.
"""

from __future__ import annotations

import time

import keras_tuner
from keras_tuner.engine import trial as trial_module
from rich.console import Console
from rich.progress import BarColumn
from rich.progress import MofNCompleteColumn
from rich.progress import Progress
from rich.progress import TextColumn
from rich.progress import TimeElapsedColumn
from rich.progress import TimeRemainingColumn

from evokt.oracles.constraints import Constraints
from evokt.oracles.early_stopping import stopped_epoch
from evokt.oracles.pareto import objective_value
from evokt.oracles.pareto import objectives_of
from evokt.oracles.trials import best_scored_trial
from evokt.oracles.trials import has_score
from evokt.search.observe import SearchObserver


class ProgressDisplay(SearchObserver):
    """Shows a search's progress; use as a context manager around the search.

    Args:
        console: Where to draw; defaults to standard error.
        constraints: The search's constraints, which the best trial meets.
    """

    def __init__(self, console: Console | None = None, constraints: Constraints = None):
        self.console = console or Console(stderr=True)
        self.constraints = constraints
        self._started = time.monotonic()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("remaining"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self._task = self._progress.add_task("trials", total=None, best="")

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def _best_label(self, oracle: keras_tuner.Oracle) -> str:
        best = best_scored_trial(oracle, self.constraints)
        if best is None:
            return ""
        first = objectives_of(oracle.objective)[0]
        return f"best {first.name} {objective_value(best, first):.4f}"

    @staticmethod
    def _budget(oracle: keras_tuner.Oracle) -> tuple[int, int, str]:
        """What the search has used of its budget, the budget, and a label:
        epochs for an oracle budgeted in epochs (genetic-hyperband), else trials."""
        epoch_budget = getattr(oracle, "max_epochs_budget", None)
        if epoch_budget is None:
            done = len(oracle.end_order)
            return done, oracle.max_trials, f"{done} of {oracle.max_trials}"
        return oracle.epochs_used, epoch_budget, f"{oracle.epochs_used} of {epoch_budget} epochs"

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        used, total, label = self._budget(oracle)
        if getattr(oracle, "max_epochs_budget", None) is None:
            label = f"trial {used + 1} of {total}"
        self._progress.update(
            self._task,
            total=total,
            completed=used,
            description=label,
            best=self._best_label(oracle),
        )

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        used, _, label = self._budget(oracle)
        best = self._best_label(oracle)
        self._progress.update(self._task, completed=used, best=best)
        if not self.console.is_terminal:
            first = objectives_of(oracle.objective)[0]
            stopped = stopped_epoch(trial)
            score = (
                f"{first.name} {objective_value(trial, first):.4f}"
                if has_score(trial)
                else trial.status if stopped is None
                else f"stopped at epoch {stopped + 1} ({first.name} {trial.score:.4f})"
            )
            elapsed = time.monotonic() - self._started
            self.console.print(
                f"trial {trial.trial_id} ({label}) {score}; "
                f"{best}; {elapsed:.0f}s elapsed",
                highlight=False,
            )
