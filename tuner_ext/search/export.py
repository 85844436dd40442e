"""Writing the chosen model of a search: `model.keras` and `best.json`.

`best.json` says everything a later server needs to feed the model: the input
shape, the task, the class labels in the order of the model's outputs, and
where the model came from (strategy, trial, score, hyperparameters, and
every evaluation of its configuration with their mean, when the oracle
re-evaluated it).
"""

from __future__ import annotations

import datetime
import os
import tempfile

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.compat import write_json_atomically
from evokt.hypermodels.data import Dataset
from evokt.oracles.defaults import MEASURED_METRICS
from evokt.oracles.pareto import knee_point
from evokt.oracles.pareto import objective_value
from evokt.oracles.pareto import objective_vector
from evokt.oracles.pareto import objectives_of
from evokt.oracles.pareto import pareto_front
from evokt.oracles.trials import has_score
from evokt.oracles.trials import is_feasible
from evokt.oracles.trials import recommended_trials
from evokt.oracles.trials import reevaluations_in
from evokt.search.errors import NoCompletedTrialError
from evokt.search.errors import SpecError
from evokt.search.layout import BEST_FILE
from evokt.search.layout import FRONT_DIR
from evokt.search.layout import MODEL_FILE
from evokt.search.spec import SearchSpec


def chosen_trial(oracle: keras_tuner.Oracle, spec: SearchSpec) -> trial_module.Trial:
    """The trial a search exports, as its `pick` says (see `SearchSpec`).

    Raises:
        NoCompletedTrialError: No trial completed, or none met the constraints.
        SpecError: `pick` names a trial that cannot be exported.
    """
    recommended = recommended_trials(oracle, spec.constraints)
    if not recommended:
        if spec.constraints and any(has_score(trial) for trial in oracle.trials.values()):
            raise NoCompletedTrialError(
                f"no completed trial met the constraints ({_bounds(spec.constraints)}), so there "
                "is no model to export; see the trials with `evokt summary`")
        raise NoCompletedTrialError(
            "no trial completed, so there is no model to export; "
            "see the trials' messages with `evokt summary`"
        )
    if spec.pick is None:
        return recommended[0]
    if spec.pick.isdigit():
        for trial in recommended:
            if trial.trial_id == spec.pick:
                return trial
        raise SpecError(f"pick: trial {spec.pick} did not complete with a score within the "
                        "constraints (or is not a trial of this search)")
    objectives = objectives_of(oracle.objective)
    front = pareto_front(recommended, objectives) or recommended[:1]
    if spec.pick == "knee":
        return knee_point(front, objectives)
    axis = [objective.name for objective in objectives].index(spec.pick)
    return min(front, key=lambda trial: objective_vector(trial, objectives)[axis])


def _bounds(constraints: dict[str, float]) -> str:
    return ", ".join(f"{metric} <= {limit:g}" for metric, limit in constraints.items())


def export_best(
    tuner: keras_tuner.Tuner, dataset: Dataset, spec: SearchSpec, output_dir: str
) -> dict:
    """Saves the chosen trial's model and its description in `output_dir`.

    With several objectives, every trial of the Pareto front is saved too,
    in `output_dir/front/<trial id>/`, so another can be used (or published
    by the service) without searching again.

    Args:
        tuner: The tuner whose search has run.
        dataset: The data it was trained on.
        spec: The search's options.
        output_dir: Folder for `model.keras` and `best.json`; created if
            missing.

    Returns:
        The contents of `best.json`.

    Raises:
        NoCompletedTrialError: No trial completed, or none met the constraints.
    """
    best = chosen_trial(tuner.oracle, spec)
    objectives = objectives_of(tuner.oracle.objective)
    if len(objectives) > 1:
        for trial in pareto_front(recommended_trials(tuner.oracle, spec.constraints), objectives):
            export_trial(tuner, trial, dataset, spec, os.path.join(output_dir, FRONT_DIR,
                                                                   trial.trial_id))
    return export_trial(tuner, best, dataset, spec, output_dir)


def export_trial(
    tuner: keras_tuner.Tuner,
    trial: trial_module.Trial,
    dataset: Dataset,
    spec: SearchSpec,
    output_dir: str,
) -> dict:
    """Saves one trial's model and its description in `output_dir`.

    Both files are written to temporary names and renamed, so a reader never
    sees a half-written model.

    Returns:
        The contents of `best.json`.
    """
    model = tuner.load_model(trial)
    os.makedirs(output_dir, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=output_dir, prefix=".tmp-", suffix=".keras")
    os.close(fd)
    try:
        model.save(temporary)
        os.replace(temporary, os.path.join(output_dir, MODEL_FILE))
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    objectives = objectives_of(tuner.oracle.objective)
    values = [objective_value(trial, objective) for objective in objectives]
    # The configuration's first trial and the re-evaluations its estimate
    # counts: the recommendation rests on their mean, not on the first score.
    evaluations = [trial] + [
        tuner.oracle.trials[reevaluation]
        for reevaluation, first in reevaluations_in(tuner.oracle.get_state()).items()
        if first == trial.trial_id and has_score(tuner.oracle.trials[reevaluation])
        and is_feasible(tuner.oracle.trials[reevaluation], spec.constraints)]
    description = {
        "strategy": spec.oracle,
        "hypermodel": spec.hypermodel,
        "objective": {"name": objectives[0].name, "direction": objectives[0].direction},
        "objectives": [{"name": objective.name, "direction": objective.direction, "value": value}
                       for objective, value in zip(objectives, values, strict=True)],
        "score": values[0],
        "trial_id": trial.trial_id,
        "evaluations": [evaluation.trial_id for evaluation in evaluations],
        "mean_score": sum(objective_value(evaluation, objectives[0]) for evaluation in evaluations)
        / len(evaluations),
        "hyperparameters": trial.hyperparameters.values,
        "measures": {metric: trial.metrics.get_last_value(metric)
                     for metric in MEASURED_METRICS if trial.metrics.exists(metric)},
        "trials_run": len(tuner.oracle.end_order),
        "max_trials": spec.max_trials,
        "data": dataset.describe(),
        "model_file": MODEL_FILE,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "spec": spec.to_dict(),
    }
    write_json_atomically(os.path.join(output_dir, BEST_FILE), description)
    return description
