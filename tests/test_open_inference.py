"""The Open Inference Protocol (KServe V2) routes against the protocol's request and response
shapes, through the real application factory and a real iris model."""

import json
import os

import numpy as np
import pytest
from service_helpers import AUTH
from service_helpers import conforms
from service_helpers import make_app
from service_helpers import register_iris_model

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture
def iris_model(app):
    return register_iris_model(app)


def tensor(data, shape, datatype="FP32", name="inputs", **extra):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data, **extra}


def infer(client, body, path="/v2/models/iris/infer"):
    return client.post(path, json=body, headers=AUTH)


def test_server_and_model_metadata(client, iris_model):
    server = client.get("/v2", headers=AUTH)
    conforms(server, "/v2", "get")
    assert server.json["name"] == "evokt"
    assert server.json["extensions"] == []
    expected = {"name": "iris", "versions": ["1"], "platform": "keras_tensorflow",
                "inputs": [{"name": "inputs", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}]}
    latest = client.get("/v2/models/iris", headers=AUTH)
    conforms(latest, "/v2/models/{name}", "get")
    assert latest.json == expected
    one = client.get("/v2/models/iris/versions/1", headers=AUTH)
    conforms(one, "/v2/models/{name}/versions/{version}", "get")
    assert one.json == expected


def test_ready_routes(client, iris_model):
    ready = client.get("/v2/models/iris/ready", headers=AUTH)
    conforms(ready, "/v2/models/{name}/ready", "get")
    assert ready.status_code == 200
    assert ready.json == {"name": "iris", "version": "1", "ready": True}
    version = client.get("/v2/models/iris/versions/1/ready", headers=AUTH)
    conforms(version, "/v2/models/{name}/versions/{version}/ready", "get")
    assert version.json["ready"] is True
    assert client.get("/v2/models/roses/ready", headers=AUTH).status_code == 404
    assert client.get("/v2/models/iris/versions/2/ready", headers=AUTH).status_code == 404


def test_a_version_whose_file_is_damaged_is_not_ready(app, client, iris_model):
    model_file = os.path.join(app.extensions["evokt.layout"].model_dir("iris", 1), "model.keras")
    with open(model_file, "r+b") as file:
        file.truncate(100)
    response = client.get("/v2/models/iris/versions/1/ready", headers=AUTH)
    assert response.status_code == 400
    assert response.json["error"].startswith("model 'iris' is not ready: models/iris/1/")
    failed = infer(client, {"inputs": [tensor(ROWS[0], [1, 4])]})
    assert failed.status_code == 503
    assert "cannot be loaded" in failed.json["error"]


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT32", "INT64"])
def test_inference_matches_the_model_for_each_datatype(client, iris_model, datatype):
    rows = np.asarray(ROWS, np.float32) if datatype.startswith("FP") else np.asarray(
        [[5, 3, 1, 0], [6, 3, 5, 2], [5, 3, 4, 1]])
    expected = np.asarray(iris_model(rows.astype(np.float32)))
    flat = infer(client, {"inputs": [tensor(rows.ravel().tolist(), [3, 4], datatype)]})
    assert flat.status_code == 200, flat.json
    conforms(flat, "/v2/models/{name}/infer", "post")
    output = flat.json["outputs"][0]
    assert (output["name"], output["datatype"], output["shape"]) == ("output_0", "FP32", [3, 3])
    np.testing.assert_allclose(np.reshape(output["data"], (3, 3)), expected, rtol=1e-5,
                               atol=1e-6)
    nested = infer(client, {"inputs": [tensor(rows.tolist(), [3, 4], datatype)]},
                   "/v2/models/iris/versions/1/infer")
    conforms(nested, "/v2/models/{name}/versions/{version}/infer", "post")
    assert nested.json["outputs"] == flat.json["outputs"]
    assert (nested.json["model_name"], nested.json["model_version"]) == ("iris", "1")


def test_the_id_and_parameters_come_back_and_outputs_may_be_named(client, iris_model):
    response = infer(client, {"id": "request-7", "parameters": {"trace": "abc"},
                              "inputs": [tensor(ROWS[0], [1, 4])],
                              "outputs": [{"name": "output_0"}]})
    assert response.status_code == 200, response.json
    conforms(response, "/v2/models/{name}/infer", "post")
    assert response.json["id"] == "request-7"
    assert response.json["parameters"] == {"trace": "abc"}
    assert np.isclose(sum(response.json["outputs"][0]["data"]), 1.0, rtol=1e-5)


