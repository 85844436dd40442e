"""The chosen model in the formats people deploy: SavedModel, ONNX, LiteRT and `.keras`.

Every format takes the same raw features as the service's `:predict` (one
float32 input named `inputs`, of shape `(rows, *input_shape)`; the feature
scaling is inside the model) and gives the same output (`output_0`: class
probabilities, or the regression's prediction in the target's units).

An export is only written once it has been loaded in its own runtime
(`tf.saved_model.load`, onnxruntime, the LiteRT interpreter) and its outputs
on sample rows match the Keras model's within `TOLERANCE`; a model that
cannot be converted raises `ExportError` naming what cannot be, and leaves no
file behind.

Two conversions need help, both exact:
- recurrent layers (LSTM, GRU) run as a TensorFlow while loop over
  TensorLists, which LiteRT's built-in operators and tf2onnx cannot express;
  the sequence length is fixed, so they are unrolled for those formats;
- the exact `gelu` computes TensorFlow's `Erfc`, which tf2onnx does not
  convert; it is written as ONNX's `1 - Erf(x)`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evokt.hypermodels.errors import EvoktError
from evokt.search.layout import MODEL_FILE
from evokt.search.names import as_name

FORMATS = ("saved_model", "onnx", "litert", "keras")
# The file (or folder) name of each format, as `evokt export` and the service write it.
FILE_NAMES = {"saved_model": "saved_model", "onnx": "model.onnx", "litert": "model.tflite",
              "keras": "model.keras"}
# The packages of the `export` extra each format needs (TensorFlow does the others).
EXTRA_PACKAGES = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}
INPUT_NAME = "inputs"
OUTPUT_NAME = "output_0"
SIGNATURE = "serving_default"
# Largest difference allowed from the Keras model's outputs, relative above 1
# (a regression's prediction in the target's units).
TOLERANCE = 1e-5
SAMPLE_ROWS = 100
ONNX_OPSET = 17
_RECURRENT = ("LSTM", "GRU", "SimpleRNN")


class ExportError(EvoktError):
    """The model cannot be exported in a format; the message says what cannot be converted."""


@dataclass(frozen=True)
class Exported:
    """One export, checked.

    Args:
        format: One of `FORMATS`.
        path: The file, or for a SavedModel its version folder.
        seconds: Time to convert and check it.
        size_bytes: Its size on disk.
        max_difference: Its largest difference from the Keras model on the
            sample rows.
    """

    format: str
    path: str
    seconds: float
    size_bytes: int
    max_difference: float


def sample_rows(model: Any, rows: int = SAMPLE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows like the model's training data: its feature scaling's mean and spread,
    else standard normal.

    Args:
        model: A Keras model with one input.
        rows: How many.
        seed: Seed of the draw.
    """
    shape = tuple(model.inputs[0].shape[1:])
    noise = np.random.default_rng(seed).standard_normal((rows, *shape))
    for layer in model.layers:
        if type(layer).__name__ == "Normalization":
            mean = np.asarray(layer.mean, np.float64).reshape(-1)
            spread = np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1))
            if mean.size in (1, shape[-1]):
                return (mean + spread * noise).astype(np.float32)
    return noise.astype(np.float32)


