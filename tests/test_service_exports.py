"""`GET /v1/models/{name}/versions/{version}/export`: each format downloaded, loaded in its
own runtime and compared with the registered model; built once and kept beside the version."""

import io
import os
import tarfile
import threading
import zipfile

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from service_helpers import AUTH
from service_helpers import conforms
from service_helpers import register_iris_model
from service_helpers import register_model
from unconvertible import unconvertible_model

ROWS = np.asarray([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]],
                  np.float32)
PATH = "/v1/models/{name}/versions/{version}/export"


@pytest.fixture
def iris_model(app):
    return register_iris_model(app)


def download(client, export_format, name="iris", version=1):
    return client.get(f"/v1/models/{name}/versions/{version}/export?format={export_format}",
                      headers=AUTH)


def exports_of(app, name="iris", version=1) -> str:
    return os.path.join(app.extensions["evokt.layout"].model_dir(name, version), "exports")


def test_each_format_downloads_and_runs_like_the_model(app, client, iris_model, tmp_path):
    expected = np.asarray(iris_model(ROWS))

    keras_file = download(client, "keras")
    assert keras_file.status_code == 200
    assert keras_file.headers["Content-Disposition"] == "attachment; filename=iris-1.keras"
    assert "config.json" in zipfile.ZipFile(io.BytesIO(keras_file.data)).namelist()

    onnx_file = download(client, "onnx")
    assert onnx_file.status_code == 200, onnx_file.data[:300]
    assert onnx_file.headers["Content-Disposition"] == "attachment; filename=iris-1.onnx"
    session = onnxruntime.InferenceSession(onnx_file.data, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["output_0"], {"inputs": ROWS})[0], expected,
                               atol=1e-5)

    litert_file = download(client, "litert")
    assert litert_file.headers["Content-Disposition"] == "attachment; filename=iris-1.tflite"
    runner = Interpreter(model_content=litert_file.data).get_signature_runner(
        "serving_default")
    np.testing.assert_allclose(runner(inputs=ROWS)["output_0"], expected, atol=1e-5)

    archive = download(client, "saved_model")
    assert archive.headers["Content-Disposition"] == (
        "attachment; filename=iris-1-saved_model.tar.gz")
    assert archive.mimetype == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(archive.data)) as tar:
        # TensorFlow Serving's model base path: NAME/VERSION/saved_model.pb.
        assert "iris/1/saved_model.pb" in tar.getnames()
        tar.extractall(tmp_path / "serving", filter="data")
    signature = tf.saved_model.load(str(tmp_path / "serving" / "iris" / "1")).signatures[
        "serving_default"]
    np.testing.assert_allclose(signature(inputs=tf.constant(ROWS))["output_0"].numpy(),
                               expected, atol=1e-5)
    conforms(archive, PATH, "get")


def test_an_export_is_built_once_and_kept_with_its_version(app, client, iris_model):
    first = download(client, "onnx")
    kept = os.path.join(exports_of(app), "onnx.onnx")
    built = os.stat(kept).st_mtime_ns
    again = download(client, "onnx")
    assert again.data == first.data
    assert os.stat(kept).st_mtime_ns == built
    # Nothing else is left there: no scratch folder of the build.
    assert sorted(os.listdir(exports_of(app))) == [".onnx.lock", "onnx.onnx"]
    deleted = client.delete("/v1/models/iris/versions/1", headers=AUTH)
    assert deleted.json["freed_bytes"] >= len(first.data)
    assert not os.path.exists(exports_of(app))


def test_concurrent_requests_share_one_build(app, iris_model):
    answers = []

    def fetch():
        answers.append(download(app.test_client(), "litert"))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [answer.status_code for answer in answers] == [200] * 3
    assert len({answer.data for answer in answers}) == 1


def test_a_killed_build_leaves_nothing_that_blocks_the_next(app, client, iris_model):
    scratch = os.path.join(exports_of(app), ".tmp-onnx")
    os.makedirs(scratch)
    with open(os.path.join(scratch, "model.onnx"), "wb") as half_written:
        half_written.write(b"\x08\x07")
    assert download(client, "onnx").status_code == 200
    assert not os.path.exists(scratch)


def test_an_unconvertible_model_is_refused_with_422_naming_what(app, client):
    register_model(app, unconvertible_model(), "odd")
    for export_format in ("onnx", "litert"):
        response = download(client, export_format, name="odd")
        assert response.status_code == 422, response.json
        conforms(response, PATH, "get")
        message = response.json["error"]
        assert message.startswith(f"version 1 of model 'odd' cannot be exported as "
                                  f"{export_format}: "), message
        assert "InverseErf" in message
    assert not any(name.endswith((".onnx", ".tflite")) for name in os.listdir(
        exports_of(app, "odd")))
    # The other formats still export.
    assert download(client, "keras", name="odd").status_code == 200


def test_bad_requests(app, client, iris_model):
    unknown = download(client, "tfjs")
    assert unknown.status_code == 400
    assert unknown.json == {"error": "format: choose one of saved_model, onnx, litert, keras; "
                                     "got 'tfjs'"}
    missing = client.get("/v1/models/iris/versions/1/export", headers=AUTH)
    assert missing.status_code == 400
    assert missing.json["error"].endswith("; none was given")
    assert download(client, "onnx", version=2).json == {"error": "no version 2 of model 'iris'"}
    assert download(client, "onnx", name="roses").status_code == 404
    assert client.get("/v1/models/iris/versions/1/export?format=onnx").status_code == 401


def test_a_damaged_model_file_is_503_and_builds_nothing(app, client, iris_model):
    built = download(client, "litert").data
    model_file = os.path.join(app.extensions["evokt.layout"].model_dir("iris", 1), "model.keras")
    with open(model_file, "r+b") as file:
        file.truncate(100)
    for export_format in ("onnx", "keras"):
        response = download(client, export_format)
        assert response.status_code == 503
        assert response.json["error"].startswith("version 1 of model 'iris' cannot be loaded: ")
    assert not os.path.exists(os.path.join(exports_of(app), "onnx.onnx"))
    # What was built and checked before the damage is still served.
    assert download(client, "litert").data == built