def test_a_curl_body_without_content_type_is_read(client, iris_model):
    body = json.dumps({"inputs": [tensor(ROWS[0], [1, 4])]})
    response = client.post("/v2/models/iris/infer", data=body, headers=AUTH,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    "body,message",
    [
        ({"inputs": [tensor(ROWS[0], [1, 4], "BYTES")]},
         "input 'inputs': datatype must be one of FP16, FP32"),
        ({"inputs": [tensor(ROWS[0], [1, 4], "BOOL")]}, "input 'inputs': datatype must be"),
        ({"inputs": [tensor(ROWS[0][:3], [1, 3])]},
         "input 'inputs': expected shape [-1, 4], got [1, 3]"),
        ({"inputs": [tensor(ROWS[0], [4])]}, "input 'inputs': expected shape [-1, 4], got [4]"),
        ({"inputs": [tensor(ROWS[0], [2, 4])]},
         "input 'inputs': shape [2, 4] holds 8 values, data has 4"),
        ({"inputs": [tensor([ROWS[0][:2], ROWS[0][2:]], [1, 4])]},
         "input 'inputs': nested data has shape [2, 2], not the tensor's shape [1, 4]"),
        ({"inputs": [tensor([[1, 2], [3]], [1, 4])]}, "input 'inputs': data must hold numbers"),
        ({"inputs": [tensor([1, 2, 3, "4"], [1, 4])]}, "input 'inputs': data must hold numbers"),
        ({"inputs": [tensor([1, 2, 3, None], [1, 4])]}, "input 'inputs': data must hold numbers"),
        ({"inputs": [tensor([True] * 4, [1, 4])]}, "input 'inputs': data must hold numbers"),
        ({"inputs": [tensor([1.5, 2, 3, 4], [1, 4], "INT32")]},
         "input 'inputs': datatype INT32 takes integers"),
        ({"inputs": [tensor([1, 2, 3, 300], [1, 4], "INT8")]},
         "input 'inputs': data is out of the range of INT8"),
        ({"inputs": [tensor(ROWS[0], [1, 4], name="x")]},
         "inputs[0].name: the model's input is named 'inputs', got 'x'"),
        ({"inputs": [tensor(ROWS[0], [1, 4]), tensor(ROWS[1], [1, 4])]},
         "inputs: give one tensor, named 'inputs'"),
        ({"inputs": []}, "inputs: give one tensor"),
        ({"instances": [ROWS[0]]}, "inputs: give one tensor"),
        ({"inputs": [tensor([], [0, 4])]}, "input 'inputs': give at least one row"),
        ({"inputs": [tensor(ROWS[0], [1, -4])]}, "input 'inputs': shape must be a list"),
        ({"inputs": [tensor(ROWS[0] * 11, [11, 4])]},
         "input 'inputs': at most 10 rows per request, got 11"),
        ({"inputs": [tensor(ROWS[0], [1, 4], parameters={"binary_data_size": 16})]},
         "input 'inputs': binary tensor data is not supported"),
        ({"inputs": [tensor(ROWS[0], [1, 4], parameters="x")]},
         "input 'inputs': parameters must be an object"),
        ({"inputs": [tensor(ROWS[0], [1, 4])], "outputs": [{"name": "probabilities"}]},
         "outputs: the model's only output is 'output_0', got 'probabilities'"),
        ({"inputs": [tensor(ROWS[0], [1, 4])],
          "outputs": [{"name": "output_0", "parameters": {"binary_data": True}}]},
         "outputs: binary tensor data is not supported"),
        ({"inputs": [tensor(ROWS[0], [1, 4])], "id": 7}, "id: must be a string"),
        ({"inputs": [tensor(ROWS[0], [1, 4])], "parameters": []},
         "request: parameters must be an object"),
    ],
)
def test_bad_inference_requests_get_400_naming_the_problem(tmp_path, body, message):
    app = make_app(str(tmp_path / "data"), MAX_PREDICT_ROWS=10)
    register_iris_model(app)
    response = infer(app.test_client(), body)
    assert response.status_code == 400, response.json
    assert response.json["error"].startswith(message), response.json
    conforms(response, "/v2/models/{name}/infer", "post")


def test_non_finite_data_gets_400(client, iris_model):
    body = '{"inputs": [{"name": "inputs", "shape": [1, 4], "datatype": "FP64", ' \
           '"data": [1, 2, 3, NaN]}]}'
    response = client.post("/v2/models/iris/infer", data=body, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert "NaN and infinity" in response.json["error"]
    huge = infer(client, {"inputs": [tensor([1, 2, 3, 1e300], [1, 4], "FP64")]})
    assert huge.status_code == 400
    assert "NaN and infinity" in huge.json["error"]


def test_unknown_models_and_versions_are_404(client, iris_model):
    body = {"inputs": [tensor(ROWS[0], [1, 4])]}
    assert infer(client, body, "/v2/models/roses/infer").json == {"error": "no model 'roses'"}
    response = infer(client, body, "/v2/models/iris/versions/7/infer")
    assert response.status_code == 404
    assert response.json == {"error": "no version 7 of model 'iris'"}
    assert client.get("/v2/models/roses", headers=AUTH).status_code == 404
    assert client.get("/v2/models/iris/versions/7", headers=AUTH).status_code == 404
    assert client.get("/v2/models/iris/versions/99999999999999999999999",
                      headers=AUTH).status_code == 404


def test_a_body_over_the_prediction_limit_is_413(tmp_path):
    app = make_app(str(tmp_path / "data"), MAX_PREDICT_BYTES=1024)
    register_iris_model(app)
    rows = ROWS[0] * 100
    response = infer(app.test_client(), {"inputs": [tensor(rows, [100, 4])]})
    assert response.status_code == 413
    assert "error" in response.json


def test_the_routes_need_the_token_unless_predictions_are_public(tmp_path):
    body = {"inputs": [tensor(ROWS[0], [1, 4])]}
    closed = make_app(str(tmp_path / "closed"))
    register_iris_model(closed)
    client = closed.test_client()
    for path in ("/v2", "/v2/models/iris", "/v2/models/iris/ready"):
        assert client.get(path).status_code == 401, path
    assert client.post("/v2/models/iris/infer", json=body).status_code == 401
    opened = make_app(str(tmp_path / "open"), PUBLIC_PREDICT=True)
    register_iris_model(opened)
    client = opened.test_client()
    assert client.get("/v2/models/iris/versions/1").status_code == 200
    assert client.post("/v2/models/iris/versions/1/infer", json=body).status_code == 200
    assert client.get("/v1/models/iris/versions/1/export?format=keras").status_code == 401