def export_model(model_file: str, export_format: str, output: str, *, name: str = "evokt_model",
                 version: int = 1, rows: np.ndarray | None = None) -> Exported:
    """Exports a `.keras` model in one format, after checking the export in its runtime.

    Args:
        model_file: The `.keras` file (what `evokt search` writes).
        export_format: One of `FORMATS`.
        output: The file to write; for `saved_model`, the base folder
            TensorFlow Serving watches: the model goes into `output/name/version/`.
        name: The model's name in a SavedModel's layout.
        version: Its version number there.
        rows: Sample rows to compare outputs on; default: `sample_rows`.

    Returns:
        What was written.

    Raises:
        ExportError: The format is unknown, the model cannot be converted, or
            the export does not match the Keras model.
    """
    if export_format not in FORMATS:
        raise ExportError(f"unknown format {export_format!r}; choose one of {', '.join(FORMATS)}")
    import keras

    started = time.perf_counter()
    try:
        model = keras.saving.load_model(model_file, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 (Keras raises its own kinds for a bad file)
        raise ExportError(f"{model_file} cannot be loaded: {_first_line(error)}") from None
    rows = sample_rows(model) if rows is None else np.asarray(rows, np.float32)
    expected = model(rows, training=False).numpy()
    target = os.path.join(output, name, str(version)) if export_format == "saved_model" \
        else output
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=parent, prefix=".export-")
    try:
        written = os.path.join(scratch, FILE_NAMES[export_format])
        if export_format == "keras":
            shutil.copyfile(model_file, written)
        else:
            _WRITERS[export_format](model, written, scratch)
        try:
            got = _RUNNERS[export_format](written)(rows)
        except ExportError:
            raise
        except Exception as error:  # noqa: BLE001 (each runtime raises its own kinds)
            raise ExportError(f"the {export_format} export does not run in its runtime: "
                              f"{_first_line(error)} (layers: {_layer_kinds(model)}); nothing "
                              "was written") from None
        difference = _max_difference(got, expected)
        if not difference <= TOLERANCE:
            raise ExportError(
                f"the {export_format} export differs from the Keras model by {difference:.3g} "
                f"on {len(rows)} sample rows (more than {TOLERANCE:g}); nothing was written")
        _replace(written, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Exported(export_format, target, time.perf_counter() - started, _size(target),
                    difference)


def export_beside(model_dir: str, formats: Sequence[str]) -> list[Exported]:
    """Writes the model of a search's output folder in each of `formats`, beside its
    `model.keras` (`evokt search --export-format`), named after the folder.

    Args:
        model_dir: The search's output folder.
        formats: Formats of `FORMATS`; `keras` is already there.

    Raises:
        ExportError: As `export_model`.
    """
    name = as_name(os.path.basename(os.path.abspath(model_dir)))
    return [export_model(os.path.join(model_dir, MODEL_FILE), export_format,
                         os.path.join(model_dir, FILE_NAMES[export_format]), name=name)
            for export_format in dict.fromkeys(formats) if export_format != "keras"]


def missing_package(export_format: str) -> str | None:
    """The first package `export_format` needs that is not installed, if any.

    Args:
        export_format: One of `FORMATS`.
    """
    return next((package for package in EXTRA_PACKAGES.get(export_format, ())
                 if importlib.util.find_spec(package) is None), None)


def load_runner(export_format: str, path: str) -> Callable[[np.ndarray], np.ndarray]:
    """The exported model at `path`, loaded in its own runtime, as rows -> outputs.

    Args:
        export_format: One of `FORMATS`.
        path: What `export_model` wrote (a SavedModel's version folder).
    """
    return _RUNNERS[export_format](path)


def archive_saved_model(version_dir: str, archive: str, name: str, version: int) -> None:
    """A SavedModel's version folder as a gzipped tar of `name/version/...`, ready to
    unpack into TensorFlow Serving's model base path.

    Args:
        version_dir: The folder `export_model` wrote.
        archive: The `.tar.gz` file to write.
        name: The model's name, the archive's top folder.
        version: Its version, the folder below.
    """
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(version_dir, arcname=f"{name}/{version}")


def _max_difference(got: np.ndarray, expected: np.ndarray) -> float:
    got = np.asarray(got, np.float64).reshape(expected.shape)
    scale = np.maximum(1.0, np.abs(expected))
    return float(np.max(np.abs(got - expected) / scale))


def _replace(written: str, target: str) -> None:
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    os.replace(written, target)


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, file))
               for folder, _, files in os.walk(path) for file in files)


def _input_spec(model: Any):
    import tensorflow as tf

    return tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name=INPUT_NAME)


def _unrolled(model: Any) -> Any:
    """`model` with its recurrent layers unrolled (same weights), or `model` itself."""
    import keras

    if not any(type(layer).__name__ in _RECURRENT for layer in model.layers):
        return model

    def clone(layer):
        config = layer.get_config()
        if type(layer).__name__ in _RECURRENT:
            config["unroll"] = True
        return layer.__class__.from_config(config)

    unrolled = keras.models.clone_model(model, clone_function=clone)
    unrolled.set_weights(model.get_weights())
    return unrolled


