"""`/v1/models`: model versions and predictions in TensorFlow Serving's REST format.

`POST /v1/models/{name}:predict` takes `{"instances": [...]}` (row format)
and answers `{"predictions": [...]}`, or `{"inputs": ...}` (columnar) and
answers `{"outputs": ...}`. Classifiers return class probabilities, in the
order of the version's `class_labels`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from werkzeug.routing import IntegerConverter

from evokt.service.deletion import Removal
from evokt.service.errors import ApiError
from evokt.service.predictor import OK
from evokt.service.predictor import LoadedModel
from evokt.service.predictor import ModelCache
from evokt.service.predictor import as_batch
from evokt.service.store import get_store
from evokt.service.validation import check_name
from evokt.service.validation import json_body

blueprint = Blueprint("models", __name__, url_prefix="/v1/models")

INPUT_NAME = "inputs"
MAX_VERSION = 2**63 - 1


class VersionConverter(IntegerConverter):
    """`<version:...>` in a path: a version number of ASCII digits only.

    Flask's `int` converter matches `\\d+`, which in Python matches any Unicode
    digit, so `/versions/١` (ARABIC-INDIC DIGIT ONE) would be version 1.
    """

    regex = "[0-9]+"


def _versions(name: str) -> list[dict[str, Any]]:
    versions = get_store().model_versions(check_name(name, "model name"))
    if not versions:
        raise ApiError(404, f"no model {name!r}")
    return versions


def output_width(metadata: dict[str, Any]) -> int:
    classes = metadata.get("class_labels")
    return len(classes) if classes else 1


def _tensor_info(name: str, shape: list[int]) -> dict[str, Any]:
    return {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": [{"size": str(size)} for size in [-1, *shape]]},
        "name": name,
    }


@blueprint.get("")
def list_models():
    return jsonify(models=[
        {"name": latest["name"], "latest_version": latest["version"],
         "task": latest["metadata"]["task"]} for latest in get_store().latest_versions()])


def _version_status(record: dict[str, Any]) -> dict[str, Any]:
    cache: ModelCache = current_app.extensions["evokt.models"]
    state, failure = cache.state(record)
    return {"version": str(record["version"]), "state": state,
            "status": {"error_code": failure.error_code if failure else OK,
                       "error_message": failure.message if failure else ""}}


@blueprint.get("/<name>")
def model_status(name: str):
    """TensorFlow Serving's model status of every version, in this worker: AVAILABLE,
    LOADING, or END with the error that keeps it from loading."""
    return jsonify(model_version_status=[
        _version_status(record) for record in reversed(_versions(name))])


@blueprint.get("/<name>/versions/<version:version>")
def version_status(name: str, version: int):
    """TensorFlow Serving's status of one version."""
    return jsonify(model_version_status=[_version_status(serving_version(name, version))])


@blueprint.get("/<name>/metadata")
def model_metadata(name: str):
    """TensorFlow Serving's signature metadata of the latest version, plus evokt's own
    description."""
    return _metadata(name, _versions(name)[-1])


@blueprint.get("/<name>/versions/<version:version>/metadata")
def version_metadata(name: str, version: int):
    """TensorFlow Serving's signature metadata of one version."""
    return _metadata(name, serving_version(name, version))


def _metadata(name: str, record: dict[str, Any]):
    metadata = record["metadata"]
    return jsonify(
        model_spec={"name": name, "signature_name": "", "version": str(record["version"])},
        metadata={
            "signature_def": {
                "signature_def": {
                    "serving_default": {
                        "inputs": {INPUT_NAME: _tensor_info(INPUT_NAME, metadata["input_shape"])},
                        "outputs": {
                            "output_0": _tensor_info("output_0", [output_width(metadata)])},
                        "method_name": "tensorflow/serving/predict",
                    }
                }
            }
        },
        evokt=metadata,
    )


def _unwrap_named(value: Any, field: str) -> Any:
    """TF Serving lets a single input be named: `{"inputs": value}`."""
    if isinstance(value, dict):
        if set(value) != {INPUT_NAME}:
            raise ApiError(400, f"{field}: the only input is named {INPUT_NAME!r}")
        return value[INPUT_NAME]
    return value


def serving_version(name: str, version: int | None) -> dict[str, Any]:
    """The job store record that answers for `name` (its latest version when `version`
    is None), or a 404.

    Args:
        name: The model's name.
        version: A version number, or None for the latest.
    """
    check_name(name, "model name")
    record = get_store().model_version(name, version) \
        if version is None or version <= MAX_VERSION else None
    if record is None:
        what = f"model {name!r}" if version is None else f"version {version} of model {name!r}"
        raise ApiError(404, f"no {what}")
    return record


def serving_model(record: dict[str, Any], latest: bool) -> LoadedModel:
    """The loaded model that answers for a version; for the latest, an older loaded one
    while it loads (see `ModelCache.latest`).

    Raises:
        ModelUnavailable: It cannot be loaded.
    """
    cache: ModelCache = current_app.extensions["evokt.models"]
    return cache.latest(record) if latest else cache.get(record)


def _predict(name: str, version: int | None):
    record = serving_version(name, version)
    body = json_body(current_app.config["MAX_PREDICT_BYTES"])
    row_format = "instances" in body
    if row_format == ("inputs" in body):
        raise ApiError(400, "give either 'instances' (row format) or 'inputs' (columnar format)")
    limit = current_app.config["MAX_PREDICT_ROWS"]
    rows = body["instances"] if row_format else _unwrap_named(body["inputs"], "inputs")
    field = "instances" if row_format else "inputs"
    if isinstance(rows, list) and len(rows) > limit:
        raise ApiError(400, f"{field}: at most {limit} rows per request, got {len(rows)}")
    if row_format and isinstance(rows, list):
        rows = [_unwrap_named(item, field) for item in rows]
    model = serving_model(record, latest=version is None)
    batch = as_batch(rows, model.input_shape, field, limit)
    outputs = model.infer(batch).tolist()
    return jsonify(predictions=outputs) if row_format else jsonify(outputs=outputs)


@blueprint.post("/<name>:predict")
def predict_latest(name: str):
    return _predict(name, None)


@blueprint.post("/<name>/versions/<version:version>:predict")
def predict_version(name: str, version: int):
    return _predict(name, version)


@blueprint.delete("/<name>")
def delete_model(name: str):
    """Deletes every version of a model and their files."""
    versions = [record["version"] for record in _versions(name)]
    return jsonify(name=name, deleted_versions=versions,
                   freed_bytes=_delete_versions(name, versions))


@blueprint.delete("/<name>/versions/<version:version>")
def delete_version(name: str, version: int):
    """Deletes one version and its files; its number is never given to another."""
    serving_version(name, version)
    return jsonify(name=name, version=version, deleted=True,
                   freed_bytes=_delete_versions(name, [version]))


def _delete_versions(name: str, versions: list[int]) -> int:
    layout = current_app.extensions["evokt.layout"]
    store = get_store()
    with Removal([layout.model_dir(name, version) for version in versions]) as removal:
        store.delete_model_versions(name, versions, removal.move_aside)
    # This worker at once; the others at their watcher's next look.
    current_app.extensions["evokt.models"].retain(store.live_versions())
    return removal.freed_bytes
