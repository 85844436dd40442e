"""Checks on what a request sends: names, ids, JSON bodies and numbers."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask
from flask import current_app
from flask import request

from evokt.search.names import NAME_PATTERN
from evokt.search.names import is_valid_name
from evokt.service.errors import ApiError

# The query parameters each endpoint takes; any other is a mistake to report.
QUERY_PARAMETERS = {"searches.list_searches": {"state"}, "searches.get_trials": {"history"},
                    "exports.export_version": {"format"}}


def check_name(value: Any, field: str) -> str:
    """`value` if it is a valid name or id, else a 400 naming `field`."""
    if not is_valid_name(value):
        raise ApiError(400, f"{field}: must match {NAME_PATTERN}")
    return value


def query_flag(name: str) -> bool:
    """A query parameter that is `true` or `false` (false when absent), or a 400 naming it."""
    value = request.args.get(name, "false")
    if value not in ("true", "false"):
        raise ApiError(400, f"{name}: must be true or false")
    return value == "true"


def json_body(max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 400 (413 over `max_bytes`).

    Any content type is read as JSON, as TensorFlow Serving does, so a
    `curl -d` without `-H 'Content-Type: application/json'` works.

    Args:
        max_bytes: A body limit for this endpoint, below the service's own.
    """
    if max_bytes is not None:
        request.max_content_length = max_bytes
    raw = request.get_data(cache=False)
    limit = request.max_content_length
    # werkzeug refuses a Content-Length over the limit, but reads a body without
    # one (chunked) up to the limit and stops there silently: more is over it.
    if (request.content_length is None and limit is not None and len(raw) >= limit
            and request.environ["wsgi.input"].read(1)):
        raise ApiError(413, f"the request body is over the limit of {limit} bytes")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    except ValueError:
        raise ApiError(400, "the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def check_json(value: Any, field: str) -> None:
    """A 400 if a JSON value nests deeper than the service allows, or holds
    NaN or infinity (Python's json accepts them).

    Walks the value with a stack of its own, so depth costs no recursion.
    """
    max_depth = current_app.config["MAX_JSON_DEPTH"]
    pending: list[tuple[Any, str, int]] = [(value, field, 0)]
    while pending:
        item, path, depth = pending.pop()
        if depth > max_depth:
            raise ApiError(400, f"{path}: nested deeper than {max_depth} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ApiError(400, f"{path}: NaN and infinity are not allowed")
        if isinstance(item, dict):
            pending += [(child, f"{path}.{key}", depth + 1) for key, child in item.items()]
        elif isinstance(item, list):
            pending += [(child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item)]


def init_app(app: Flask) -> None:
    """Refuses query parameters an endpoint does not take (a typo is not ignored)."""

    @app.before_request
    def check_query_parameters() -> None:
        allowed = QUERY_PARAMETERS.get(request.endpoint or "", set())
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            raise ApiError(400, f"{unknown[0]}: unknown query parameter")
