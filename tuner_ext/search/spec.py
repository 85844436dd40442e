"""`SearchSpec`: everything that defines a search, checked, as JSON.

This is the one validation of a search's options. The CLI builds a spec from
its flags, the service from a request body and a worker from the project's
`search.json`; building one checks every field on its own (`__post_init__`),
and `check_data` checks what depends on the data (the hypermodel fits the
examples' shape, the objective is a metric the task reports). The search
runner saves the spec in the project directory, so a search can be resumed
and summarised with nothing but its directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from hypermodels.auto import HYPERMODELS
from hypermodels.auto import resolve_kind
from hypermodels.tasks import TASKS
from hypermodels.tasks import reported_metrics
from tuner_ext.oracles.defaults import MEASURED_METRICS
from tuner_ext.search.errors import SpecError
from tuner_ext.search.layout import SPEC_FILE
from tuner_ext.search.strategies import EPOCH_BUDGETED
from tuner_ext.search.strategies import check_options
from tuner_ext.search.strategies import check_strategy

if TYPE_CHECKING:
    from hypermodels.data import Dataset

MAX_TRIALS_LIMIT = 10_000
MAX_FOLDS = 10
# Strategies whose trials train for varying epochs from checkpoints, which
# cross-validation does not combine with.
EPOCH_BUDGET_STRATEGIES = ("hyperband", *EPOCH_BUDGETED)
MAX_EPOCHS_LIMIT = 1_000
MAX_WORKERS = 64

# Each constrained metric and the spec field that bounds it.
CONSTRAINT_FIELDS = {"params": "max_params", "latency_ms": "max_latency_ms"}


def constraints_from(fields: Mapping[str, Any]) -> dict[str, float]:
    """metric -> upper bound, from a spec's fields (a `SearchSpec`'s, or the
    service's stored copy of one); a field left None bounds nothing.

    Args:
        fields: The spec's fields by name.
    """
    return {metric: fields[name] for metric, name in CONSTRAINT_FIELDS.items()
            if fields.get(name) is not None}


@dataclass
class SearchSpec:
    """What to search, with what, and for how long.

    Args:
        dataset: Name of a bundled dataset (`digits`, `iris`, ...); or
        csv: path of a CSV file, with `target` naming the label column; or
        npz: path of an `.npz` file holding `x` and `y`.
        target: The CSV's label column.
        task: One of `hypermodels.tasks.TASKS`; None infers it from the
            target.
        hypermodel: "auto" or one of `hypermodels.auto.HYPERMODELS`.
        oracle: One of `tuner_ext.search.strategies.STRATEGIES`.
        max_trials: Number of trials.
        epochs: Training epochs per trial (hyperband, genetic-hyperband: at
            most).
        objective: Metric to optimise (`val_accuracy`, `val_loss`, ...), or a
            list of them for a multi-objective search; each name may end in
            `:min` or `:max` (needed for no metric evokt knows). Besides the
            metrics training reports, `params`, `latency_ms` and `model_bytes`
            (measured for every trial). None for the task's default.
        seed: Seed of the split, the oracle and the weights.
        batch_size: Training batch size.
        oracle_options: Strategy-specific tuner arguments, such as
            `population_size`; see `Strategy.options`.
        workers: Worker processes training trials at once on this machine;
            1 trains in the search's own process.
        max_params: Optional constraint: trials with more parameters are
            recorded but never bred from nor recommended.
        max_latency_ms: Optional constraint on `latency_ms`, likewise.
        max_epochs_budget: Training epochs of all trials together, for
            genetic-hyperband; None for `max_trials * epochs`.
        folds: 1 to score trials on a held-out fifth of the data; K (2 to
            10) to score them by K-fold cross-validation on all of it, the
            exported model then refitted on all of it (for small data).
        pick: Which trial to export: None for the recommended one (with
            several objectives, the front's best in the first objective), an
            objective's name (the front's best in it), "knee" (the front's
            knee point), or a trial id.

    Raises:
        SpecError: A field is invalid; the message names it.
    """

    dataset: str | None = None
    csv: str | None = None
    npz: str | None = None
    target: str | None = None
    task: str | None = None
    hypermodel: str = "auto"
    oracle: str = "genetic"
    max_trials: int = 10
    epochs: int = 5
    objective: str | list[str] | None = None
    seed: int = 0
    batch_size: int = 32
    oracle_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    max_params: int | None = None
    max_latency_ms: float | None = None
    max_epochs_budget: int | None = None
    folds: int = 1
    pick: str | None = None

    def __post_init__(self) -> None:
        sources = [name for name in ("dataset", "csv", "npz") if getattr(self, name)]
        if len(sources) != 1:
            raise SpecError("give exactly one data source: dataset, csv or npz")
        for name in ("dataset", "csv", "npz", "target", "pick"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise SpecError(f"{name}: must be a string, got {value!r}")
        self._check_objectives()
        # Absolute, so a resumed search finds its data from any directory.
        self.csv = os.path.abspath(self.csv) if self.csv else None
        self.npz = os.path.abspath(self.npz) if self.npz else None
        if self.csv and not self.target:
            raise SpecError("target: a CSV needs the name of its target column")
        if self.task is not None and self.task not in TASKS:
            raise SpecError(f"task: must be {' or '.join(TASKS)}, got {self.task!r}")
        if self.hypermodel != "auto" and self.hypermodel not in HYPERMODELS:
            raise SpecError(
                f"hypermodel: unknown {self.hypermodel!r}; choose auto, "
                f"{', '.join(HYPERMODELS)}"
            )
        check_strategy(self.oracle)
        _check_int("max_trials", self.max_trials, 1, MAX_TRIALS_LIMIT)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS_LIMIT)
        _check_int("batch_size", self.batch_size, 1, 65_536)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("workers", self.workers, 1, MAX_WORKERS)
        if self.max_params is not None:
            _check_int("max_params", self.max_params, 1, 10**12)
        if self.max_latency_ms is not None and not (
            isinstance(self.max_latency_ms, (int, float))
            and not isinstance(self.max_latency_ms, bool)
            and 0 < self.max_latency_ms <= 1e6
        ):
            raise SpecError(
                f"max_latency_ms: must be a number above 0, got {self.max_latency_ms!r}")
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
        _check_int("folds", self.folds, 1, MAX_FOLDS)
        if self.folds > 1 and self.oracle in EPOCH_BUDGET_STRATEGIES:
            raise SpecError(f"folds: {self.oracle} trains trials for varying epochs and resumes "
                            "them from checkpoints; cross-validate with another oracle")
        check_options(self.oracle, self.oracle_options, self.max_trials)

    def _check_objectives(self) -> None:
        if self.objective is not None and not isinstance(self.objective, (str, list)):
            raise SpecError(f"objective: give a metric's name, or a list of them, "
                            f"got {self.objective!r}")
        names = self.objective_names
        if self.objective is not None and not names:
            raise SpecError("objective: give a metric's name, or a list of them")
        for text in names:
            name, _, direction = text.partition(":") if isinstance(text, str) else ("", "", "")
            if not name or direction not in ("", "min", "max"):
                raise SpecError(f"objective: expected NAME or NAME:min or NAME:max, got {text!r}")
        metrics = [text.partition(":")[0] for text in names]
        if len(set(metrics)) != len(metrics):
            raise SpecError(f"objective: a metric appears twice in {names}")
        if self.pick is not None and self.pick not in ("knee", *metrics) \
                and not self.pick.isdigit():
            raise SpecError(
                f"pick: expected knee, an objective ({', '.join(metrics) or 'none given'}) or "
                f"a trial id, got {self.pick!r}")

    @property
    def objective_names(self) -> list[str]:
        """The objectives as given, a list ([] for the task's default)."""
        if self.objective is None:
            return []
        return [self.objective] if isinstance(self.objective, str) else list(self.objective)

    @property
    def constraints(self) -> dict[str, float]:
        """metric -> upper bound, from `max_params` and `max_latency_ms`."""
        return constraints_from(vars(self))

    def check_data(self, input_shape: tuple[int, ...], task: str) -> str:
        """Checks the parts of the spec that depend on the data.

        Args:
            input_shape: Shape of one example.
            task: The data's task.

        Returns:
            The hypermodel's name ("auto" resolved for this shape).

        Raises:
            SpecError: The hypermodel does not fit the examples, or the
                objective is not a metric the task reports.
        """
        try:
            kind = resolve_kind(self.hypermodel, tuple(input_shape))
        except ValueError as error:
            raise SpecError(f"hypermodel: {error}") from None
        known = [*reported_metrics(task), *MEASURED_METRICS]
        for text in self.objective_names:
            if text.partition(":")[0] not in known:
                raise SpecError(
                    f"objective: {text.partition(':')[0]!r} is not reported for {task}; "
                    f"choose {', '.join(known)}"
                )
        return kind

    def load_data(self) -> Dataset:
        """Loads and splits the data this spec names.

        Raises:
            hypermodels.errors.DataError: The data is missing or unusable.
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


def prepare_project(spec: SearchSpec | None, project_dir: str, resume: bool) -> SearchSpec:
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
