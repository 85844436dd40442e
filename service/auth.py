"""Bearer-token authentication of the API.

The token comes from `EVOKT_API_TOKEN`, or else from the file `api-token` in
the data directory, which the first start creates (readable by its owner
only). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets

from flask import Flask
from flask import current_app
from flask import request

from service.errors import ApiError

# Endpoints anyone may call: Kubernetes probes and the API description.
PUBLIC_ENDPOINTS = {"health.live", "health.ready", "openapi.document", "static"}
# Endpoints that `--public-predict` opens: predictions and model reads.
PREDICT_ENDPOINTS = {
    "models.list_models",
    "models.model_status",
    "models.model_metadata",
    "models.predict_latest",
    "models.predict_version",
}


def load_or_create_token(token_file: str) -> tuple[str, bool]:
    """The token stored in `token_file`, created if missing.

    Returns:
        The token, and whether this call created it.
    """
    os.makedirs(os.path.dirname(token_file), exist_ok=True)
    try:
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(token_file, encoding="utf-8") as file:
            return file.read().strip(), False
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token, True


def init_app(app: Flask) -> None:
    """Requires the bearer token on every endpoint that is not public."""

    @app.before_request
    def require_token() -> None:
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or request.url_rule is None:
            return
        if current_app.config["PUBLIC_PREDICT"] and endpoint in PREDICT_ENDPOINTS:
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expected = current_app.config["API_TOKEN"]
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            raise ApiError(
                401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="evokt"'}
            )
