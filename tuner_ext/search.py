"""Running a search end to end: data, hypermodel, tuner, export.

This is the one code path behind `evokt search` and the service's search
runner. A search lives in its project directory: KerasTuner's state files
and `search.json` (its `SearchSpec`). Running it again with `resume=True`
continues where it stopped, with the options it was started with.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

import keras
import keras_tuner

from keras_tuner.src.engine.objective import create_objective

from hypermodels import default_objective
from hypermodels.tasks import reported_metrics
from hypermodels import hypermodel_for
from hypermodels.data import Dataset
from tuner_ext.distributed import CHIEF_ID
from tuner_ext.distributed import Distribution
from tuner_ext.distributed import cluster_environment
from tuner_ext.distributed import free_port
from tuner_ext.distributed import run_chief
from tuner_ext.durable import write_json_atomically
from tuner_ext.export import export_best
from tuner_ext.observe import SearchObserver
from tuner_ext.registry import create_tuner
from tuner_ext.spec import SPEC_FILE
from tuner_ext.spec import SearchSpec
from tuner_ext.spec import SpecError
from tuner_ext.spec import prepare_project


@dataclass
class SearchOutcome:
    """What a finished search produced.

    Args:
        tuner: The tuner, for `get_best_models()` and its oracle.
        dataset: The data it ran on.
        best: The contents of `best.json`.
    """

    tuner: keras_tuner.Tuner
    dataset: Dataset
    best: dict


def objective_for(spec: SearchSpec, dataset: Dataset) -> keras_tuner.Objective:
    """The spec's objective, or the task's default, with its direction.

    Raises:
        SpecError: The objective is not a metric the models report.
    """
    if spec.objective is None:
        return default_objective(dataset.task)
    reported = reported_metrics(dataset.task)
    if spec.objective not in reported:
        raise SpecError(
            f"objective: {spec.objective!r} is not reported for {dataset.task}; "
            f"choose {', '.join(reported)}"
        )
    return resolve_objective(spec.objective)


def resolve_objective(name: str) -> keras_tuner.Objective:
    """The objective of a metric name, its direction inferred as KerasTuner does."""
    return create_objective(name)


def run_search(
    spec: Optional[SearchSpec],
    project_dir: str,
    output_dir: str,
    resume: bool = False,
    observer: Optional[SearchObserver] = None,
    distribution: Optional[Distribution] = None,
) -> SearchOutcome:
    """Runs (or resumes) a search and exports its best model.

    Args:
        spec: What to search; None when resuming (the saved spec is used).
        project_dir: The search's directory: state, checkpoints, spec.
        output_dir: Where `model.keras` and `best.json` are written.
        resume: Continue the search saved in `project_dir`.
        observer: Optional `SearchObserver` for progress.
        distribution: Optional chief settings, see `run_prepared_search`.

    Raises:
        SpecError: Bad options or project directory.
        hypermodels.data.DataError: Missing or unusable data.
        tuner_ext.export.NoCompletedTrialError: No trial completed.
    """
    spec = prepare_project(spec, project_dir, resume)
    return run_prepared_search(
        spec, spec.load_data(), project_dir, output_dir, observer, distribution
    )


def build_tuner(
    spec: SearchSpec,
    dataset: Dataset,
    project_dir: str,
    observer: Optional[SearchObserver] = None,
) -> keras_tuner.Tuner:
    """The tuner a spec describes, on its project directory (resumed if there).

    Raises:
        SpecError: The hypermodel, objective or oracle options do not fit.
    """
    try:
        hypermodel = hypermodel_for(dataset, spec.hypermodel)
    except ValueError as error:
        raise SpecError(f"hypermodel: {error}") from None
    keras.utils.set_random_seed(spec.seed)
    project_dir = os.path.abspath(project_dir)
    objective = objective_for(spec, dataset)
    try:
        return create_tuner(
            spec.oracle,
            hypermodel,
            objective=objective,
            max_trials=spec.max_trials,
            epochs=spec.epochs,
            seed=spec.seed,
            directory=os.path.dirname(project_dir),
            project_name=os.path.basename(project_dir),
            overwrite=False,
            options=spec.oracle_options,
            observer=observer,
            max_epochs_budget=spec.max_epochs_budget,
        )
    except ValueError as error:
        raise SpecError(f"oracle_options: {error}") from None


def fit_arguments(spec: SearchSpec, dataset: Dataset) -> tuple[tuple, dict]:
    """The positional and keyword arguments of `tuner.search` for a spec."""
    return (dataset.x_train, dataset.y_train), {
        "validation_data": (dataset.x_val, dataset.y_val),
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "verbose": 0,
    }


def run_prepared_search(
    spec: SearchSpec,
    dataset: Dataset,
    project_dir: str,
    output_dir: str,
    observer: Optional[SearchObserver] = None,
    distribution: Optional[Distribution] = None,
) -> SearchOutcome:
    """`run_search` after `prepare_project` and `SearchSpec.load_data`.

    For callers that check the project and the data before they import
    TensorFlow (the CLI); arguments as for `run_search`, and:

    Args:
        distribution: Run as the chief of workers. Defaults to local workers
            on 127.0.0.1 when `spec.workers` > 1, else a single process.
    """
    if distribution is None and spec.workers > 1:
        distribution = Distribution(local_workers=spec.workers)
    if distribution is None:
        tuner = build_tuner(spec, dataset, project_dir, observer)
        _save_spec(spec, tuner, project_dir)
        args, kwargs = fit_arguments(spec, dataset)
        tuner.search(*args, **kwargs)
    else:
        if distribution.port == 0:
            distribution = dataclasses.replace(distribution, port=free_port(distribution.host))
        cluster = cluster_environment(CHIEF_ID, distribution.host, distribution.port)
        os.environ.update(cluster)
        try:
            tuner = build_tuner(spec, dataset, project_dir)
            _save_spec(spec, tuner, project_dir)
            run_chief(tuner, distribution, os.path.abspath(project_dir), observer)
        finally:
            for name in cluster:
                os.environ.pop(name, None)
    best = export_best(tuner, dataset, spec, output_dir)
    return SearchOutcome(tuner=tuner, dataset=dataset, best=best)


def _save_spec(spec: SearchSpec, tuner: keras_tuner.Tuner, project_dir: str) -> None:
    # The resolved objective is saved, so a summary knows it without the data.
    spec = dataclasses.replace(spec, objective=tuner.oracle.objective.name)
    write_json_atomically(os.path.join(project_dir, SPEC_FILE), spec.to_dict())
