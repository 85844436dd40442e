"""Every hypermodel and task, trained, exported to every format and run in that format's
own runtime: TensorFlow's SavedModel loader, onnxruntime and the LiteRT interpreter."""

from __future__ import annotations

import os

import keras
import keras_tuner
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from helpers import evokt
from unconvertible import unconvertible_model

from evokt.hypermodels.cnn import CNNHyperModel
from evokt.hypermodels.mlp import MLPHyperModel
from evokt.hypermodels.sequence import SequenceHyperModel
from evokt.search.formats import FORMATS
from evokt.search.formats import ExportError
from evokt.search.formats import export_model

ROWS = 100


def _classification(shape):
    return {"task": "classification", "num_classes": 3,
            "feature_mean": [0.5] * shape[-1], "feature_variance": [4.0] * shape[-1]}


def _regression(shape):
    return {"task": "regression", "target_mean": 150.0, "target_std": 70.0,
            "feature_mean": [0.5] * shape[-1], "feature_variance": [4.0] * shape[-1]}


# (hypermodel, input shape, its hyperparameters): every activation the
# hypermodels choose by default, batch normalisation, both poolings, and
# convolutions feeding LSTM and GRU layers.
CASES = {
    "mlp": (MLPHyperModel, (12,), {
        "num_layers": 3, "units_0": 32, "activation_0": "gelu", "units_1": 16,
        "activation_1": "elu", "units_2": 16, "activation_2": "tanh", "batch_norm": True,
        "dropout": 0.2}),
    "cnn": (CNNHyperModel, (8, 8, 1), {
        "num_blocks": 2, "filters_0": 8, "activation_0": "gelu", "pooling_0": "max",
        "filters_1": 8, "activation_1": "relu", "pooling_1": "avg", "dense_units": 16,
        "dense_activation": "elu"}),
    "sequence": (SequenceHyperModel, (10, 3), {
        "num_layers": 3, "layer_type_0": "conv1d", "units_0": 16, "kernel_size_0": 3,
        "activation_0": "gelu", "layer_type_1": "lstm", "units_1": 16, "layer_type_2": "gru",
        "units_2": 16, "pooling": "max", "dense_units": 16, "dense_activation": "tanh"}),
}


def _trained_model(kind: str, task: str, path: str) -> np.ndarray:
    """Trains the case's model for one epoch, saves it to `path`, returns 100 test rows."""
    hypermodel_class, shape, values = CASES[kind]
    options = {"max_layers": 3} if kind != "cnn" else {"max_blocks": 2}
    hypermodel = hypermodel_class(shape, **(_classification if task == "classification"
                                            else _regression)(shape), **options)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    for parameter in hp.space:
        hp.values.setdefault(parameter.name, parameter.default)
    hp.values.update(values)
    model = hypermodel.build(hp)
    active = {name for name in values if hp.is_active(hp._hps[name][0])}
    assert active == set(values), f"unknown or inactive hyperparameters: {set(values) - active}"
    rng = np.random.default_rng(1)
    x = (0.5 + 2 * rng.standard_normal((64, *shape))).astype("float32")
    y = rng.integers(0, 3, 64) if task == "classification" else rng.normal(150, 70, 64)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(path)
    return (0.5 + 2 * rng.standard_normal((ROWS, *shape))).astype("float32")


def _run_export(export_format: str, path: str, rows: np.ndarray) -> np.ndarray:
    """The export at `path`, loaded and run by its runtime's own API."""
    if export_format == "saved_model":
        signature = tf.saved_model.load(path).signatures["serving_default"]
        return signature(inputs=tf.constant(rows))["output_0"].numpy()
    if export_format == "onnx":
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        assert [tensor.name for tensor in session.get_inputs()] == ["inputs"]
        return session.run(["output_0"], {"inputs": rows})[0]
    if export_format == "litert":
        runner = Interpreter(model_path=path).get_signature_runner("serving_default")
        return runner(inputs=rows)["output_0"]
    return keras.saving.load_model(path, compile=False)(rows).numpy()


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_format_matches_the_keras_model(kind, task, tmp_path):
    model_file = str(tmp_path / "model.keras")
    rows = _trained_model(kind, task, model_file)
    expected = keras.saving.load_model(model_file, compile=False)(rows).numpy()
    for export_format in FORMATS:
        output = str(tmp_path / ("serving" if export_format == "saved_model"
                                 else f"model.{export_format}"))
        exported = export_model(model_file, export_format, output, name=kind, version=3)
        if export_format == "saved_model":
            # TensorFlow Serving's layout: base path / model name / version.
            assert exported.path == os.path.join(output, kind, "3")
            assert os.path.isfile(os.path.join(exported.path, "saved_model.pb"))
        got = _run_export(export_format, exported.path, rows)
        assert got.shape == expected.shape
        scale = np.maximum(1.0, np.abs(expected))
        assert np.max(np.abs(got - expected) / scale) <= 1e-5, (kind, task, export_format)
        assert exported.size_bytes > 0


def test_an_unconvertible_model_is_refused_naming_what_and_writes_nothing(tmp_path):
    model = unconvertible_model()
    model_file = str(tmp_path / "model.keras")
    model.save(model_file)
    for export_format in ("onnx", "litert"):
        output = tmp_path / f"model.{export_format}"
        with pytest.raises(ExportError) as raised:
            export_model(model_file, export_format, str(output))
        message = str(raised.value)
        assert "Erfinv" in message or "erfinv" in message.lower(), message
        assert "InverseErf" in message
        assert not output.exists()
        assert [name for name in os.listdir(tmp_path) if name.startswith(".export-")] == []


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ExportError, match="unknown format 'tfjs'"):
        export_model(str(tmp_path / "model.keras"), "tfjs", str(tmp_path / "out"))


def test_search_and_export_commands_write_checked_formats(tmp_path):
    searched = evokt("search", "--dataset", "iris", "--max-trials", "1", "--epochs", "1",
                     "--project-dir", "search", "--output", "iris-model",
                     "--export-format", "litert", "--export-format", "saved_model",
                     cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    model_dir = tmp_path / "iris-model"
    rows = np.asarray([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32)
    expected = keras.saving.load_model(model_dir / "model.keras", compile=False)(rows).numpy()
    assert np.allclose(_run_export("litert", str(model_dir / "model.tflite"), rows), expected,
                       atol=1e-5)
    served = model_dir / "saved_model" / "iris-model" / "1"
    assert np.allclose(_run_export("saved_model", str(served), rows), expected, atol=1e-5)

    exported = evokt("export", "iris-model", "--format", "onnx", "--output", "out/iris.onnx",
                     cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "match the Keras model" in exported.stdout
    assert np.allclose(_run_export("onnx", str(tmp_path / "out" / "iris.onnx"), rows), expected,
                       atol=1e-5)

    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "model.keras").write_bytes(b"not a zip")
    damaged = evokt("export", "damaged", "--format", "onnx", "--output", "x.onnx", cwd=tmp_path)
    assert damaged.returncode == 2
    assert damaged.stderr.strip().startswith(
        "evokt: error: damaged/model.keras cannot be loaded: "), damaged.stderr
    assert not (tmp_path / "x.onnx").exists()

    missing = evokt("export", "nowhere", "--format", "onnx", "--output", "x.onnx", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "evokt: error: nowhere: holds no model.keras (give the folder 'evokt search --output' "
        "wrote)")
