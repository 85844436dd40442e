"""`/v2`: the Open Inference Protocol (KServe V2, as Triton speaks it), beside `/v1/models`.

The same models, versions and compiled inference as TensorFlow Serving's
routes, with the same token rules, body and row limits and
`--public-predict`. A model has one input, `inputs` (`[-1, *input_shape]`),
and one output, `output_0` (`[-1, classes]` probabilities or `[-1, 1]`
predictions), both FP32; a request's tensor may be FP32, FP64 or any integer
type, its `data` flat in row-major order or nested to its `shape`. Errors are
`{"error": "..."}`: 400 for a request the model cannot take, 404 for an
unknown model or version, 503 for a version that cannot be loaded.
"""

from __future__ import annotations

from importlib import metadata as package_metadata
from typing import Any

import numpy as np
from flask import Blueprint
from flask import current_app
from flask import jsonify

from evokt.service.errors import ApiError
from evokt.service.models import INPUT_NAME
from evokt.service.models import output_width
from evokt.service.models import serving_model
from evokt.service.models import serving_version
from evokt.service.predictor import AVAILABLE
from evokt.service.predictor import ModelCache
from evokt.service.predictor import finite_float32
from evokt.service.store import get_store
from evokt.service.validation import json_body

blueprint = Blueprint("inference", __name__, url_prefix="/v2")

OUTPUT_NAME = "output_0"
PLATFORM = "keras_tensorflow"
# The protocol's tensor datatypes a request may send, as NumPy kinds and types.
DATATYPES = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
             "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64}


def _version_text() -> str:
    try:
        return package_metadata.version("evokt")
    except package_metadata.PackageNotFoundError:
        return "unknown"


@blueprint.get("")
def server_metadata():
    """The server's name, version and protocol extensions."""
    return jsonify(name="evokt", version=_version_text(), extensions=[])


def _model_metadata(record: dict[str, Any]) -> dict[str, Any]:
    shape = record["metadata"]["input_shape"]
    versions = [str(version["version"]) for version in get_store().model_versions(
        record["name"])]
    return {
        "name": record["name"],
        "versions": versions,
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, *shape]}],
        "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32",
                     "shape": [-1, output_width(record["metadata"])]}],
    }


@blueprint.get("/models/<name>")
def model_metadata(name: str):
    """The model's versions, input and output tensors (of its latest version)."""
    return jsonify(_model_metadata(serving_version(name, None)))


@blueprint.get("/models/<name>/versions/<version:version>")
def version_metadata(name: str, version: int):
    """One version's input and output tensors."""
    return jsonify(_model_metadata(serving_version(name, version)))


def _ready(record: dict[str, Any]):
    cache: ModelCache = current_app.extensions["evokt.models"]
    state, failure = cache.state(record)
    if state != AVAILABLE:
        # The protocol: 200 when ready, a 4xx when not.
        why = failure.message if failure else f"version {record['version']} is {state}"
        raise ApiError(400, f"model {record['name']!r} is not ready: {why}")
    return jsonify(name=record["name"], version=str(record["version"]), ready=True)


@blueprint.get("/models/<name>/ready")
def model_ready(name: str):
    """200 when the model's latest version can be served, else 400 saying why."""
    return _ready(serving_version(name, None))


@blueprint.get("/models/<name>/versions/<version:version>/ready")
def version_ready(name: str, version: int):
    """200 when the version can be served, else 400 saying why."""
    return _ready(serving_version(name, version))


@blueprint.post("/models/<name>/infer")
def infer_latest(name: str):
    """Inference by the model's latest version."""
    return _infer(name, None)


@blueprint.post("/models/<name>/versions/<version:version>/infer")
def infer_version(name: str, version: int):
    """Inference by one version."""
    return _infer(name, version)


def _infer(name: str, version: int | None):
    record = serving_version(name, version)
    body = json_body(current_app.config["MAX_PREDICT_BYTES"])
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise ApiError(400, f"inputs: give one tensor, named {INPUT_NAME!r}")
    _check_requested_outputs(body.get("outputs"))
    parameters = _parameters(body, "request")
    if "id" in body and not isinstance(body["id"], str):
        raise ApiError(400, "id: must be a string")
    # For the latest version, an older one may answer while it loads: its shape rules.
    model = serving_model(record, latest=version is None)
    outputs = model.infer(_input_batch(inputs[0], model.input_shape))
    response: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version)}
    if "id" in body:
        response["id"] = body["id"]
    if parameters:
        response["parameters"] = parameters
    response["outputs"] = [{"name": OUTPUT_NAME, "datatype": "FP32",
                            "shape": list(outputs.shape), "data": outputs.ravel().tolist()}]
    return jsonify(response)


