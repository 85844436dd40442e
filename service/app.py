"""The Flask application factory of evokt's REST service."""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask

from evokt.service import auth
from evokt.service import config
from evokt.service import errors
from evokt.service import store
from evokt.service import validation
from evokt.service.layout import DataLayout
from evokt.service.limits import BodyDeadline
from evokt.service.predictor import ModelCache
from evokt.service.store import JobStore


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Builds the service.

    Settings come from `evokt.service.config.SETTINGS`' defaults, then `EVOKT_*`
    environment variables (`EVOKT_DATA_DIR`, `EVOKT_API_TOKEN`,
    `EVOKT_PUBLIC_PREDICT`, ...), each read as its setting's type, then
    `overrides`.

    Args:
        overrides: Settings that win over the others, such as a test's
            temporary `DATA_DIR`.

    Raises:
        evokt.service.config.ConfigError: A setting of the wrong type, or an empty
            or short API token.
    """
    app = Flask(__name__)
    app.config.from_mapping(config.defaults())
    app.config.update(config.from_environment(os.environ))
    app.config.update(overrides or {})
    app.json.sort_keys = False

    layout = DataLayout(str(app.config["DATA_DIR"]))
    layout.create()
    app.config["DATA_DIR"] = layout.root
    app.config["API_TOKEN"], _ = auth.resolve_token(app.config["API_TOKEN"], layout.token_file)
    store.init_app(app)
    app.extensions["evokt.layout"] = layout
    models = app.extensions["evokt.models"] = ModelCache(layout, app.config["MODEL_CACHE_SIZE"])
    if app.config["WARM_MODELS"]:
        job_store = JobStore(layout.root)
        latest = [job_store.model_version(name) for name in job_store.model_names()]
        job_store.close()
        threading.Thread(target=models.warm, args=(latest,), daemon=True).start()
    app.extensions["evokt.event_streams"] = threading.BoundedSemaphore(
        app.config["MAX_EVENT_STREAMS"])

    from evokt.service import dashboard
    from evokt.service import datasets
    from evokt.service import health
    from evokt.service import models
    from evokt.service import openapi
    from evokt.service import searches

    for module in (health, openapi, datasets, searches, models, dashboard):
        app.register_blueprint(module.blueprint)
    errors.init_app(app)
    auth.init_app(app)
    validation.init_app(app)
    app.wsgi_app = BodyDeadline(app.wsgi_app, app.config["BODY_READ_SECONDS"])
    return app
