"""Running a search end to end: data, hypermodel, tuner, export.

This is the one code path behind `evokt search` and the service's search
runner. A search lives in its project directory: KerasTuner's state files
and `search.json` (its `SearchSpec`). Running it again with `resume=True`
continues where it stopped, with the options it was started with.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

import keras
import keras_tuner
from keras_tuner.src.engine.objective import create_objective

from evokt.compat import write_json_atomically
from evokt.hypermodels import default_objective
from evokt.hypermodels import hypermodel_for
from evokt.hypermodels.data import Dataset
from evokt.oracles.defaults import MEASURED_METRICS
from evokt.oracles.pareto import objectives_of
from evokt.search.distributed import CHIEF_ID
from evokt.search.distributed import Distribution
from evokt.search.distributed import cluster_environment
from evokt.search.distributed import free_port
from evokt.search.distributed import run_chief
from evokt.search.errors import SearchFailedError
from evokt.search.errors import SpecError
from evokt.search.export import export_best
from evokt.search.formats import Exported
from evokt.search.formats import export_beside
from evokt.search.layout import SPEC_FILE
from evokt.search.names import as_name
from evokt.search.observe import ObserverGroup
from evokt.search.observe import SearchObserver
from evokt.search.resources import parse_resources
from evokt.search.spec import SearchSpec
from evokt.search.spec import parse_objective
from evokt.search.spec import prepare_project
from evokt.search.strategies import create_tuner
from evokt.search.tracking import trackers

# How KerasTuner's error for too many failed trials in a row begins.
_CONSECUTIVE_FAILURES = "Number of consecutive failures"


@dataclass
class SearchOutcome:
    """What a finished search produced.

    Args:
        tuner: The tuner, for `get_best_models()` and its oracle.
        dataset: The data it ran on.
        best: The contents of `best.json`.
        exports: The other formats written beside `model.keras`.
    """

    tuner: keras_tuner.Tuner
    dataset: Dataset
    best: dict
    exports: list[Exported] = field(default_factory=list)


def objective_for(spec: SearchSpec, task: str) -> keras_tuner.Objective | list:
    """The spec's objective (a list for several), or the task's default."""
    if spec.objective is None:
        return default_objective(task)
    objectives = [resolve_objective(text) for text in spec.objective_names]
    return objectives[0] if len(objectives) == 1 else objectives


def resolve_objective(text: str) -> keras_tuner.Objective:
    """The objective `NAME` or `NAME:min`/`NAME:max` names; the direction of a
    bare name is evokt's for the metrics it measures, else KerasTuner's guess."""
    name, direction = parse_objective(text)
    direction = direction or MEASURED_METRICS.get(name)
    if direction:
        return keras_tuner.Objective(name, direction)
    return create_objective(name)


def run_search(
    spec: SearchSpec | None,
    project_dir: str,
    output_dir: str,
    resume: bool = False,
    observer: SearchObserver | None = None,
    distribution: Distribution | None = None,
    name: str | None = None,
) -> SearchOutcome:
    """Runs (or resumes) a search and exports its best model.

    Args:
        spec: What to search; None when resuming (the saved spec is used).
        project_dir: The search's directory: state, checkpoints, spec.
        output_dir: Where `model.keras` and `best.json` are written.
        resume: Continue the search saved in `project_dir`.
        observer: Optional `SearchObserver` for progress.
        distribution: Optional chief settings, see `run_prepared_search`.
        name: What trackers call the search, see `run_prepared_search`.

    Raises:
        SpecError: Bad options or project directory.
        evokt.hypermodels.errors.DataError: Missing or unusable data.
        evokt.search.errors.NoCompletedTrialError: No trial completed.
        evokt.search.errors.SearchFailedError: Too many trials failed in
            a row.
        evokt.search.errors.TrackingError: A tracker the spec asks for
            cannot log.
    """
    spec = prepare_project(spec, project_dir, resume)
    return run_prepared_search(
        spec, spec.load_data(), project_dir, output_dir, observer, distribution, name=name
    )


def build_tuner(
    spec: SearchSpec,
    dataset: Dataset,
    project_dir: str,
    observer: SearchObserver | None = None,
) -> keras_tuner.Tuner:
    """The tuner a spec describes, on its project directory (resumed if there).

    Raises:
        SpecError: The hypermodel, objective or oracle options do not fit.
    """
    if spec.folds > 1:
        dataset = dataset.pooled()
    hypermodel = hypermodel_for(dataset, spec.check_data(dataset.input_shape, dataset.task))
    keras.utils.set_random_seed(spec.seed)
    project_dir = os.path.abspath(project_dir)
    objective = objective_for(spec, dataset.task)
    try:
        return create_tuner(
            spec,
            hypermodel,
            objective=objective,
            directory=os.path.dirname(project_dir),
            project_name=os.path.basename(project_dir),
            overwrite=False,
            observer=observer,
        )
    except ValueError as error:
        raise SpecError(f"oracle_options: {error}") from None


def fit_arguments(spec: SearchSpec, dataset: Dataset) -> tuple[tuple, dict]:
    """The positional and keyword arguments of `tuner.search` for a spec: the
    training part and the validation part, or, cross-validating, all rows."""
    kwargs = {"epochs": spec.epochs, "batch_size": spec.batch_size, "verbose": 0}
    if spec.folds > 1:
        pooled = dataset.pooled()
        return (pooled.x_train, pooled.y_train), kwargs
    return (dataset.x_train, dataset.y_train), {
        "validation_data": (dataset.x_val, dataset.y_val), **kwargs}


def run_prepared_search(
    spec: SearchSpec,
    dataset: Dataset,
    project_dir: str,
    output_dir: str,
    observer: SearchObserver | None = None,
    distribution: Distribution | None = None,
    export_formats: Sequence[str] = (),
    name: str | None = None,
) -> SearchOutcome:
    """`run_search` after `prepare_project` and `SearchSpec.load_data`.

    For callers that check the project and the data before they import
    TensorFlow (the CLI); arguments as for `run_search`, and:

    Args:
        distribution: Run as the chief of workers. Defaults to local workers
            on 127.0.0.1 when `spec.workers` > 1, else a single process;
            the spec's `worker_resources` apply where it gives none.
        export_formats: Formats (`evokt.search.formats.FORMATS`) to write
            beside `model.keras`, before trackers log the output.
        name: What trackers call the search (MLflow's parent run); default:
            the output folder's name.
    """
    if distribution is None and spec.workers > 1:
        distribution = Distribution(local_workers=spec.workers)
    if distribution is not None and distribution.worker_resources is None \
            and spec.worker_resources is not None:
        distribution = dataclasses.replace(
            distribution, worker_resources=parse_resources(spec.worker_resources))
    observer = ObserverGroup([observer, *trackers(
        spec, dataset.task, project_dir, output_dir,
        name or as_name(os.path.basename(os.path.abspath(output_dir))))])
    if distribution is None:
        tuner = build_tuner(spec, dataset, project_dir, observer)
        _save_spec(spec, tuner, project_dir)
        args, kwargs = fit_arguments(spec, dataset)
        try:
            tuner.search(*args, **kwargs)
        except RuntimeError as error:
            if not str(error).startswith(_CONSECUTIVE_FAILURES):
                raise
            raise SearchFailedError(_failure_summary(error)) from None
    else:
        if distribution.port == 0:
            distribution = dataclasses.replace(distribution, port=free_port(distribution.host))
        cluster = cluster_environment(CHIEF_ID, distribution.host, distribution.port)
        os.environ.update(cluster)
        try:
            tuner = build_tuner(spec, dataset, project_dir)
            _save_spec(spec, tuner, project_dir)
            # KerasTuner's `on_search_begin` runs on workers only.
            observer.search_started(tuner.oracle)
            run_chief(tuner, distribution, os.path.abspath(project_dir), observer,
                      data_path=spec.csv or spec.npz)
            args, kwargs = fit_arguments(spec, dataset)
            tuner.remember_search_data(*args, **kwargs)
        finally:
            for variable in cluster:
                os.environ.pop(variable, None)
    best = export_best(tuner, dataset, spec, output_dir)
    exports = export_beside(output_dir, export_formats)
    observer.search_ended(tuner.oracle)
    return SearchOutcome(tuner=tuner, dataset=dataset, best=best, exports=exports)


def _failure_summary(error: RuntimeError) -> str:
    """KerasTuner's consecutive-failures error in one line.

    It carries the failed trial's whole traceback: its first line says what
    happened and its last line says why.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return f"{lines[0]} Last error: {lines[-1]}"


def _save_spec(spec: SearchSpec, tuner: keras_tuner.Tuner, project_dir: str) -> None:
    # The resolved objectives are saved, so a summary knows them without the data.
    names = [f"{objective.name}:{objective.direction}"
             for objective in objectives_of(tuner.oracle.objective)]
    spec = dataclasses.replace(spec, objective=names[0] if len(names) == 1 else names)
    write_json_atomically(os.path.join(project_dir, SPEC_FILE), spec.to_dict())
