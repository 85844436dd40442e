"""Model versions: a search's exported model moved into the model store and registered.

A search process registers its recommended model when it ends; a search of
several objectives also keeps every model of its Pareto front
(`searches/<id>/export/front/<trial id>/`), and `POST .../publish` registers
one of them later. Both go through `register_model`.
"""

from __future__ import annotations

import json
import os
import shutil

from evokt.search.layout import BEST_FILE
from evokt.search.layout import MODEL_FILE
from evokt.service.layout import STAGING_PREFIX
from evokt.service.layout import DataLayout
from evokt.service.store import JobStore


def read_export(export_dir: str) -> dict:
    """The `best.json` of an exported model."""
    with open(os.path.join(export_dir, BEST_FILE), encoding="utf-8") as file:
        return json.load(file)


def version_metadata(name: str, search_id: str | None, best: dict) -> dict:
    """A model version's registered description, from its exported `best.json`.

    Args:
        name: The model's name.
        search_id: The search it came from, if known.
        best: The export's `best.json`.
    """
    data = best["data"]
    return {
        "name": name,
        "search_id": search_id,
        "task": data["task"],
        "input_shape": data["input_shape"],
        "class_labels": data["class_labels"],
        "feature_names": data["feature_names"],
        "objective": best["objective"],
        "objectives": best["objectives"],
        "score": best["score"],
        "measures": best["measures"],
        "trial_id": best["trial_id"],
        "strategy": best["strategy"],
        "hyperparameters": best["hyperparameters"],
    }


def register_model(
    store: JobStore,
    layout: DataLayout,
    search_id: str,
    name: str,
    export_dir: str,
    finish_search: bool = True,
) -> int:
    """Registers the model exported in `export_dir` as a version of `name`.

    The model's files are staged beside their final place and renamed into it
    inside the transaction that registers the version
    (`JobStore.register_model_version`), so a version is never listed without
    its files, and a trial registered twice (a search run by a second server,
    restarted after a kill, or a trial published twice) keeps one version.

    Args:
        store: The job store.
        layout: The data directory's layout.
        search_id: The search the model comes from.
        name: The model's name.
        export_dir: Where the search exported it (`model.keras`, `best.json`).
        finish_search: Also mark the search SUCCEEDED with this version.

    Returns:
        The version number.
    """
    best = read_export(export_dir)
    staging = os.path.join(os.path.dirname(layout.model_dir(name, 1)),
                           f"{STAGING_PREFIX}{search_id}-{best['trial_id']}")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for file_name in (MODEL_FILE, BEST_FILE):
        shutil.copyfile(os.path.join(export_dir, file_name), os.path.join(staging, file_name))
    metadata = version_metadata(name, search_id, best)

    def place_files(version: int) -> None:
        target = layout.model_dir(name, version)
        # A directory left by a process killed before its commit is garbage.
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)

    try:
        return store.register_model_version(search_id, best["trial_id"], name, metadata,
                                            place_files, finish_search)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
