"""The one error format of the API: `{"error": "..."}` with a 4xx or 5xx code."""

from __future__ import annotations

import logging

from flask import Flask
from flask import jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client.

    Args:
        status: The HTTP status code.
        message: What went wrong, naming the field or resource.
        headers: Extra response headers (`WWW-Authenticate`, `Retry-After`).
    """

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict | None = None):
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def init_app(app: Flask) -> None:
    """Answers every error, Flask's own included, in the API's format."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = {"Allow": error.valid_methods} if getattr(error, "valid_methods", None) else {}
        if headers:
            headers["Allow"] = ", ".join(headers["Allow"])
        return error_response(error.code or 500, error.description or error.name, headers)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        logger.exception("unhandled error")
        return error_response(500, "internal error; see the server log")