def _input_batch(tensor: dict[str, Any], input_shape: tuple[int, ...]) -> np.ndarray:
    """A request's input tensor as a float32 batch, or a 400 naming what is wrong."""
    if tensor.get("name") != INPUT_NAME:
        raise ApiError(400, f"inputs[0].name: the model's input is named {INPUT_NAME!r}, got "
                            f"{tensor.get('name')!r}")
    field = f"input {INPUT_NAME!r}"
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise ApiError(400, f"{field}: datatype must be one of {', '.join(DATATYPES)}, got "
                            f"{datatype!r}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not shape or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 0
            for size in shape):
        raise ApiError(400, f"{field}: shape must be a list of non-negative integers")
    expected = [-1, *input_shape]
    if len(shape) != len(expected) or tuple(shape[1:]) != input_shape:
        raise ApiError(400, f"{field}: expected shape {expected}, got {shape}")
    limit = current_app.config["MAX_PREDICT_ROWS"]
    if shape[0] > limit:
        raise ApiError(400, f"{field}: at most {limit} rows per request, got {shape[0]}")
    if shape[0] == 0:
        raise ApiError(400, f"{field}: give at least one row")
    parameters = _parameters(tensor, field)
    if "binary_data_size" in parameters:
        raise ApiError(400, f"{field}: binary tensor data is not supported; send it as JSON")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ApiError(400, f"{field}: data must be a list of numbers in row-major order")
    values = _as_array(data, field)
    if values.ndim > 1 and list(values.shape) != shape:
        raise ApiError(400, f"{field}: nested data has shape {list(values.shape)}, not the "
                            f"tensor's shape {shape}")
    if values.size != int(np.prod(shape)):
        raise ApiError(400, f"{field}: shape {shape} holds {int(np.prod(shape))} values, data "
                            f"has {values.size}")
    kind = np.dtype(DATATYPES[datatype]).kind
    if kind in "iu" and values.dtype.kind == "f":
        raise ApiError(400, f"{field}: datatype {datatype} takes integers, data holds "
                            "fractional numbers")
    if kind in "iu" and not _fits(values, DATATYPES[datatype]):
        raise ApiError(400, f"{field}: data is out of the range of {datatype}")
    return finite_float32(values.reshape(shape), field)


def _as_array(data: list, field: str) -> np.ndarray:
    try:
        values = np.asarray(data)
    except (TypeError, ValueError, RecursionError):
        values = None
    if values is None or values.dtype.kind not in "iuf":
        # Ragged nesting, strings, booleans, nulls and objects all end here.
        raise ApiError(400, f"{field}: data must hold numbers only, flat or nested to the "
                            "tensor's shape")
    return values


def _fits(values: np.ndarray, dtype: type) -> bool:
    bounds = np.iinfo(dtype)
    return values.size == 0 or (int(values.min()) >= bounds.min
                                and int(values.max()) <= bounds.max)


def _parameters(holder: dict[str, Any], field: str) -> dict[str, Any]:
    """The `parameters` object of a request, input or output ({} without one)."""
    parameters = holder.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ApiError(400, f"{field}: parameters must be an object")
    return parameters


def _check_requested_outputs(requested: Any) -> None:
    """A request may name the outputs it wants; the model has one."""
    if requested is None:
        return
    if not isinstance(requested, list) or not all(
            isinstance(output, dict) for output in requested):
        raise ApiError(400, "outputs: must be a list of {\"name\": ...} objects")
    for output in requested:
        if output.get("name") != OUTPUT_NAME:
            raise ApiError(400, f"outputs: the model's only output is {OUTPUT_NAME!r}, got "
                                f"{output.get('name')!r}")
        if _parameters(output, f"output {OUTPUT_NAME!r}").get("binary_data"):
            raise ApiError(400, "outputs: binary tensor data is not supported")
