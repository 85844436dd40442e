"""Writing the best model of a search: `model.keras` and `best.json`.

`best.json` says everything a later server needs to feed the model: the input
shape, the task, the class labels in the order of the model's outputs, and
where the model came from (strategy, trial, score, hyperparameters).
"""

from __future__ import annotations

import datetime
import os
import tempfile

import keras_tuner

from hypermodels.data import Dataset
from tuner_ext.compat import write_json_atomically
from tuner_ext.oracles.trials import best_scored_trial
from tuner_ext.search.errors import NoCompletedTrialError
from tuner_ext.search.layout import BEST_FILE
from tuner_ext.search.layout import MODEL_FILE
from tuner_ext.search.spec import SearchSpec


def export_best(
    tuner: keras_tuner.Tuner, dataset: Dataset, spec: SearchSpec, output_dir: str
) -> dict:
    """Saves the best trial's model and its description in `output_dir`.

    Both files are written to temporary names and renamed, so a reader never
    sees a half-written model.

    Args:
        tuner: The tuner whose search has run.
        dataset: The data it was trained on.
        spec: The search's options.
        output_dir: Folder for `model.keras` and `best.json`; created if
            missing.

    Returns:
        The contents of `best.json`.

    Raises:
        NoCompletedTrialError: No trial completed.
    """
    best = best_scored_trial(tuner.oracle)
    if best is None:
        raise NoCompletedTrialError(
            "no trial completed, so there is no model to export; "
            "see the trials' messages with `evokt summary`"
        )
    model = tuner.load_model(best)
    os.makedirs(output_dir, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=output_dir, prefix=".tmp-", suffix=".keras")
    os.close(fd)
    try:
        model.save(temporary)
        os.replace(temporary, os.path.join(output_dir, MODEL_FILE))
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    objective = tuner.oracle.objective
    description = {
        "strategy": spec.oracle,
        "hypermodel": spec.hypermodel,
        "objective": {"name": objective.name, "direction": objective.direction},
        "score": best.score,
        "trial_id": best.trial_id,
        "hyperparameters": best.hyperparameters.values,
        "trials_run": len(tuner.oracle.end_order),
        "max_trials": spec.max_trials,
        "data": dataset.describe(),
        "model_file": MODEL_FILE,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "spec": spec.to_dict(),
    }
    write_json_atomically(os.path.join(output_dir, BEST_FILE), description)
    return description
