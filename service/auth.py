"""Bearer-token authentication of the API.

The token comes from `EVOKT_API_TOKEN`, or else from the file `api-token` in
the data directory, which the first start creates (readable by its owner
only). Either must be at least `config.MIN_TOKEN_LENGTH` characters: the
service refuses to start with an empty or short token. Tokens are compared
in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets

from flask import Flask
from flask import current_app
from flask import request

from evokt.service.config import check_token
from evokt.service.errors import ApiError

# Endpoints anyone may call: Kubernetes probes, the API description, and the
# dashboard's page and files (they hold no data; its API calls need the token).
PUBLIC_ENDPOINTS = {
    "health.live", "health.ready", "openapi.document", "static",
    "dashboard.index", "dashboard.static",
}
# Endpoints that `--public-predict` opens: predictions and model reads, in both
# protocols. Not the exports: the weights themselves stay behind the token.
PREDICT_ENDPOINTS = {
    "models.list_models",
    "models.model_status",
    "models.version_status",
    "models.model_metadata",
    "models.version_metadata",
    "models.predict_latest",
    "models.predict_version",
    "inference.server_metadata",
    "inference.model_metadata",
    "inference.version_metadata",
    "inference.model_ready",
    "inference.version_ready",
    "inference.infer_latest",
    "inference.infer_version",
}


def load_or_create_token(token_file: str) -> tuple[str, bool]:
    """The token stored in `token_file`, created if missing.

    Returns:
        The token, and whether this call created it.

    Raises:
        ConfigError: The file holds an empty or short token.
    """
    try:
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(token_file, encoding="utf-8", errors="replace") as file:
            return check_token(file.read(), token_file), False
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token, True


def resolve_token(configured: str | None, token_file: str) -> tuple[str, str]:
    """The API token, and where it came from, in words.

    Args:
        configured: The `API_TOKEN` setting (`EVOKT_API_TOKEN`), or None.
        token_file: The token file, read or created when `configured` is None.

    Raises:
        ConfigError: The token is empty or short.
    """
    if configured is not None:
        return check_token(configured, "EVOKT_API_TOKEN"), "taken from EVOKT_API_TOKEN"
    token, created = load_or_create_token(token_file)
    verb = "generated and stored in" if created else "read from"
    return token, f"{verb} {token_file} (readable by its owner only)"


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
