"""The Flask application factory of evokt's REST service."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from evokt.service import auth
from evokt.service import config
from evokt.service import errors
from evokt.service import store
from evokt.service import validation
from evokt.service.layout import DataLayout
from evokt.service.limits import BodyDeadline
from evokt.service.limits import StreamSlots
from evokt.service.predictor import ModelCache
from evokt.service.predictor import ModelWatcher


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
    # werkzeug answers `/v1//models` with an HTML redirect that bypasses the
    # error handlers; unmerged, it is a JSON 404 like any unknown path.
    app.url_map.merge_slashes = False

    layout = DataLayout(str(app.config["DATA_DIR"]))
    layout.create()
    app.config["DATA_DIR"] = layout.root
    app.config["API_TOKEN"], _ = auth.resolve_token(app.config["API_TOKEN"], layout.token_file)
    store.init_app(app)
    app.extensions["evokt.layout"] = layout
    cache = app.extensions["evokt.models"] = ModelCache(
        layout, app.config["MODEL_CACHE_SIZE"], app.config["MODEL_RETRY_SECONDS"])
    if app.config["WARM_MODELS"]:
        # create_app runs in each gunicorn worker after the fork, so the thread is the worker's.
        watcher = app.extensions["evokt.model_watcher"] = ModelWatcher(
            cache, layout.root, app.config["MODEL_WATCH_SECONDS"])
        watcher.start()
    app.extensions["evokt.event_streams"] = StreamSlots(layout.event_stream_slots,
                                                        app.config["MAX_EVENT_STREAMS"])

    from evokt.service import dashboard
    from evokt.service import datasets
    from evokt.service import exports
    from evokt.service import health
    from evokt.service import models
    from evokt.service import open_inference
    from evokt.service import openapi
    from evokt.service import searches

    # Before the blueprints: a rule's converters are looked up as it is added.
    app.url_map.converters["version"] = models.VersionConverter
    for module in (health, openapi, datasets, searches, models, exports, open_inference,
                   dashboard):
        app.register_blueprint(module.blueprint)
    errors.init_app(app)
    auth.init_app(app)
    validation.init_app(app)
    app.wsgi_app = BodyDeadline(app.wsgi_app, app.config["BODY_READ_SECONDS"])
    return app
