"""`GET /openapi.json`: the OpenAPI 3.1 description of the service.

The tests validate real responses against these schemas and run a
property-based check of every operation against it, so it stays the API's
truth.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import jsonify

from service.store import STATES
from tuner_ext.registry import STRATEGIES
from hypermodels.auto import HYPERMODELS

blueprint = Blueprint("openapi", __name__)

NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
JSON_VALUE: dict[str, Any] = {}


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
        409: "The search has already ended",
        413: "Request body over the configured limit",
        429: "The search queue is full",
        503: "Not ready",
    }
    return {str(code): _json(_ref("Error"), reasons[code]) for code in codes}


def _path_parameter(name: str, schema: dict[str, Any] = NAME) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "Dataset": _object({
        "id": NAME,
        "builtin": {"type": "boolean"},
        "format": {"enum": ["builtin", "csv", "npz"]},
        "target": NULLABLE_STRING,
        "rows": {"type": "integer"},
        "features": {"type": "integer"},
        "input_shape": {"type": "array", "items": {"type": "integer"}},
        "task": {"enum": ["classification", "regression"]},
        "classes": {"type": ["array", "null"]},
    }),
    "SearchRequest": _object(
        {
            "dataset": NAME,
            "hypermodel": {"enum": ["auto", *HYPERMODELS]},
            "oracle": {"enum": list(STRATEGIES)},
            "max_trials": {"type": "integer", "minimum": 1, "maximum": 10000},
            "epochs": {"type": "integer", "minimum": 1, "maximum": 1000},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 65536},
            "objective": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "model_name": NAME,
            "oracle_options": {"type": "object"},
            "workers": {"type": "integer", "minimum": 1, "maximum": 64,
                        "description": "Trials trained at once, in local worker processes"},
            "max_epochs_budget": {
                "type": "integer", "minimum": 1, "maximum": 10_000_000,
                "description": "genetic-hyperband: training epochs of all trials together "
                               "(default max_trials x epochs)"},
        },
        required=False,
        additionalProperties=False,
    ) | {"required": ["dataset"]},
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
        "objective": NULLABLE_STRING,
        "direction": {"type": ["string", "null"], "enum": ["min", "max", None]},
        "best_score": NULLABLE_NUMBER,
        "best_trial": NULLABLE_STRING,
        "best_hyperparameters": {"type": ["object", "null"]},
        "model_version": {"type": ["integer", "null"]},
        "error": NULLABLE_STRING,
        "created": {"type": "string", "format": "date-time"},
        "started": NULLABLE_STRING,
        "finished": NULLABLE_STRING,
        "elapsed_seconds": NULLABLE_NUMBER,
    }),
    "Trial": _object({
        "trial_id": {"type": "string"},
        "status": {"type": "string"},
        "score": NULLABLE_NUMBER,
        "hyperparameters": {"type": "object"},
        "message": NULLABLE_STRING,
        "ended": NULLABLE_NUMBER,
    }),
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
                "state": {"type": "string"},
                "status": _object({"error_code": {"type": "string"},
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
}

PUBLIC: list = []


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
            {"201": _json(_ref("Dataset"), "Stored"), **_errors(400, 401, 413)},
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": _object(
                {"file": {"type": "string", "format": "binary"},
                 "target": {"type": "string"},
                 "task": {"enum": ["classification", "regression"]}},
                required=False) | {"required": ["file"]}}}}),
    },
    "/v1/datasets/{dataset_id}": {"get": _operation(
        "One dataset", {"200": _json(_ref("Dataset"), "The dataset"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("dataset_id")])},
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
             **_errors(400, 401, 413, 429)},
            requestBody={"required": True,
                         "content": {"application/json": {"schema": _ref("SearchRequest")}}}),
    },
    "/v1/searches/{search_id}": {"get": _operation(
        "A search's state and progress",
        {"200": _json(_ref("Search"), "The search"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("search_id")])},
    "/v1/searches/{search_id}/trials": {"get": _operation(
        "A search's trials",
        {"200": _json(_object({"trials": {"type": "array", "items": _ref("Trial")}}), "Trials"),
         **_errors(400, 401, 404)},
        parameters=[_path_parameter("search_id")])},
    "/v1/searches/{search_id}/cancel": {"post": _operation(
        "Cancel a search (its running trial is killed)",
        {"202": _json(_ref("Search"), "Cancelling or cancelled"), **_errors(400, 401, 404, 409)},
        parameters=[_path_parameter("search_id")])},
    "/v1/searches/{search_id}/events": {"get": _operation(
        "Server-Sent Events: `progress` events, then `end` when the search ends",
        {"200": {"description": "Event stream",
                 "content": {"text/event-stream": {"schema": {
                     "description": "One event; `data` is the search as JSON (see Search).",
                     "type": "object",
                     "properties": {"event": {"enum": ["progress", "end"]},
                                    "data": {"type": "string",
                                             "contentMediaType": "application/json"}},
                     "required": ["event", "data"]}}}},
         **_errors(400, 401, 404)},
        parameters=[_path_parameter("search_id")])},
    "/v1/models": {"get": _operation(
        "Models and their latest versions",
        {"200": _json(_object({"models": {"type": "array", "items": _ref("ModelSummary")}}),
                      "Models"), **_errors(401)})},
    "/v1/models/{name}": {"get": _operation(
        "TensorFlow Serving's model status",
        {"200": _json(_ref("ModelStatus"), "Versions"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name")])},
    "/v1/models/{name}/metadata": {"get": _operation(
        "Signature metadata of the latest version",
        {"200": _json(_ref("ModelMetadata"), "Metadata"), **_errors(400, 401, 404)},
        parameters=[_path_parameter("name")])},
    "/v1/models/{name}:predict": {"post": _operation(
        "Predict with the latest version",
        {"200": _json(_ref("PredictResponse"), "Predictions"), **_errors(400, 401, 404, 413)},
        parameters=[_path_parameter("name")],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("PredictRequest")}}})},
    "/v1/models/{name}/versions/{version}:predict": {"post": _operation(
        "Predict with one version",
        {"200": _json(_ref("PredictResponse"), "Predictions"), **_errors(400, 401, 404, 413)},
        parameters=[_path_parameter("name"),
                    _path_parameter("version", {"type": "integer", "minimum": 1})],
        requestBody={"required": True,
                     "content": {"application/json": {"schema": _ref("PredictRequest")}}})},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "evokt", "version": "1",
             "description": "Architecture searches over HTTP, and predictions from the "
             "chosen models in TensorFlow Serving's REST format."},
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
