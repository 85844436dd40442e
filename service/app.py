"""The Flask application factory of evokt's REST service."""

from __future__ import annotations

import os
from typing import Any, Optional

from flask import Flask

from service import auth
from service import errors
from service import validation
from service.layout import DataLayout
from service.predictor import ModelCache
from service.store import JobStore

DEFAULTS: dict[str, Any] = {
    # The data directory: job store, datasets, searches, models, token.
    "DATA_DIR": "evokt-data",
    # The API token; None reads (or creates) the token file in DATA_DIR.
    "API_TOKEN": None,
    # Whether predictions and model reads go without the token.
    "PUBLIC_PREDICT": False,
    # Largest request body, in bytes (uploads included); larger gets 413.
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # Searches that may wait as PENDING before new ones get 429.
    "MAX_PENDING_SEARCHES": 20,
    # Rows one prediction request may hold.
    "MAX_PREDICT_ROWS": 10_000,
    # Seconds between two looks at the job store in an event stream.
    "EVENTS_POLL_SECONDS": 0.5,
}


def create_app(config: Optional[dict[str, Any]] = None) -> Flask:
    """Builds the service.

    Configuration comes from `DEFAULTS`, then `EVOKT_*` environment variables
    (`EVOKT_DATA_DIR`, `EVOKT_API_TOKEN`, `EVOKT_PUBLIC_PREDICT`, ...), then
    `config`.

    Args:
        config: Overrides, such as a test's temporary `DATA_DIR`.
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("EVOKT")
    if config:
        app.config.update(config)
    app.json.sort_keys = False

    layout = DataLayout(str(app.config["DATA_DIR"]))
    os.makedirs(layout.root, exist_ok=True)
    if not app.config["API_TOKEN"]:
        app.config["API_TOKEN"], _ = auth.load_or_create_token(layout.token_file)
    store = JobStore(layout.root)
    app.extensions["evokt.layout"] = layout
    app.extensions["evokt.store"] = store
    app.extensions["evokt.models"] = ModelCache(layout, store)

    from service import datasets
    from service import health
    from service import models
    from service import openapi
    from service import searches

    for module in (health, openapi, datasets, searches, models):
        app.register_blueprint(module.blueprint)
    errors.init_app(app)
    auth.init_app(app)
    validation.init_app(app)
    return app
