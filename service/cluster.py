"""A search's workers as its chief last wrote them: `GET /v1/searches/{id}`'s `cluster`.

The chief of a search with workers (local processes, or Ray actors with
`EVOKT_RAY_ADDRESS`) writes `workers.json` into the project directory
whenever a worker changes (`evokt.search.placement`). The service only reads
it, while the chief may be rewriting it, so a file that is missing, cut
short or not of the expected shape reads as no cluster: never a 500.
"""

from __future__ import annotations

import json
import os
from typing import Any

from evokt.search.layout import WORKERS_FILE
from evokt.search.placement import IDLE
from evokt.search.placement import LEFT
from evokt.search.placement import LOST
from evokt.search.placement import RUNNING
from evokt.search.placement import STARTING

ENGINES = ("local", "ray")
WORKER_STATES = (STARTING, RUNNING, IDLE, LOST, LEFT)

_NUMBER = (int, float)
_OPTIONAL_TEXT = (str, type(None))
# Each field of a worker and the JSON types it may hold (besides `state`,
# checked against WORKER_STATES, and `gpus`, `trials` and `resources`, checked inside).
_WORKER_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "state": (str,),
    "node": _OPTIONAL_TEXT,
    "host": _OPTIONAL_TEXT,
    "pid": (int, type(None)),
    "gpus": (list,),
    "resources": (dict,),
    "trial": _OPTIONAL_TEXT,
    "trials": (list,),
    "started": _NUMBER,
    "error": _OPTIONAL_TEXT,
}


def read_cluster(project_dir: str) -> dict[str, Any] | None:
    """The search's workers as `workers.json` in its project directory holds them.

    Args:
        project_dir: The search's KerasTuner project directory.

    Returns:
        `{"engine", "address", "updated", "workers": [...]}`, each worker with
        exactly the fields of `_WORKER_FIELDS`; None when the file is missing,
        unreadable, cut short or not of that shape.
    """
    try:
        with open(os.path.join(project_dir, WORKERS_FILE), encoding="utf-8") as file:
            content = json.loads(file.read(), parse_constant=_refuse_constant)
    except (OSError, ValueError):
        return None
    return _cluster_view(content)


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON; the API never passes them on.
    raise ValueError(f"{name} is not JSON")


def _cluster_view(content: Any) -> dict[str, Any] | None:
    if not isinstance(content, dict) or content.get("engine") not in ENGINES:
        return None
    address, updated, workers = (content.get(key) for key in ("address", "updated", "workers"))
    if not isinstance(address, _OPTIONAL_TEXT) or not _is_number(updated) \
            or not isinstance(workers, list):
        return None
    views = [_worker_view(worker) for worker in workers]
    if any(view is None for view in views):
        return None
    return {"engine": content["engine"], "address": address, "updated": updated,
            "workers": views}


def _worker_view(worker: Any) -> dict[str, Any] | None:
    if not isinstance(worker, dict):
        return None
    for name, kinds in _WORKER_FIELDS.items():
        value = worker.get(name, ...)  # a missing field is of no kind
        if isinstance(value, bool) or not isinstance(value, kinds):
            return None
    if worker["state"] not in WORKER_STATES \
            or not all(isinstance(gpu, str) for gpu in worker["gpus"]) \
            or not all(isinstance(trial, str) for trial in worker["trials"]) \
            or not all(_is_number(amount) for amount in worker["resources"].values()):
        return None
    return {name: worker[name] for name in _WORKER_FIELDS}


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)