def _write_saved_model(model: Any, path: str, scratch: str) -> None:
    """A SavedModel whose `serving_default` takes `inputs` and gives `output_0`."""
    from keras.export import ExportArchive

    archive = ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE, lambda inputs: {OUTPUT_NAME: model(inputs, training=False)},
                         input_signature=[_input_spec(model)])
    archive.write_out(path, verbose=False)


def _write_litert(model: Any, path: str, scratch: str) -> None:
    """A LiteRT flatbuffer of built-in operators only, so the plain interpreter runs it."""
    import tensorflow as tf

    saved = os.path.join(scratch, "litert-source")
    _write_saved_model(_unrolled(model), saved, scratch)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # noqa: BLE001 (the converter raises its own kinds)
        raise ExportError(f"cannot convert to litert: {_first_line(error)} "
                          f"(layers: {_layer_kinds(model)})") from None
    with open(path, "wb") as file:
        file.write(flatbuffer)


def _erfc_as_erf(ctx: Any, node: Any, name: str, args: list) -> None:
    """tf2onnx handler of TensorFlow's Erfc: `1 - Erf(x)`."""
    from tf2onnx import utils

    node.type = "Erf"
    one = ctx.make_const(utils.make_name("one"), np.array(1.0, np.float32))
    complement = ctx.insert_new_node_on_output("Sub", node.output[0],
                                               name=utils.make_name(f"{node.name}_erfc"))
    ctx.replace_inputs(complement, [one.output[0], node.output[0]])


def _write_onnx(model: Any, path: str, scratch: str) -> None:
    """ONNX from the forward pass with every weight and constant frozen into the graph.

    tf2onnx's own `from_function` leaves constants a Keras layer holds as
    tensors (a Normalization's mean and variance) as extra graph inputs, so
    the function is frozen here first.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    exported = _unrolled(model)
    forward = tf.function(lambda inputs: {OUTPUT_NAME: exported(inputs, training=False)},
                          input_signature=[_input_spec(model)])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    output = frozen.outputs[0].name
    # tf2onnx logs every step, and TensorFlow warns of the v1 calls tf2onnx makes.
    quieted = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow")]
    levels = [logger.level for logger in quieted]
    for logger in quieted:
        logger.setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(), input_names=[f"{INPUT_NAME}:0"], output_names=[output],
            opset=ONNX_OPSET, custom_op_handlers={"Erfc": (_erfc_as_erf, [])},
            tensors_to_rename={f"{INPUT_NAME}:0": INPUT_NAME, output: OUTPUT_NAME})
    finally:
        for logger, level in zip(quieted, levels, strict=True):
            logger.setLevel(level)
    unconverted = sorted({node.op_type for node in proto.graph.node
                          if not node.domain and not onnx.defs.has(node.op_type)})
    if unconverted:
        raise ExportError(f"cannot convert to onnx: TensorFlow operations "
                          f"{', '.join(unconverted)} have no ONNX equivalent "
                          f"(layers: {_layer_kinds(model)})")
    onnx.save(proto, path)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if "error:" in line]
    return (lines[0].split("error:", 1)[1].strip() if lines
            else str(error).strip().splitlines()[0] if str(error).strip()
            else type(error).__name__)


def _layer_kinds(model: Any) -> str:
    return ", ".join(sorted({type(layer).__name__ for layer in model.layers}))


def _run_saved_model(path: str) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures[SIGNATURE]
    return lambda rows: signature(**{INPUT_NAME: tf.constant(rows)})[OUTPUT_NAME].numpy()


def _run_onnx(path: str) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda rows: session.run([OUTPUT_NAME], {INPUT_NAME: rows})[0]


def _run_litert(path: str) -> Callable[[np.ndarray], np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=1).get_signature_runner(SIGNATURE)
    return lambda rows: runner(**{INPUT_NAME: rows})[OUTPUT_NAME]


def _run_keras(path: str) -> Callable[[np.ndarray], np.ndarray]:
    import keras

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return lambda rows: model(rows, training=False).numpy()


_WRITERS = {"saved_model": _write_saved_model, "onnx": _write_onnx, "litert": _write_litert}
_RUNNERS = {"saved_model": _run_saved_model, "onnx": _run_onnx, "litert": _run_litert,
            "keras": _run_keras}
