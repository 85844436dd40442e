"""`GET /openapi.json`: the OpenAPI 3.1 description of the service.

The tests validate real responses against these schemas and run a
property-based check of every operation against it, so it stays the API's
truth.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import jsonify

from evokt.hypermodels.tasks import TASKS
from evokt.search.formats import FORMATS
from evokt.search.names import NAME_PATTERN
from evokt.search.spec import SETTINGS
from evokt.search.strategies import STRATEGIES
from evokt.service.cluster import ENGINES
from evokt.service.cluster import WORKER_STATES
from evokt.service.open_inference import DATATYPES as INFERENCE_DATATYPES
from evokt.service.predictor import ERROR_CODES
from evokt.service.predictor import VERSION_STATES
from evokt.service.store import STATES

blueprint = Blueprint("openapi", __name__)

NAME = {"type": "string", "pattern": f"^{NAME_PATTERN}$"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
JSON_VALUE: dict[str, Any] = {}
OBJECTIVE = {"type": "object", "properties": {"name": {"type": "string"},
                                              "direction": {"enum": ["min", "max", None]}},
             "required": ["name", "direction"]}


def strategy_schema_name(strategy: str) -> str:
    """The schema of a strategy's `oracle_options`: `GeneticHyperbandOptions`, ..."""
    return "".join(part.capitalize() for part in strategy.split("-")) + "Options"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: bool = True, **extra: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(properties)
    return schema


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "Invalid input; the message names the field",
        401: "Missing or wrong bearer token",
        404: "Unknown id or name",
        408: "The request's body did not arrive in time",
        409: "Not in a state that allows it: a search ended, not finished, or still running; "
             "a bundled dataset, or one a search not yet ended uses",
        413: "Request body (or an upload's data) over the configured limit",
        422: "The model cannot be converted to that format: the message says what cannot be",
        429: "The search queue is full",
        501: "This service lacks the format's converter (evokt[export])",
        503: "Not ready, a model version whose file cannot be loaded (named), or (event "
             "streams) all stream slots taken: retry after `Retry-After`",
        507: "The data directory's disk is full, or below EVOKT_MIN_FREE_BYTES free: "
             "nothing was written",
    }
    return {str(code): _json(_ref("Error"), reasons[code]) for code in codes}


