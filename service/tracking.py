"""Where the service's searches are logged: the server's settings, never a request's.

A client must not make the server write to a path of its choosing, so the
search fields `tensorboard` and `mlflow` come from `EVOKT_TENSORBOARD_DIR`
(each search in a folder of its own, named by its id) and
`EVOKT_MLFLOW_TRACKING_URI`; a request that sets them is refused.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from evokt.search.spec import SearchSpec
from evokt.search.tracking import mlflow_installed
from evokt.service import config

# Each search field the server sets, and the setting it comes from.
TRACKING_SETTINGS = {"tensorboard": "TENSORBOARD_DIR", "mlflow": "MLFLOW_TRACKING_URI"}


def refused_field(body: Mapping) -> str | None:
    """Why a search request may not be taken for the trackers it names, or None.

    Args:
        body: The request's body.
    """
    for field, name in TRACKING_SETTINGS.items():
        if body.get(field) is not None:
            return (f"{field}: this server chooses where searches are logged "
                    f"({config.ENV_PREFIX}{name}); a request cannot set it")
    return None


def check_tracking(settings: Mapping[str, object]) -> None:
    """Refuses to start a service whose searches could not log where it says.

    Args:
        settings: The settings given (`config.from_environment`).

    Raises:
        config.ConfigError: `EVOKT_MLFLOW_TRACKING_URI` without mlflow installed.
    """
    if str(settings.get("MLFLOW_TRACKING_URI", "")).strip() and not mlflow_installed():
        raise config.ConfigError(f"{config.ENV_PREFIX}MLFLOW_TRACKING_URI needs mlflow: pip "
                                 "install 'evokt[mlflow]'")


def tracked(spec: SearchSpec, search_id: str, environ: Mapping[str, str]) -> SearchSpec:
    """The spec with the server's trackers.

    Args:
        spec: The search as requested.
        search_id: Its id, its folder's name under `EVOKT_TENSORBOARD_DIR`.
        environ: The environment, with the service's settings.
    """
    log_dir = config.setting("TENSORBOARD_DIR", environ).strip()
    tracking_uri = config.setting("MLFLOW_TRACKING_URI", environ).strip()
    return dataclasses.replace(
        spec, tensorboard=os.path.join(log_dir, search_id) if log_dir else None,
        mlflow=tracking_uri or None)
