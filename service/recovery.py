"""`evokt store check` and `evokt store rebuild`: a damaged job store, found and rebuilt.

The job store is an index of what the data directory holds: each uploaded
dataset keeps its record beside its file (`datasets/<id>/dataset.json`), each
model version its `best.json`, and each search that started its KerasTuner
project (`searches/<id>/project`: the spec, the oracle's state, every trial)
and the request it came from (`searches/<id>/request.json`). So a store that
SQLite cannot read is rebuilt from them: the damaged file is kept beside the
new one, versions and datasets are registered again, a search that registered
its model is SUCCEEDED with its trials (and their metrics epoch by epoch, which
KerasTuner keeps in each `trial.json`), and one that had not finished is
RUNNING again, so the runner resumes it from its project and it ends with
exactly its `max_trials` trials. Searches still PENDING when the store was
damaged had written nothing, and must be posted again.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from dataclasses import field

from evokt.files import write_json_atomically
from evokt.hypermodels.errors import EvoktError
from evokt.search.layout import BEST_FILE
from evokt.search.layout import SPEC_FILE
from evokt.service.layout import STAGING_PREFIX
from evokt.service.layout import DataLayout
from evokt.service.store import RUNNING
from evokt.service.store import STORE_FILE
from evokt.service.store import SUCCEEDED
from evokt.service.store import JobStore
from evokt.service.store import new_id

logger = logging.getLogger(__name__)

# What a search process records of its request, and how a search that did not
# succeed ended, in its folder, for a rebuild.
REQUEST_FILE = "request.json"
ENDED_FILE = "ended.json"


class StoreDamagedError(EvoktError):
    """The job store cannot be read; the message says what to do."""


def record_ending(layout: DataLayout, search_id: str, state: str, error: str | None) -> None:
    """Keeps, in a search's folder, that it was CANCELLED or FAILED, for a rebuild.

    Args:
        layout: The data directory's layout.
        search_id: The search.
        state: Its final state.
        error: Why it failed, or None.
    """
    folder = layout.search_folder(search_id)
    if os.path.isdir(folder):
        try:
            write_json_atomically(os.path.join(folder, ENDED_FILE),
                                  {"state": state, "error": error})
        except OSError as failure:  # a full disk: the store has it, a rebuild may not
            logger.warning("could not record how search %s ended: %s", search_id, failure)


def store_problems(data_dir: str) -> list[str]:
    """What is wrong with a data directory's job store; [] when it is sound.

    Args:
        data_dir: The data directory.
    """
    path = os.path.join(data_dir, STORE_FILE)
    if not os.path.exists(path):
        return []
    try:
        store = JobStore(data_dir)
        try:
            return store.integrity_problems()
        finally:
            store.close()
    except sqlite3.DatabaseError as error:
        return [str(error)]


def check_store(data_dir: str) -> None:
    """Raises `StoreDamagedError`, saying what to do, if the job store is damaged.

    Args:
        data_dir: The data directory.
    """
    problems = store_problems(data_dir)
    if problems:
        path = os.path.join(data_dir, STORE_FILE)
        raise StoreDamagedError(
            f"the job store {path} is damaged ({problems[0]}); run 'evokt store rebuild "
            f"--data-dir {data_dir}' to rebuild it from the data directory (the damaged file "
            "is kept beside it)")


@dataclass
class Rebuilt:
    """What a rebuild registered, and what it could not.

    Args:
        damaged_file: Where the damaged store was moved, or None.
        datasets: Uploaded datasets registered again.
        versions: Model versions registered again, as "name/version".
        searches: Search id -> its state in the new store.
        skipped: What could not be registered, and why.
    """

    damaged_file: str | None = None
    datasets: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    searches: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def rebuild_store(data_dir: str) -> Rebuilt:
    """Moves a damaged job store aside and builds a new one from the data directory.

    Only while no server runs on the directory (`evokt serve` holds its lock).

    Args:
        data_dir: The data directory.
    """
    layout = DataLayout(data_dir)
    rebuilt = Rebuilt()
    path = os.path.join(layout.root, STORE_FILE)
    if os.path.exists(path):
        rebuilt.damaged_file = f"{path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{new_id()[:8]}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.rename(path + suffix, rebuilt.damaged_file + suffix)
    store = JobStore(layout.root)
    try:
        _datasets(store, layout, rebuilt)
        versions_of = _versions(store, layout, rebuilt)
        _searches(store, layout, versions_of, rebuilt)
    finally:
        store.close()
    return rebuilt


def _folders(parent: str) -> list[str]:
    if not os.path.isdir(parent):
        return []
    return sorted(name for name in os.listdir(parent)
                  if not name.startswith(STAGING_PREFIX) and os.path.isdir(
                      os.path.join(parent, name)))


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def _datasets(store: JobStore, layout: DataLayout, rebuilt: Rebuilt) -> None:
    from evokt.service.datasets import RECORD_FILE

    for dataset_id in _folders(os.path.dirname(layout.dataset_dir("x"))):
        record = _read_json(os.path.join(layout.dataset_dir(dataset_id), RECORD_FILE))
        if record is None or record.get("id") != dataset_id:
            rebuilt.skipped.append(f"dataset {dataset_id}: no readable {RECORD_FILE}")
            continue
        store.add_dataset(record)
        rebuilt.datasets.append(dataset_id)


def _versions(store: JobStore, layout: DataLayout, rebuilt: Rebuilt) -> dict[str, tuple]:
    """Registers every version folder again; returns search id -> (name, version, best)."""
    from evokt.service.versions import version_metadata

    models = os.path.join(layout.root, "models")
    versions_of: dict[str, tuple] = {}
    for name in _folders(models):
        numbers = sorted(int(v) for v in _folders(os.path.join(models, name)) if v.isdigit())
        for version in numbers:
            directory = layout.model_dir(name, version)
            best = _read_json(os.path.join(directory, BEST_FILE))
            if best is None:
                rebuilt.skipped.append(f"model {name} version {version}: no readable {BEST_FILE}")
                continue
            search_id = _search_exporting(layout, directory)
            store.restore_model_version(name, version, search_id, best["trial_id"],
                                        version_metadata(name, search_id, best),
                                        os.path.getmtime(directory))
            rebuilt.versions.append(f"{name}/{version}")
            if search_id is not None:
                versions_of.setdefault(search_id, (name, version, best))
    return versions_of


def _search_exporting(layout: DataLayout, version_dir: str) -> str | None:
    """The search whose export holds the model of `version_dir` (registering copies
    its `best.json`), or None: a search deleted since, or a published front trial."""
    searches = os.path.join(layout.root, "searches")
    with open(os.path.join(version_dir, BEST_FILE), "rb") as file:
        best = file.read()
    for search_id in _folders(searches):
        try:
            with open(os.path.join(layout.export_dir(search_id), BEST_FILE), "rb") as file:
                if file.read() == best:
                    return search_id
        except OSError:
            continue
    return None


def _searches(store: JobStore, layout: DataLayout, versions_of: dict[str, tuple],
              rebuilt: Rebuilt) -> None:
    for search_id in _folders(os.path.join(layout.root, "searches")):
        folder = layout.search_folder(search_id)
        spec = _read_json(os.path.join(layout.search_dir(search_id), SPEC_FILE))
        if spec is None:
            rebuilt.skipped.append(f"search {search_id}: it never started (no {SPEC_FILE}); "
                                   "post it again")
            continue
        registered = versions_of.get(search_id)
        # Searches that started before searches kept their request: the dataset is
        # in the spec, the model's name in its version (else the service's default).
        request = _read_json(os.path.join(folder, REQUEST_FILE)) or {
            "dataset": spec.get("dataset") or os.path.basename(os.path.dirname(
                spec.get("csv") or spec.get("npz") or "")),
            "model_name": registered[0] if registered else search_id}
        store.add_search(search_id, spec, request["dataset"], request["model_name"],
                         max_pending=2**62)
        ended = _read_json(os.path.join(folder, ENDED_FILE))
        if registered is not None:
            _record_trials(store, layout, search_id, registered[2])
            store.set_state(search_id, SUCCEEDED, model_version=registered[1],
                            started=request.get("started"))
        elif ended is not None:
            store.set_state(search_id, ended["state"], started=request.get("started"),
                            error=ended["error"])
        else:
            # The runner resumes it from its project.
            store.set_state(search_id, RUNNING, started=request.get("started", time.time()))
        rebuilt.searches[search_id] = store.search(search_id)["state"]


def _record_trials(store: JobStore, layout: DataLayout, search_id: str, best: dict) -> None:
    """A finished search's trials with their histories, read from its project's trial files."""
    from keras_tuner.engine import trial as trial_module

    from evokt.oracles.pareto import metric_at_best_step
    from evokt.oracles.trials import reevaluations_in
    from evokt.service.epochs import trial_epochs

    project = layout.search_dir(search_id)
    reevaluations = reevaluations_in(_read_json(os.path.join(project, "oracle.json")) or {})
    trials = []
    for name in sorted(os.listdir(project)):
        path = os.path.join(project, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            trials.append(trial_module.Trial.load(path))
    objective = best["objective"]
    for done, trial in enumerate(trials, start=1):
        store.record_trial(
            search_id,
            {"trial_id": trial.trial_id, "reevaluates": reevaluations.get(trial.trial_id),
             "status": trial.status, "score": trial.score,
             "hyperparameters": trial.hyperparameters.values, "message": trial.message,
             "ended": os.path.getmtime(os.path.join(project, f"trial_{trial.trial_id}")),
             "metrics": {metric: metric_at_best_step(trial, metric)
                         for metric in trial.metrics.metrics}},
            {"trials_done": done, "objective": objective["name"],
             "direction": objective["direction"],
             "objectives": [{"name": o["name"], "direction": o["direction"]}
                            for o in best["objectives"]],
             "best_score": best["score"], "best_trial": best["trial_id"],
             "best_hyperparameters": best["hyperparameters"]},
            epochs=trial_epochs(trial),
        )
