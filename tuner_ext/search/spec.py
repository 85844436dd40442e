"""`SearchSpec`: everything that defines a search, checked, as JSON.

This is the one validation of a search's options, made once, when a spec is
made: the CLI builds a spec from its flags and the service from a request
body; building one checks every field (`__post_init__`, against the
declarations in `SETTINGS` and the strategy's options), and `check_data`
checks what depends on the data (the hypermodel fits the examples' shape,
the objective is a metric the task reports, the `initial_hps` are in the
hypermodel's space). The search runner saves the
spec in the project directory (and the service in its job store), so a
search can be resumed and summarised with nothing but its directory; a
saved spec is read back as it was checked (`from_dict`), and
`evokt.search.strategies.create_tuner` trusts it.
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

from evokt.hypermodels.auto import HYPERMODELS
from evokt.hypermodels.auto import resolve_kind
from evokt.hypermodels.tasks import TASKS
from evokt.hypermodels.tasks import reported_metrics
from evokt.oracles.defaults import DEFAULT_MAX_TRIALS
from evokt.oracles.defaults import MAX_FOLDS
from evokt.oracles.defaults import MEASURED_METRICS
from evokt.search.errors import SpecError
from evokt.search.layout import SPEC_FILE
from evokt.search.resources import parse_resources
from evokt.search.settings import Setting
from evokt.search.settings import by_name
from evokt.search.strategies import EPOCH_BUDGETED
from evokt.search.strategies import STRATEGIES
from evokt.search.strategies import check_options

if TYPE_CHECKING:
    from evokt.hypermodels.data import Dataset

MAX_TRIALS_LIMIT = 10_000
MAX_EPOCHS_LIMIT = 1_000
MAX_WORKERS = 64
# Strategies whose trials train for varying epochs from checkpoints, which
# cross-validation does not combine with.
EPOCH_BUDGET_STRATEGIES = ("hyperband", *EPOCH_BUDGETED)

# The search's own options (a strategy's are in `evokt.search.strategies`),
# declared once: `SearchSpec` checks them, `evokt search` has a flag for
# each, the service accepts each in `POST /v1/searches` (its OpenAPI
# document describes them, and the dashboard's launch form reads their
# defaults there).
SETTINGS: tuple[Setting, ...] = (
    Setting("hypermodel", "choice", "network family; auto picks cnn for images, sequence for "
            "(timesteps, features) and mlp for feature vectors",
            default="auto", choices=("auto", *HYPERMODELS)),
    Setting("oracle", "choice", "search strategy: " + "; ".join(
        f"{name}: {strategy.summary}" for name, strategy in STRATEGIES.items()),
        default="genetic", choices=tuple(STRATEGIES)),
    Setting("max_trials", "int", "trials to run", default=DEFAULT_MAX_TRIALS,
            minimum=1, maximum=MAX_TRIALS_LIMIT, metavar="N"),
    Setting("epochs", "int", "training epochs per trial (hyperband, genetic-hyperband: at most)",
            default=5, minimum=1, maximum=MAX_EPOCHS_LIMIT, metavar="E"),
    Setting("max_epochs_budget", "int", "genetic-hyperband: training epochs of all trials "
            "together, a promoted trial counting only the epochs it adds",
            default_text="max_trials x epochs", minimum=1,
            maximum=MAX_TRIALS_LIMIT * MAX_EPOCHS_LIMIT, metavar="E", nullable=True),
    Setting("batch_size", "int", "training batch size", default=32, minimum=1, maximum=65_536,
            metavar="B"),
    Setting("max_params", "int", "constraint: trials with more parameters are recorded, never "
            "bred from nor exported", minimum=1, maximum=10**12, metavar="N", nullable=True),
    Setting("max_latency_ms", "float", "constraint on the single-row prediction latency in "
            "milliseconds, likewise", minimum=0, maximum=1e6, exclusive_minimum=True,
            metavar="MS", nullable=True),
    Setting("folds", "int", "score trials by K-fold cross-validation on all the data (for "
            "small data; the exported model is refitted on all of it); 1 holds out a fifth "
            "for validation", default=1, minimum=1, maximum=MAX_FOLDS, metavar="K"),
    Setting("pick", "string", "which model to export: the recommended one (default; with "
            "several objectives the front's best in the first), an objective's name (the "
            "front's best in it), knee (the front's knee point) or a trial id",
            metavar="WHAT", nullable=True),
    Setting("seed", "int", "seed of the split, the oracle and the initial weights", default=0,
            minimum=0, maximum=2**31 - 1, metavar="S"),
    Setting("workers", "int", "trials trained at once, in N worker processes (local ones get "
            "their share of the cores and a GPU each where there are GPUs; on a Ray cluster, "
            "--worker-resources each)", default=1, minimum=1, maximum=MAX_WORKERS,
            metavar="N"),
    Setting("worker_resources", "string", "what each worker asks of a Ray cluster, as "
            "CPU=4,GPU=1 (any of Ray's resources; fractions allowed)",
            default_text="CPU=1,GPU=1 where the cluster has GPUs, else CPU=1", metavar="RESOURCES",
            nullable=True),
    Setting("keep_checkpoints", "int", "keep the checkpoints of the best K trials and of those "
            "still in use (running, continued by a promotion, re-evaluated), deleting the others "
            "as trials end", default_text="all", minimum=1, maximum=MAX_TRIALS_LIMIT,
            metavar="K", nullable=True),
    Setting("tensorboard", "string", "write TensorBoard logs into DIR: each trial's metrics "
            "per epoch in DIR/<trial id>/, and the HParams plugin's summary that compares the "
            "trials (the service: set by EVOKT_TENSORBOARD_DIR, not by a request)",
            metavar="DIR", nullable=True),
    Setting("mlflow", "string", "log the search to this MLflow tracking URI: a parent run, a "
            "child run per trial with its hyperparameters and metrics per epoch, the exported "
            "model (needs evokt[mlflow]; the service: set by EVOKT_MLFLOW_TRACKING_URI, not by "
            "a request)", metavar="URI", nullable=True),
)
SETTING = by_name(SETTINGS)

# Each constrained metric and the spec field that bounds it.
CONSTRAINT_FIELDS = {"params": "max_params", "latency_ms": "max_latency_ms"}


def parse_objective(text: str) -> tuple[str, str | None]:
    """An objective as a spec gives it, `NAME`, `NAME:min` or `NAME:max`:
    its metric's name, and its direction (None when the name alone is given).

    Args:
        text: The objective as given.
    """
    name, _, direction = text.partition(":")
    return name, direction or None


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
        task: One of `evokt.hypermodels.tasks.TASKS`; None infers it from the
            target.
        hypermodel: "auto" or one of `evokt.hypermodels.auto.HYPERMODELS`.
        oracle: One of `evokt.search.strategies.STRATEGIES`.
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
        workers: Worker processes training trials at once (on this machine,
            or on a Ray cluster); 1 trains in the search's own process (or,
            on Ray, in one worker).
        worker_resources: What each worker asks of a Ray cluster,
            "CPU=4,GPU=1" (see `evokt.search.resources`); None for one GPU
            where the cluster has GPUs, else one CPU.
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
        keep_checkpoints: Keep only the best K trials' checkpoints, and
            those still in use (see `evokt.oracles.retention`); None keeps
            all.
        tensorboard: A folder for TensorBoard logs of every trial, HParams
            included (see `evokt.search.tracking_tensorboard`); None logs
            none.
        mlflow: An MLflow tracking URI to log the search to (see
            `evokt.search.tracking_mlflow`); None logs none.

    Raises:
        SpecError: A field is invalid; the message names it.
    """

    dataset: str | None = None
    csv: str | None = None
    npz: str | None = None
    target: str | None = None
    task: str | None = None
    hypermodel: str = SETTING["hypermodel"].default
    oracle: str = SETTING["oracle"].default
    max_trials: int = SETTING["max_trials"].default
    epochs: int = SETTING["epochs"].default
    objective: str | list[str] | None = None
    seed: int = SETTING["seed"].default
    batch_size: int = SETTING["batch_size"].default
    oracle_options: dict[str, Any] = field(default_factory=dict)
    workers: int = SETTING["workers"].default
    worker_resources: str | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None
    max_epochs_budget: int | None = None
    folds: int = SETTING["folds"].default
    pick: str | None = None
    keep_checkpoints: int | None = None
    tensorboard: str | None = None
    mlflow: str | None = None

    def __post_init__(self) -> None:
        sources = [name for name in ("dataset", "csv", "npz") if getattr(self, name)]
        if len(sources) != 1:
            raise SpecError("give exactly one data source: dataset, csv or npz")
        for name in ("dataset", "csv", "npz", "target"):
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
        for setting in SETTINGS:
            setting.check(getattr(self, setting.name))
        # Absolute, so a resumed search logs where it started from any directory.
        self.tensorboard = os.path.abspath(self.tensorboard) if self.tensorboard else None
        if self.max_epochs_budget is not None:
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
        if self.folds > 1 and self.oracle in EPOCH_BUDGET_STRATEGIES:
            raise SpecError(f"folds: {self.oracle} trains trials for varying epochs and resumes "
                            "them from checkpoints; cross-validate with another oracle")
        check_options(self.oracle, self.oracle_options, self.max_trials)
        if self.oracle_options.get("early_stopping") is not None and (
                len(self.objective_names) > 1 or self.folds > 1):
            raise SpecError("oracle_options.early_stopping: compares one objective epoch by "
                            "epoch; not with several objectives or folds")
        if self.worker_resources is not None:
            parse_resources(self.worker_resources)

    def _check_objectives(self) -> None:
        if self.objective is not None and not isinstance(self.objective, (str, list)):
            raise SpecError(f"objective: give a metric's name, or a list of them, "
                            f"got {self.objective!r}")
        names = self.objective_names
        if self.objective is not None and not names:
            raise SpecError("objective: give a metric's name, or a list of them")
        for text in names:
            name, direction = parse_objective(text) if isinstance(text, str) else ("", None)
            if not name or direction not in (None, "min", "max"):
                raise SpecError(f"objective: expected NAME or NAME:min or NAME:max, got {text!r}")
        metrics = [parse_objective(text)[0] for text in names]
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
            SpecError: The hypermodel does not fit the examples, the
                objective is not a metric the task reports, or a configuration
                of `initial_hps` is not in the hypermodel's space.
        """
        try:
            kind = resolve_kind(self.hypermodel, tuple(input_shape))
        except ValueError as error:
            raise SpecError(f"hypermodel: {error}") from None
        known = [*reported_metrics(task), *MEASURED_METRICS]
        for name, _ in map(parse_objective, self.objective_names):
            if name not in known:
                raise SpecError(
                    f"objective: {name!r} is not reported for {task}; "
                    f"choose {', '.join(known)}"
                )
        if self.oracle_options.get("initial_hps"):
            # Imports KerasTuner: only searches that give configurations pay for it.
            from evokt.search.space_check import check_configurations

            check_configurations(self.oracle_options["initial_hps"], kind,
                                 tuple(input_shape), task)
        return kind

    def load_data(self) -> Dataset:
        """Loads and splits the data this spec names.

        Raises:
            evokt.hypermodels.errors.DataError: The data is missing or unusable.
        """
        from evokt.hypermodels import data

        if self.dataset:
            return data.load_builtin(self.dataset, seed=self.seed)
        if self.csv:
            return data.load_csv(self.csv, self.target, task=self.task, seed=self.seed)
        return data.load_npz(self.npz, task=self.task, seed=self.seed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchSpec:
        """A spec that evokt checked and saved (a project's `search.json`, the
        service's job store), as saved: it was checked once, when it was made.

        Fields it lacks (a spec saved by an earlier evokt) take their
        defaults; a field evokt does not know is an error.
        """
        fields = {spec_field.name: spec_field for spec_field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SpecError(f"unknown option {', '.join(unknown)}")
        spec = object.__new__(cls)
        for name, spec_field in fields.items():
            if name in values:
                value = values[name]
            elif spec_field.default_factory is not dataclasses.MISSING:
                value = spec_field.default_factory()
            else:
                value = spec_field.default
            setattr(spec, name, value)
        return spec

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
