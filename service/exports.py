"""`GET /v1/models/{name}/versions/{version}/export?format=...`: a version in the formats
people deploy.

Each format is built on its first request (converted, then loaded in its own
runtime and compared with the Keras model, by `evokt.search.formats`) and kept
beside the version, in `models/NAME/VERSION/exports/`, so later downloads are
a file read and deleting the version deletes its exports. A SavedModel comes
as a gzipped tar of `NAME/VERSION/...`, ready to unpack into TensorFlow
Serving's model base path. One build of a version's format runs at a time
across the service's workers (a lock file beside it); the others wait for it
and send what it wrote.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import request
from flask import send_file

from evokt.search.formats import FORMATS
from evokt.search.formats import ExportError
from evokt.search.formats import archive_saved_model
from evokt.search.formats import export_model
from evokt.search.layout import MODEL_FILE
from evokt.service.disk import require_space
from evokt.service.errors import ApiError
from evokt.service.layout import STAGING_PREFIX
from evokt.service.models import serving_version
from evokt.service.predictor import check_model_file
from evokt.service.predictor import unloadable_message

blueprint = Blueprint("exports", __name__, url_prefix="/v1/models")

EXPORTS_DIR = "exports"
# What each format's download is called after the model's name and version, and its type.
SUFFIXES = {"saved_model": "-saved_model.tar.gz", "onnx": ".onnx", "litert": ".tflite",
            "keras": ".keras"}
# Conversions one web worker runs at once (each loads TensorFlow's converters and the model).
_CONVERSIONS = threading.BoundedSemaphore(1)
MIMETYPES = {"saved_model": "application/gzip", "onnx": "application/octet-stream",
             "litert": "application/octet-stream", "keras": "application/zip"}


@blueprint.get("/<name>/versions/<version:version>/export")
def export_version(name: str, version: int):
    """Downloads one version as `format`: saved_model, onnx, litert or keras."""
    record = serving_version(name, version)
    export_format = request.args.get("format")
    if export_format not in FORMATS:
        given = "none was given" if export_format is None else f"got {export_format!r}"
        raise ApiError(400, f"format: choose one of {', '.join(FORMATS)}; {given}")
    try:
        # Opened here: a version deleted since its file was built is a 404, not a 500.
        file = open(_exported(record, export_format), "rb")  # noqa: SIM115 (send_file closes it)
    except FileNotFoundError:
        raise ApiError(404, f"no version {version} of model {name!r}") from None
    return send_file(file, mimetype=MIMETYPES[export_format], as_attachment=True,
                     download_name=f"{name}-{version}{SUFFIXES[export_format]}",
                     max_age=0)


def _exported(record: dict[str, Any], export_format: str) -> str:
    """The version's file in `export_format`, built now if it was not before.

    Raises:
        ApiError: 404 if the version was deleted meanwhile, 422 if it cannot be
            converted, 501 if this service lacks the format's converter, 503 if
            its `.keras` file is missing or damaged, 507 if the disk is full.
    """
    layout = current_app.extensions["evokt.layout"]
    version_dir = layout.model_dir(record["name"], record["version"])
    model_file = os.path.join(version_dir, MODEL_FILE)
    target = model_file if export_format == "keras" else os.path.join(
        version_dir, EXPORTS_DIR, export_format + SUFFIXES[export_format])
    if export_format != "keras" and os.path.isfile(target):
        # Checked in its runtime when it was built.
        return target
    failure = check_model_file(model_file, layout.root, verify_data=True)
    if failure is not None:
        raise ApiError(503, unloadable_message(record, failure))
    if export_format == "keras":
        return model_file
    try:
        with _building(version_dir, export_format, record) as scratch:
            if not os.path.isfile(target):
                require_space(layout.root, current_app.config["MIN_FREE_BYTES"])
                with _CONVERSIONS:
                    _build(model_file, export_format, record, scratch, target)
    except FileNotFoundError:
        if os.path.isdir(version_dir):
            raise
        # Deleted while it was built.
        raise ApiError(404, f"no version {record['version']} of model "
                            f"{record['name']!r}") from None
    return target


@contextmanager
def _building(version_dir: str, export_format: str, record: dict[str, Any]) -> Iterator[str]:
    """Holds the lock of one format's build of a version and gives an empty scratch folder.

    What a killed build left in the scratch folder is removed first; the
    folder is removed after.
    """
    exports = os.path.join(version_dir, EXPORTS_DIR)
    try:
        # Not makedirs: a version deleted since it was looked up must not reappear.
        os.mkdir(exports)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise ApiError(404, f"no version {record['version']} of model "
                            f"{record['name']!r}") from None
    with open(os.path.join(exports, f".{export_format}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        scratch = os.path.join(exports, f"{STAGING_PREFIX}{export_format}")
        shutil.rmtree(scratch, ignore_errors=True)
        os.mkdir(scratch)
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _build(model_file: str, export_format: str, record: dict[str, Any], scratch: str,
           target: str) -> None:
    """Converts and checks the model in `scratch`, then moves the result to `target`."""
    name, version = record["name"], record["version"]
    output = os.path.join(scratch, "saved_model" if export_format == "saved_model"
                          else os.path.basename(target))
    try:
        exported = export_model(model_file, export_format, output, name=name, version=version)
    except ExportError as error:
        raise ApiError(422, f"version {version} of model {name!r} cannot be exported as "
                            f"{export_format}: {error}") from None
    except ImportError as error:
        raise ApiError(501, f"this service cannot write {export_format}: {error} (pip install "
                            "'evokt[export]')") from None
    if export_format == "saved_model":
        archive = os.path.join(scratch, os.path.basename(target))
        archive_saved_model(exported.path, archive, name, version)
        os.replace(archive, target)
    else:
        os.replace(exported.path, target)
