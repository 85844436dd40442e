"""Checks on what a request sends: names, ids, JSON bodies and numbers."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Flask
from flask import request

from service.errors import ApiError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The query parameters each endpoint takes; any other is a mistake to report.
QUERY_PARAMETERS = {"searches.list_searches": {"state"}}


def check_name(value: Any, field: str) -> str:
    """`value` if it is a valid name or id, else a 400 naming `field`."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ApiError(400, f"{field}: must match [A-Za-z0-9_-]{{1,64}}")
    return value


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def reject_non_finite(value: Any, field: str) -> None:
    """A 400 if a JSON value holds NaN or infinity (Python's json accepts them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, f"{field}: NaN and infinity are not allowed")
    if isinstance(value, dict):
        for key, item in value.items():
            reject_non_finite(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            reject_non_finite(item, f"{field}[{index}]")


def init_app(app: Flask) -> None:
    """Refuses query parameters an endpoint does not take (a typo is not ignored)."""

    @app.before_request
    def check_query_parameters() -> None:
        allowed = QUERY_PARAMETERS.get(request.endpoint or "", set())
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            raise ApiError(400, f"{unknown[0]}: unknown query parameter")
