"""Kubernetes probes, at KServe's paths: `/v2/health/live` and `/v2/health/ready`."""

from __future__ import annotations

import os

from flask import Blueprint
from flask import current_app
from flask import jsonify

from service.errors import ApiError

blueprint = Blueprint("health", __name__, url_prefix="/v2/health")


@blueprint.get("/live")
def live():
    """The process answers."""
    return jsonify(live=True)


@blueprint.get("/ready")
def ready():
    """The job store answers and the data directory is writable."""
    store = current_app.extensions["evokt.store"]
    try:
        store.searches(state="PENDING")
    except Exception as error:  # any failure of the store means not ready
        raise ApiError(503, f"the job store is not available: {error}") from None
    if not os.access(store.data_dir, os.W_OK):
        raise ApiError(503, "the data directory is not writable")
    return jsonify(ready=True)
