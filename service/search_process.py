"""One search, in its own process: `python -m service.search_process DATA_DIR SEARCH_ID`.

The runner starts one of these per running search. It runs the search
through `tuner_ext.search.run_search` (the code path of `evokt search`),
records every trial in the job store, and on success registers the best
model as a new version of the requested model. A search whose project
directory already holds state is resumed, so a process killed at any moment
is simply started again.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from hypermodels.errors import EvoktError
from service.layout import DataLayout
from service.store import FAILED
from service.store import RUNNING
from service.store import JobStore
from tuner_ext.oracles.trials import best_scored_trial
from tuner_ext.oracles.trials import has_score
from tuner_ext.search.layout import SPEC_FILE
from tuner_ext.search.observe import SearchObserver
from tuner_ext.search.pipeline import run_search
from tuner_ext.search.spec import SearchSpec


class StoreObserver(SearchObserver):
    """Records each ended trial and the search's progress in the job store.

    Args:
        store: The job store.
        search_id: The search being run.
    """

    def __init__(self, store: JobStore, search_id: str):
        self.store = store
        self.search_id = search_id

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        best = best_scored_trial(oracle)
        self.store.record_trial(
            self.search_id,
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "score": trial.score if has_score(trial) else None,
                "hyperparameters": trial.hyperparameters.values,
                "message": trial.message,
                "ended": time.time(),
            },
            {
                "trials_done": len(oracle.end_order),
                "objective": oracle.objective.name,
                "direction": oracle.objective.direction,
                "best_score": best.score if best else None,
                "best_trial": best.trial_id if best else None,
                "best_hyperparameters": best.hyperparameters.values if best else None,
            },
        )


def register_model(
    store: JobStore, layout: DataLayout, search_id: str, name: str, best: dict[str, Any]
) -> int:
    """Moves the exported model into the model store as the search's version.

    The files are staged beside their final place and renamed into it inside
    the transaction that registers the version (`JobStore.register_model_version`),
    so a version is never listed without its files, and a search run twice
    (a second server, a restart after a kill) registers one version.

    Returns:
        The search's version number.
    """
    staging = os.path.join(os.path.dirname(layout.model_dir(name, 1)), f".tmp-{search_id}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(layout.export_dir(search_id), staging)
    data = best["data"]
    metadata = {
        "name": name,
        "search_id": search_id,
        "task": data["task"],
        "input_shape": data["input_shape"],
        "class_labels": data["class_labels"],
        "feature_names": data["feature_names"],
        "objective": best["objective"],
        "score": best["score"],
        "trial_id": best["trial_id"],
        "strategy": best["strategy"],
        "hyperparameters": best["hyperparameters"],
    }

    def place_files(version: int) -> None:
        target = layout.model_dir(name, version)
        # A directory left by a process killed before its commit is garbage.
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)

    try:
        return store.register_model_version(search_id, name, metadata, place_files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run(data_dir: str, search_id: str) -> int:
    """Runs one search to its end; returns the process exit status."""
    store = JobStore(data_dir)
    layout = DataLayout(data_dir)
    record = store.search(search_id)
    if record is None or record["state"] != RUNNING:
        return 0
    project_dir = layout.search_dir(search_id)
    resume = os.path.exists(os.path.join(project_dir, SPEC_FILE))
    if not resume:
        # A process killed before it saved the spec left nothing to resume.
        shutil.rmtree(project_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(project_dir), exist_ok=True)
    try:
        spec = SearchSpec.from_dict(record["spec"])
        outcome = run_search(
            None if resume else spec,
            project_dir,
            layout.export_dir(search_id),
            resume=resume,
            observer=StoreObserver(store, search_id),
        )
        register_model(store, layout, search_id, record["model_name"], outcome.best)
    except EvoktError as error:
        store.set_state(search_id, FAILED, expected=(RUNNING,), error=str(error))
        return 1
    return 0


def main() -> None:
    data_dir, search_id = sys.argv[1:3]
    sys.exit(run(data_dir, search_id))


if __name__ == "__main__":
    main()
