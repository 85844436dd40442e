"""Kubernetes probes, at KServe's paths: `/v2/health/live` and `/v2/health/ready`."""

from __future__ import annotations

import os
import sqlite3

from flask import Blueprint
from flask import current_app
from flask import jsonify

from evokt.service.errors import ApiError
from evokt.service.store import get_store

blueprint = Blueprint("health", __name__, url_prefix="/v2/health")


@blueprint.get("/live")
def live():
    """The process answers."""
    return jsonify(live=True)


@blueprint.get("/ready")
def ready():
    """The job store answers and the data directory is writable."""
    try:
        get_store().searches(state="PENDING")
    except sqlite3.Error as error:
        raise ApiError(503, f"the job store is not available: {error}") from None
    if not os.access(current_app.config["DATA_DIR"], os.W_OK):
        raise ApiError(503, "the data directory is not writable")
    return jsonify(ready=True)
