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
) -> SearchOutcome:
    """Runs (or resumes) a search and exports its best model.

    Args:
        spec: What to search; None when resuming (the saved spec is used).
        project_dir: The search's directory: state, checkpoints, spec.
        output_dir: Where `model.keras` and `best.json` are written.
        resume: Continue the search saved in `project_dir`.
        observer: Optional `SearchObserver` for progress.

    Raises:
        SpecError: Bad options or project directory.
        hypermodels.data.DataError: Missing or unusable data.
        tuner_ext.export.NoCompletedTrialError: No trial completed.
    """
    spec = prepare_project(spec, project_dir, resume)
    return run_prepared_search(spec, spec.load_data(), project_dir, output_dir, observer)


def run_prepared_search(
    spec: SearchSpec,
    dataset: Dataset,
    project_dir: str,
    output_dir: str,
    observer: Optional[SearchObserver] = None,
) -> SearchOutcome:
    """`run_search` after `prepare_project` and `SearchSpec.load_data`.

    For callers that check the project and the data before they import
    TensorFlow (the CLI); arguments as for `run_search`.
    """
    try:
        hypermodel = hypermodel_for(dataset, spec.hypermodel)
    except ValueError as error:
        raise SpecError(f"hypermodel: {error}") from None
    keras.utils.set_random_seed(spec.seed)
    project_dir = os.path.abspath(project_dir)
    objective = objective_for(spec, dataset)
    try:
        tuner = create_tuner(
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
        )
    except ValueError as error:
        raise SpecError(f"oracle_options: {error}") from None
    # The resolved objective is saved, so a summary knows it without the data.
    spec = dataclasses.replace(spec, objective=tuner.oracle.objective.name)
    write_json_atomically(os.path.join(project_dir, SPEC_FILE), spec.to_dict())
    tuner.search(
        dataset.x_train,
        dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        verbose=0,
    )
    best = export_best(tuner, dataset, spec, output_dir)
    return SearchOutcome(tuner=tuner, dataset=dataset, best=best)
