"""The service's settings: defaults, then `EVOKT_*` environment variables, then overrides.

Every setting has a type, and an environment value is read as that type (a
string stays a string: `EVOKT_API_TOKEN=123456` is the token "123456", not a
number), so a value of the wrong type is a clear error at start, not a 500 at
the first request. The API token is checked here too: an empty or short one
would leave the API open, so the service refuses to start with one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from evokt.hypermodels.errors import EvoktError

ENV_PREFIX = "EVOKT_"
MIN_TOKEN_LENGTH = 16

# name -> (type, default). The type of a None default is given explicitly.
SETTINGS: dict[str, tuple[type, Any]] = {
    # The data directory: job store, datasets, searches, models, token.
    "DATA_DIR": (str, "evokt-data"),
    # The API token; None reads (or creates) the token file in DATA_DIR.
    "API_TOKEN": (str, None),
    # Whether predictions and model reads go without the token.
    "PUBLIC_PREDICT": (bool, False),
    # Largest request body, in bytes (uploads included); larger gets 413.
    "MAX_CONTENT_LENGTH": (int, 64 * 1024 * 1024),
    # Largest prediction request body, in bytes; larger gets 413.
    "MAX_PREDICT_BYTES": (int, 8 * 1024 * 1024),
    # Rows one prediction request may hold.
    "MAX_PREDICT_ROWS": (int, 10_000),
    # Largest uploaded dataset, in bytes its arrays take once loaded and split
    # (`evokt.hypermodels.data.loaded_bytes`: x as float32, y as held); an NPZ's
    # declared shapes are checked against it before anything is read.
    "MAX_DATASET_BYTES": (int, 512 * 1024 * 1024),
    # Deepest nesting of arrays and objects a JSON body may have.
    "MAX_JSON_DEPTH": (int, 32),
    # Seconds a client has to send a request's headers (gunicorn worker).
    "HEADER_SECONDS": (float, 10.0),
    # Connections a web worker holds at once (gunicorn's `worker_connections`);
    # past it, the oldest still sending its headers is closed for each new one.
    "MAX_CONNECTIONS": (int, 10_000),
    # Seconds a client has to send a request body the service reads.
    "BODY_READ_SECONDS": (float, 30.0),
    # Free bytes the data directory's disk must keep: below it, new uploads and
    # searches get 507, running searches pause (resuming once there is room
    # again) and readiness fails; predictions and reads go on.
    "MIN_FREE_BYTES": (int, 256 * 1024 * 1024),
    # Searches that may wait as PENDING before new ones get 429.
    "MAX_PENDING_SEARCHES": (int, 20),
    # Worker processes one search may ask for (`workers`).
    "MAX_SEARCH_WORKERS": (int, max(1, os.cpu_count() or 1)),
    # The Ray cluster every search's workers run on (as `ray.init` takes it:
    # auto, HOST:PORT, ray://HOST:10001, local); empty runs them as local processes.
    "RAY_ADDRESS": (str, ""),
    # The folder every search writes its TensorBoard logs under, in a folder
    # named by its id; empty writes none.
    "TENSORBOARD_DIR": (str, ""),
    # The MLflow tracking URI every search is logged to (needs evokt[mlflow]);
    # empty logs none.
    "MLFLOW_TRACKING_URI": (str, ""),
    # Model versions a web worker keeps loaded; the least recently used goes first.
    "MODEL_CACHE_SIZE": (int, 8),
    # Whether a web worker loads the latest version of every model as it
    # starts (in the background), so the first prediction does not wait.
    "WARM_MODELS": (bool, False),
    # Seconds between a web worker's looks for newly registered model versions
    # (with WARM_MODELS), which it loads before it serves them.
    "MODEL_WATCH_SECONDS": (float, 2.0),
    # Seconds before a model version that failed to load (a missing or damaged
    # file) is tried again; its predictions get 503 meanwhile.
    "MODEL_RETRY_SECONDS": (float, 10.0),
    # Event streams the service (all its web workers) holds open at once; past it, 503.
    "MAX_EVENT_STREAMS": (int, 256),
    # Seconds an event stream stays open before the client must reconnect.
    "EVENT_STREAM_SECONDS": (float, 600.0),
    # Seconds between two looks at the job store in an event stream.
    "EVENTS_POLL_SECONDS": (float, 0.5),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(EvoktError):
    """A setting is unusable; the message names it."""


def defaults() -> dict[str, Any]:
    return {name: default for name, (_, default) in SETTINGS.items()}


def setting(name: str, environ: Mapping[str, str]) -> Any:
    """One setting: its `EVOKT_<NAME>` variable, else its default."""
    return from_environment(environ).get(name, SETTINGS[name][1])


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings given as `EVOKT_<NAME>` variables, each read as its type.

    Raises:
        ConfigError: A value that is not of its setting's type.
    """
    values = {}
    for name, (kind, _) in SETTINGS.items():
        text = environ.get(ENV_PREFIX + name)
        if text is not None:
            values[name] = _parse(name, kind, text)
    return values


def _parse(name: str, kind: type, text: str) -> Any:
    if kind is str:
        return text
    if kind is bool:
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        raise ConfigError(f"{ENV_PREFIX}{name}: expected true or false, got {text!r}")
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name}: expected a {kind.__name__}, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{ENV_PREFIX}{name}: must be positive, got {text!r}")
    return value


def check_token(token: Any, source: str) -> str:
    """The token, stripped, if it is long enough to guard the API.

    Args:
        token: The token as read.
        source: Where it came from, for the message.

    Raises:
        ConfigError: Not a string, or shorter than `MIN_TOKEN_LENGTH`.
    """
    if not isinstance(token, str) or len(token.strip()) < MIN_TOKEN_LENGTH:
        length = len(token.strip()) if isinstance(token, str) else 0
        raise ConfigError(
            f"the API token from {source} is {'empty' if not length else f'{length} characters'};"
            f" it must be at least {MIN_TOKEN_LENGTH} characters (or remove it and evokt "
            "generates one)"
        )
    return token.strip()
