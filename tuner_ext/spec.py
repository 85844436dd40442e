"""`SearchSpec`: everything that defines a search, checked, as JSON.

The CLI builds one from its flags and the service from a request body; the
search runner saves it in the project directory as `search.json`, so a
search can be resumed and summarised with nothing but its directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from hypermodels.auto import HYPERMODELS
from tuner_ext.registry import EPOCH_BUDGETED
from tuner_ext.registry import STRATEGIES

if TYPE_CHECKING:
    from hypermodels.data import Dataset

SPEC_FILE = "search.json"
# What a finished search exports: the best model and its description.
MODEL_FILE = "model.keras"
BEST_FILE = "best.json"
MAX_TRIALS_LIMIT = 10_000
MAX_EPOCHS_LIMIT = 1_000
MAX_WORKERS = 64


class SpecError(ValueError):
    """A search's options are invalid; the message names the option."""


@dataclass
class SearchSpec:
    """What to search, with what, and for how long.

    Args:
        dataset: Name of a bundled dataset (`digits`, `iris`, ...); or
        csv: path of a CSV file, with `target` naming the label column; or
        npz: path of an `.npz` file holding `x` and `y`.
        target: The CSV's label column.
        task: "classification" or "regression"; None infers it from the
            target.
        hypermodel: "auto" or one of `hypermodels.auto.HYPERMODELS`.
        oracle: One of `tuner_ext.registry.STRATEGIES`.
        max_trials: Number of trials.
        epochs: Training epochs per trial (hyperband, genetic-hyperband: at
            most).
        objective: Metric to optimise (`val_accuracy`, `val_loss`, ...); None
            for the task's default.
        seed: Seed of the split, the oracle and the weights.
        batch_size: Training batch size.
        oracle_options: Strategy-specific tuner arguments, such as
            `population_size`.
        workers: Worker processes training trials at once on this machine;
            1 trains in the search's own process.
        max_epochs_budget: Training epochs of all trials together, for
            genetic-hyperband; None for `max_trials * epochs`.
    """

    dataset: Optional[str] = None
    csv: Optional[str] = None
    npz: Optional[str] = None
    target: Optional[str] = None
    task: Optional[str] = None
    hypermodel: str = "auto"
    oracle: str = "genetic"
    max_trials: int = 10
    epochs: int = 5
    objective: Optional[str] = None
    seed: int = 0
    batch_size: int = 32
    oracle_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    max_epochs_budget: Optional[int] = None

    def __post_init__(self) -> None:
        sources = [name for name in ("dataset", "csv", "npz") if getattr(self, name)]
        if len(sources) != 1:
            raise SpecError("give exactly one data source: dataset, csv or npz")
        # Absolute, so a resumed search finds its data from any directory.
        self.csv = os.path.abspath(self.csv) if self.csv else None
        self.npz = os.path.abspath(self.npz) if self.npz else None
        if self.csv and not self.target:
            raise SpecError("target: a CSV needs the name of its target column")
        if self.task not in (None, "classification", "regression"):
            raise SpecError(f"task: must be classification or regression, got {self.task!r}")
        if self.hypermodel != "auto" and self.hypermodel not in HYPERMODELS:
            raise SpecError(
                f"hypermodel: unknown {self.hypermodel!r}; choose auto, "
                f"{', '.join(HYPERMODELS)}"
            )
        if self.oracle not in STRATEGIES:
            raise SpecError(
                f"oracle: unknown {self.oracle!r}; choose {', '.join(STRATEGIES)}"
            )
        _check_int("max_trials", self.max_trials, 1, MAX_TRIALS_LIMIT)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS_LIMIT)
        _check_int("batch_size", self.batch_size, 1, 65_536)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("workers", self.workers, 1, MAX_WORKERS)
        if self.max_epochs_budget is not None:
            _check_int("max_epochs_budget", self.max_epochs_budget, 1,
                       MAX_TRIALS_LIMIT * MAX_EPOCHS_LIMIT)
            if self.oracle not in EPOCH_BUDGETED:
                raise SpecError(
                    f"max_epochs_budget: only {', '.join(EPOCH_BUDGETED)} has an epoch "
                    f"budget, not {self.oracle}"
                )
            if self.max_epochs_budget < self.epochs:
                raise SpecError(
                    f"max_epochs_budget: must be at least epochs ({self.epochs}), one full "
                    f"training, got {self.max_epochs_budget}"
                )
        if not isinstance(self.oracle_options, dict):
            raise SpecError("oracle_options: must be an object of tuner arguments")

    def load_data(self) -> Dataset:
        """Loads and splits the data this spec names.

        Raises:
            hypermodels.data.DataError: The data is missing or unusable.
        """
        from hypermodels import data

        if self.dataset:
            return data.load_builtin(self.dataset, seed=self.seed)
        if self.csv:
            return data.load_csv(self.csv, self.target, task=self.task, seed=self.seed)
        return data.load_npz(self.npz, task=self.task, seed=self.seed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchSpec:
        """A spec from a JSON object; unknown keys are an error."""
        known = {spec_field.name for spec_field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SpecError(f"unknown option {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def load(cls, project_dir: str) -> SearchSpec:
        """The spec saved in a search's project directory.

        Raises:
            SpecError: There is no readable spec there.
        """
        path = os.path.join(project_dir, SPEC_FILE)
        try:
            with open(path, encoding="utf-8") as file:
                return cls.from_dict(json.load(file))
        except FileNotFoundError:
            raise SpecError(f"{project_dir}: no evokt search here (no {SPEC_FILE})") from None
        except json.JSONDecodeError as error:
            raise SpecError(f"{path}: unreadable ({error})") from None


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{name}: must be an integer from {low} to {high}, got {value!r}")


def prepare_project(spec: Optional[SearchSpec], project_dir: str, resume: bool) -> SearchSpec:
    """Checks the project directory and returns the spec to run.

    Args:
        spec: The requested spec; ignored when resuming.
        project_dir: The search's directory.
        resume: Whether to continue the search saved there.

    Raises:
        SpecError: Resuming where there is no search, or starting one
            where there already is one (which would be lost).
    """
    saved = os.path.exists(os.path.join(project_dir, SPEC_FILE))
    if resume:
        return SearchSpec.load(project_dir)
    if saved or (os.path.isdir(project_dir) and os.listdir(project_dir)):
        raise SpecError(
            f"{project_dir} is not empty; pass --resume to continue the search "
            "there, or choose another --project-dir"
        )
    if spec is None:
        raise SpecError("no search options given")
    return spec
