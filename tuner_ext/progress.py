"""The live progress view of a search on the terminal.

On a terminal it is a bar: trial n of N, the best score so far, elapsed and
remaining time. Elsewhere (a log file, a pipe) it prints one plain line per
finished trial instead, since a bar redrawn in a log is noise.
"""

from __future__ import annotations

import time
from typing import Optional

import keras_tuner
from keras_tuner.engine import trial as trial_module
from rich.console import Console
from rich.progress import BarColumn
from rich.progress import MofNCompleteColumn
from rich.progress import Progress
from rich.progress import TextColumn
from rich.progress import TimeElapsedColumn
from rich.progress import TimeRemainingColumn

from tuner_ext.observe import SearchObserver
from tuner_ext.evolution import has_score


class ProgressDisplay(SearchObserver):
    """Shows a search's progress; use as a context manager around the search.

    Args:
        console: Where to draw; defaults to standard error.
    """

    def __init__(self, console: Optional[Console] = None):
        self.console = console or Console(stderr=True)
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

    @staticmethod
    def _best_label(oracle: keras_tuner.Oracle) -> str:
        best = oracle.get_best_trials(1)
        if not best or not has_score(best[0]):
            return ""
        return f"best {oracle.objective.name} {best[0].score:.4f}"

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
            score = (
                f"{oracle.objective.name} {trial.score:.4f}"
                if has_score(trial)
                else trial.status
            )
            elapsed = time.monotonic() - self._started
            self.console.print(
                f"trial {trial.trial_id} ({label}) {score}; "
                f"{best}; {elapsed:.0f}s elapsed",
                highlight=False,
            )
