"""Kubernetes probes, at KServe's paths: `/v2/health/live` and `/v2/health/ready`."""

from __future__ import annotations

import os
import sqlite3

from flask import Blueprint
from flask import current_app
from flask import jsonify

from evokt.service.disk import low_space
from evokt.service.errors import ApiError
from evokt.service.predictor import END
from evokt.service.predictor import ModelCache
from evokt.service.predictor import unloadable_message
from evokt.service.store import get_store

blueprint = Blueprint("health", __name__, url_prefix="/v2/health")


@blueprint.get("/live")
def live():
    """The process answers."""
    return jsonify(live=True)


@blueprint.get("/ready")
def ready():
    """The job store answers, the data directory is writable with more than
    `MIN_FREE_BYTES` free, and every model's latest version can be loaded."""
    try:
        get_store().searches(state="PENDING")
    except sqlite3.Error as error:
        raise ApiError(503, f"the job store is not available: {error}") from None
    if not os.access(current_app.config["DATA_DIR"], os.W_OK):
        raise ApiError(503, "the data directory is not writable")
    full = low_space(current_app.config["DATA_DIR"], current_app.config["MIN_FREE_BYTES"])
    if full is not None:
        raise ApiError(503, f"{full} (predictions and reads still answer)")
    unloadable = _unloadable_models()
    if unloadable:
        raise ApiError(503, "; ".join(unloadable))
    return jsonify(ready=True)


def _unloadable_models() -> list[str]:
    """Why each model whose latest version cannot be loaded is not ready.

    KServe's server readiness means every model is ready; a model is served by
    its latest version, so a latest version whose file is missing or damaged
    (or failed to load in this worker) makes the server not ready.
    """
    cache: ModelCache = current_app.extensions["evokt.models"]
    problems = []
    for record in get_store().latest_versions():
        state, failure = cache.state(record)
        if state == END:
            problems.append(unloadable_message(record, failure))
    return problems