def _path_parameter(name: str, schema: dict[str, Any] = NAME) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "Deleted": _object({"id": NAME, "deleted": {"const": True},
                        "freed_bytes": {"type": "integer", "minimum": 0}}),
    "DeletedModel": _object({"name": NAME,
                             "deleted_versions": {"type": "array", "items": {"type": "integer"}},
                             "freed_bytes": {"type": "integer", "minimum": 0}}),
    "DeletedVersion": _object({"name": NAME, "version": {"type": "integer"},
                               "deleted": {"const": True},
                               "freed_bytes": {"type": "integer", "minimum": 0}}),
    "Dataset": _object({
        "id": NAME,
        "builtin": {"type": "boolean"},
        "format": {"enum": ["builtin", "csv", "npz"]},
        "target": NULLABLE_STRING,
        "rows": {"type": "integer"},
        "features": {"type": "integer"},
        "input_shape": {"type": "array", "items": {"type": "integer"}},
        "task": {"enum": list(TASKS)},
        "classes": {"type": ["array", "null"]},
    }),
    "SearchRequest": _object(
        {
            "dataset": NAME,
            "model_name": NAME,
            **{setting.name: setting.json_schema() for setting in SETTINGS},
            "objective": {
                "description": "A metric to optimise, or a list of them for a Pareto search; "
                "each NAME or NAME:min or NAME:max. Besides the metrics training reports: "
                "params, latency_ms, model_bytes (measured for every trial).",
                "oneOf": [{"type": "string"},
                          {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "oracle_options": {
                "type": "object",
                "description": "The strategy's own options, by `oracle`: see the schema "
                "`<oracle>Options` (`GeneticOptions`, ...)"},
        },
        required=False,
        additionalProperties=False,
    ) | {"required": ["dataset"]},
    **{strategy_schema_name(name): _object(
        {option.name: option.json_schema() for option in strategy.options},
        required=False, additionalProperties=False)
       for name, strategy in STRATEGIES.items()},
    "Search": _object({
        "id": NAME,
        "state": {"enum": list(STATES)},
        "dataset": NAME,
        "model_name": NAME,
        "oracle": {"type": "string"},
        "hypermodel": {"type": "string"},
        "max_trials": {"type": "integer"},
        "trials_done": {"type": "integer"},
        "epochs": {"type": "integer"},
        "workers": {"type": "integer"},
        "worker_resources": {"type": ["string", "null"], "description": "What each worker "
                             "asks of the Ray cluster (EVOKT_RAY_ADDRESS)"},
        "objective": NULLABLE_STRING,
        "direction": {"type": ["string", "null"], "enum": ["min", "max", None]},
        "objectives": {"type": "array", "items": OBJECTIVE},
        "max_params": {"type": ["integer", "null"]},
        "max_latency_ms": NULLABLE_NUMBER,
        "folds": {"type": "integer"},
        "max_epochs_budget": {"type": ["integer", "null"]},
        "best_score": NULLABLE_NUMBER,
        "best_trial": NULLABLE_STRING,
        "best_hyperparameters": {"type": ["object", "null"]},
        "model_version": {"type": ["integer", "null"]},
        "error": NULLABLE_STRING,
        "created": {"type": "string", "format": "date-time"},
        "started": NULLABLE_STRING,
        "finished": NULLABLE_STRING,
        "elapsed_seconds": NULLABLE_NUMBER,
        "cluster": {"description": "Where the search's workers run and what each does, as "
                    "its chief last wrote it; null for a search without workers (or before its "
                    "chief has placed them)",
                    "anyOf": [_ref("Cluster"), {"type": "null"}]},
    }),
    "Cluster": _object({
        "engine": {"enum": list(ENGINES), "description": "ray with EVOKT_RAY_ADDRESS, else "
                   "local processes"},
        "address": {"type": ["string", "null"], "description": "The Ray cluster's address"},
        "updated": {"type": "number", "description": "When the chief last wrote it (Unix "
                    "seconds)"},
        "workers": {"type": "array", "items": _ref("ClusterWorker")},
    }),
    "ClusterWorker": _object({
        "id": {"type": "string", "description": "The worker's tuner id; a lost worker stays "
               "listed and its replacement has a new id"},
        "state": {"enum": list(WORKER_STATES)},
        "node": {"type": ["string", "null"], "description": "The Ray node's id, or the host "
                 "name for a local worker; null until it is placed"},
        "host": NULLABLE_STRING,
        "pid": {"type": ["integer", "null"]},
        "gpus": {"type": "array", "items": {"type": "string"}, "description": "The GPUs it "
                 "sees"},
        "resources": {"type": "object", "additionalProperties": {"type": "number"},
                      "description": "What it holds of the cluster: CPU, GPU, ..."},
        "trial": {"type": ["string", "null"], "description": "The trial it trains now"},
        "trials": {"type": "array", "items": {"type": "string"}, "description": "Every trial "
                   "it has been given, in order"},
        "started": {"type": "number", "description": "When it was placed (Unix seconds)"},
        "error": {"type": ["string", "null"], "description": "Why it was lost"},
    }),
    "Trial": _object({
        "trial_id": {"type": "string"},
        "reevaluates": {"type": ["string", "null"], "description": "For a re-evaluation (the "
                        "same configuration trained again, so that the recommendation rests "
                        "on a mean), the id of the configuration's first trial; else null"},
        "status": {"type": "string"},
        "score": NULLABLE_NUMBER,
        "hyperparameters": {"type": "object"},
        "message": NULLABLE_STRING,
        "ended": NULLABLE_NUMBER,
        "metrics": {"type": ["object", "null"], "description": "Every metric the trial "
                    "recorded, at its best epoch: training's and params, latency_ms, model_bytes",
                    "additionalProperties": NULLABLE_NUMBER},
        "epochs_done": {"type": "integer", "minimum": 0, "description": "The epochs its "
                        "model has trained so far (a promoted trial's parent's included)"},
        "stopped_epoch": {"type": ["integer", "null"], "minimum": 0, "description": "For a "
                          "trial stopped early (status STOPPED), its last epoch, from 0 (2 for "
                          "\"stopped at epoch 3 of 20\"); else null"},
        "history": {"type": "object", "description": "Only with `?history=true`: each metric's "
                    "value at every epoch from 0, null where the epoch lacks it",
                    "additionalProperties": {"type": "array", "items": NULLABLE_NUMBER}},
    }, required=False) | {"required": ["trial_id", "reevaluates", "status", "score",
                                       "hyperparameters", "message", "ended", "metrics",
                                       "epochs_done", "stopped_epoch"]},
    "EpochEvent": _object({
        "trial_id": {"type": "string"},
        "epoch": {"type": "integer", "minimum": 0, "description": "The epoch, from 0"},
        "metrics": {"type": "object", "additionalProperties": NULLABLE_NUMBER},
        "status": {"type": "string", "description": "The trial's status then: RUNNING, or "
                   "STOPPED when it was stopped early after this epoch"},
    }),
    "ParetoFront": _object({
        "objectives": {"type": "array", "items": OBJECTIVE},
        "constraints": {"type": "object", "additionalProperties": {"type": "number"}},
        "front": {"type": "array", "items": {"allOf": [
            _ref("Trial"), _object({"exported": {"type": "boolean"}})]}},
    }),
    "PublishRequest": _object({"trial_id": {"type": "string", "pattern": "^[0-9]{1,16}$"},
                               "model_name": NAME}, required=False,
                              additionalProperties=False) | {"required": ["trial_id"]},
    "Published": _object({"name": NAME, "version": {"type": "integer"},
                          "trial_id": {"type": "string"}}),
    "ModelSummary": _object({
        "name": NAME,
        "latest_version": {"type": "integer"},
        "task": {"type": "string"},
    }),
    "ModelStatus": _object({
        "model_version_status": {
            "type": "array",
            "items": _object({
                "version": {"type": "string"},
                "state": {"enum": list(VERSION_STATES)},
                "status": _object({"error_code": {"enum": list(ERROR_CODES)},
                                   "error_message": {"type": "string"}}),
            }),
        }
    }),
    "ModelMetadata": _object({
        "model_spec": _object({"name": NAME, "signature_name": {"type": "string"},
                               "version": {"type": "string"}}),
        "metadata": {"type": "object"},
        "evokt": _object(
            {"input_shape": {"type": "array", "items": {"type": "integer"}},
             "task": {"type": "string"},
             "class_labels": {"type": ["array", "null"]}},
        ),
    }),
    "PredictRequest": {
        "description": "TensorFlow Serving's REST request: row format (`instances`) or "
        "columnar format (`inputs`). Each example is a nested list of numbers of the "
        "model's input shape, or `{\"inputs\": example}`.",
        "oneOf": [
            _object({"instances": {"type": "array", "minItems": 1}}),
            _object({"inputs": JSON_VALUE}),
        ],
    },
    "PredictResponse": {
        "oneOf": [
            _object({"predictions": {"type": "array"}}),
            _object({"outputs": {"type": "array"}}),
        ]
    },
    # The Open Inference Protocol (KServe V2).
    "ServerMetadata": _object({"name": {"type": "string"}, "version": {"type": "string"},
                               "extensions": {"type": "array", "items": {"type": "string"}}}),
    "TensorMetadata": _object({"name": {"type": "string"},
                               "datatype": {"type": "string"},
                               "shape": {"type": "array", "items": {"type": "integer"}}}),
    "InferenceModelMetadata": _object({
        "name": NAME,
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": _ref("TensorMetadata")},
        "outputs": {"type": "array", "items": _ref("TensorMetadata")},
    }),
    "ModelReady": _object({"name": NAME, "version": {"type": "string"},
                           "ready": {"const": True}}),
    "InferenceRequest": _object(
        {
            "id": {"type": "string", "description": "Returned in the response"},
            "parameters": {"type": "object", "description": "Returned in the response"},
            "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": _object(
                {"name": {"const": "inputs"},
                 "shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                           "minItems": 1, "description": "[rows, *input_shape]"},
                 "datatype": {"enum": list(INFERENCE_DATATYPES)},
                 "parameters": {"type": "object"},
                 "data": {"type": "array", "description": "The values in row-major order, "
                          "flat or nested to `shape`"}},
                required=False) | {"required": ["name", "shape", "datatype", "data"]}},
            "outputs": {"type": "array", "items": _object(
                {"name": {"const": "output_0"}, "parameters": {"type": "object"}},
                required=False) | {"required": ["name"]}},
        },
        required=False,
    ) | {"required": ["inputs"]},
    "InferenceResponse": _object(
        {
            "model_name": NAME,
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "outputs": {"type": "array", "items": _object({
                "name": {"type": "string"}, "datatype": {"const": "FP32"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "data": {"type": "array", "items": {"type": "number"}}})},
        },
        required=False,
    ) | {"required": ["model_name", "model_version", "outputs"]},
}

PUBLIC: list = []
VERSION = _path_parameter("version", {"type": "integer", "minimum": 1})


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


PATHS: dict[str, Any] = {
    "/v2/health/live": {"get": _operation(
        "Liveness probe", {"200": _json(_object({"live": {"type": "boolean"}}), "Alive")},
        security=PUBLIC)},
    "/v2/health/ready": {"get": _operation(
        "Readiness probe",
        {"200": _json(_object({"ready": {"type": "boolean"}}), "Ready"), **_errors(503)},
        security=PUBLIC)},
    "/openapi.json": {"get": _operation(
        "This document", {"200": _json({"type": "object"}, "The OpenAPI document")},
        security=PUBLIC)},
    "/v1/datasets": {
        "get": _operation(
            "Bundled and uploaded datasets",
            {"200": _json(_object({"datasets": {"type": "array", "items": _ref("Dataset")}}),
                          "Datasets"), **_errors(401)}),
        "post": _operation(
            "Upload a CSV (with its target column) or an NPZ (arrays x and y)",
            {"201": _json(_ref("Dataset"), "Stored"), **_errors(400, 401, 408, 413, 507)},
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": _object(
                {"file": {"type": "string", "format": "binary"},
                 "target": {"type": "string"},
                 "task": {"enum": list(TASKS)}},
                required=False) | {"required": ["file"]}}}}),
    },
    "/v1/datasets/{dataset_id}": {
        "get": _operation(
            "One dataset",
            {"200": _json(_ref("Dataset"), "The dataset"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("dataset_id")]),
        "delete": _operation(
            "Delete an uploaded dataset and its file",
            {"200": _json(_ref("Deleted"), "Deleted"), **_errors(400, 401, 404, 409)},
            parameters=[_path_parameter("dataset_id")]),
    },
    "/v1/searches": {
        "get": _operation(
            "Searches, optionally of one state",
            {"200": _json(_object({"searches": {"type": "array", "items": _ref("Search")}}),
                          "Searches"), **_errors(400, 401)},
            parameters=[{"name": "state", "in": "query", "required": False,
                         "schema": {"enum": list(STATES)}}]),
        "post": _operation(
            "Queue a search",
            {"202": {**_json(_ref("Search"), "Queued"),
                     "headers": {"Location": {"schema": {"type": "string"}}}},
             **_errors(400, 401, 408, 413, 429, 507)},
            requestBody={"required": True,
                         "content": {"application/json": {"schema": _ref("SearchRequest")}}}),
    },
    "/v1/searches/{search_id}": {
        "get": _operation(
            "A search's state and progress",
            {"200": _json(_ref("Search"), "The search"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("search_id")]),
        "delete": _operation(
            "Delete an ended search: its trials, project directory and checkpoints (the "
            "model versions it registered stay)",
            {"200": _json(_ref("Deleted"), "Deleted"), **_errors(400, 401, 404, 409)},
            parameters=[_path_parameter("search_id")]),
    },
    "/v1/searches/{search_id}/trials": {"get": _operation(
        "A search's trials: those that ended and, while it runs, those running",
        {"200": _json(_object({"trials": {"type": "array", "items": _ref("Trial")}}), "Trials"),
         **_errors(400, 401, 404)},
        parameters=[_path_parameter("search_id"),
                    {"name": "history", "in": "query", "required": False,
                     "schema": {"type": "boolean"},
                     "description": "Give each trial its metrics epoch by epoch (`history`)"}])},
    "/v1/searches/{search_id}/pareto": {"get": _operation(
        "The search's Pareto front (its best trial, for one objective)",
        {"200": _json(_ref("ParetoFront"), "The front"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("search_id")])},
    "/v1/searches/{search_id}/publish": {"post": _operation(
        "Register a trial of a finished search's front as a new model version",
        {"201": {**_json(_ref("Published"), "Registered (or already registered)"),
                 "headers": {"Location": {"schema": {"type": "string"}}}},
         **_errors(400, 401, 404, 408, 409, 413)},
        parameters=[_path_parameter("search_id")],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("PublishRequest")}}})},
    "/v1/searches/{search_id}/cancel": {"post": _operation(
        "Cancel a search (its running trial is killed)",
        {"202": _json(_ref("Search"), "Cancelling or cancelled"), **_errors(400, 401, 404, 409)},
        parameters=[_path_parameter("search_id")])},
    "/v1/searches/{search_id}/events": {"get": _operation(
        "Server-Sent Events: `progress` events and an `epoch` event per epoch a trial "
        "trains (the running trials' epochs first), then `end` when the search ends",
        {"200": {"description": "Event stream",
                 "content": {"text/event-stream": {"schema": {
                     "description": "One event; `data` is JSON: for `progress` and `end` the "
                                    "search (see Search), for `epoch` EpochEvent.",
                     "type": "object",
                     "properties": {"event": {"enum": ["progress", "epoch", "end"]},
                                    "data": {"type": "string",
                                             "contentMediaType": "application/json"}},
                     "required": ["event", "data"]}}}},
         **_errors(400, 401, 404, 503)},
        parameters=[_path_parameter("search_id")])},
    "/v1/models": {"get": _operation(
        "Models and their latest versions",
        {"200": _json(_object({"models": {"type": "array", "items": _ref("ModelSummary")}}),
                      "Models"), **_errors(401)})},
    "/v1/models/{name}": {
        "get": _operation(
            "TensorFlow Serving's model status",
            {"200": _json(_ref("ModelStatus"), "Versions"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("name")]),
        "delete": _operation(
            "Delete every version of a model and their files",
            {"200": _json(_ref("DeletedModel"), "Deleted"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("name")]),
    },
    "/v1/models/{name}/versions/{version}": {
        "get": _operation(
            "TensorFlow Serving's status of one version",
            {"200": _json(_ref("ModelStatus"), "The version"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("name"), VERSION]),
        "delete": _operation(
            "Delete one version and its files (its number is never given to another)",
            {"200": _json(_ref("DeletedVersion"), "Deleted"), **_errors(400, 401, 404)},
            parameters=[_path_parameter("name"), VERSION]),
    },
    "/v1/models/{name}/versions/{version}/metadata": {"get": _operation(
        "Signature metadata of one version",
        {"200": _json(_ref("ModelMetadata"), "Metadata"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name"), VERSION])},
    "/v1/models/{name}/metadata": {"get": _operation(
        "Signature metadata of the latest version",
        {"200": _json(_ref("ModelMetadata"), "Metadata"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name")])},
    "/v1/models/{name}:predict": {"post": _operation(
        "Predict with the latest version",
        {"200": _json(_ref("PredictResponse"), "Predictions"),
         **_errors(400, 401, 404, 408, 413, 503)},
        parameters=[_path_parameter("name")],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("PredictRequest")}}})},
    "/v1/models/{name}/versions/{version}:predict": {"post": _operation(
        "Predict with one version",
        {"200": _json(_ref("PredictResponse"), "Predictions"),
         **_errors(400, 401, 404, 408, 413, 503)},
        parameters=[_path_parameter("name"), VERSION],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("PredictRequest")}}})},
    "/v1/models/{name}/versions/{version}/export": {"get": _operation(
        "Download one version as a SavedModel (a .tar.gz of NAME/VERSION/ for TensorFlow "
        "Serving), ONNX, LiteRT or .keras; built and checked in its own runtime on the first "
        "request, then kept",
        {"200": {"description": "The file, as an attachment",
                 "content": {media: {"schema": {"type": "string", "format": "binary"}}
                             for media in ("application/gzip", "application/octet-stream",
                                           "application/zip")}},
         **_errors(400, 401, 404, 422, 501, 503, 507)},
        parameters=[_path_parameter("name"), VERSION,
                    {"name": "format", "in": "query", "required": True,
                     "schema": {"enum": list(FORMATS)}}])},
    "/v2": {"get": _operation(
        "Open Inference Protocol: server metadata",
        {"200": _json(_ref("ServerMetadata"), "The server"), **_errors(401)})},
    "/v2/models/{name}": {"get": _operation(
        "Open Inference Protocol: the model's tensors (of its latest version) and versions",
        {"200": _json(_ref("InferenceModelMetadata"), "Metadata"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name")])},
    "/v2/models/{name}/versions/{version}": {"get": _operation(
        "Open Inference Protocol: one version's tensors",
        {"200": _json(_ref("InferenceModelMetadata"), "Metadata"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name"), VERSION])},
    "/v2/models/{name}/ready": {"get": _operation(
        "Open Inference Protocol: 200 when the latest version can serve, 400 saying why not",
        {"200": _json(_ref("ModelReady"), "Ready"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name")])},
    "/v2/models/{name}/versions/{version}/ready": {"get": _operation(
        "Open Inference Protocol: 200 when the version can serve, 400 saying why not",
        {"200": _json(_ref("ModelReady"), "Ready"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name"), VERSION])},
    "/v2/models/{name}/infer": {"post": _operation(
        "Open Inference Protocol: inference by the latest version",
        {"200": _json(_ref("InferenceResponse"), "Outputs"),
         **_errors(400, 401, 404, 408, 413, 503)},
        parameters=[_path_parameter("name")],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("InferenceRequest")}}})},
    "/v2/models/{name}/versions/{version}/infer": {"post": _operation(
        "Open Inference Protocol: inference by one version",
        {"200": _json(_ref("InferenceResponse"), "Outputs"),
         **_errors(400, 401, 404, 408, 413, 503)},
        parameters=[_path_parameter("name"), VERSION],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("InferenceRequest")}}})},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "evokt", "version": "1",
             "description": "Architecture searches over HTTP, and predictions from the "
             "chosen models in TensorFlow Serving's REST format and the Open Inference Protocol "
             "(KServe V2, under /v2). Every error is JSON "
             "`{\"error\": \"...\"}`, including those the HTTP server answers before the "
             "application sees the request: 400 (malformed request line or header), 408 "
             "(headers not sent in time), 414 (URI too long), 431 (headers too large) and "
             "501 (unknown transfer coding). A connection the client drops, or one reset "
             "because the server stopped, gets no answer."},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
}


@blueprint.get("/openapi.json")
def document():
    return jsonify(DOCUMENT)
