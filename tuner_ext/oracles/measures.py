"""What evokt measures of every trial's model itself: size and speed, as metrics.

Every trial of evokt's tuners (and of every strategy `evokt search` runs)
records three metrics (`evokt.oracles.defaults.MEASURED_METRICS`) beside
those its training reports, so they can be objectives and constraints without
user code:

- `params`: trainable and non-trainable parameters;
- `latency_ms`: median milliseconds of a single-row prediction on this
  machine, through the compiled call the service predicts with
  (`evokt.hypermodels.inference`), over `LATENCY_CALLS` calls after warm-up (fewer,
  at least 20, for a model so slow they would take over `LATENCY_SECONDS`);
- `model_bytes`: the size of the model saved as a `.keras` file.

None of them depends on the weights' values, so they are measured once, at
the end of the first epoch (the model is built by then, whatever it is), and
reported with every epoch's metrics: KerasTuner checks that each report holds
every objective.

Measuring never fails a trial that would otherwise complete. A measure that
cannot be taken of a model (the latency of a model with several inputs, the
file size of a subclassed model without `get_config`, or of one compiled with
metric objects that Keras cannot save) is left out of the trial's metrics,
with one warning per search and measure, unless the search needs it (an
objective or a constraint): then the trial fails with a message that says
which measure and why.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from collections.abc import Collection
from typing import Any

import keras
import numpy as np
from keras_tuner import errors

LATENCY_CALLS = 200
# Latency calls stop after this many seconds (a large model), past 20 calls.
LATENCY_SECONDS = 2.0


class UnmeasurableError(Exception):
    """A measure cannot be taken of a model; the message says why."""


def input_shape_of(model: keras.Model) -> tuple[int, ...]:
    """The shape of one example of a built model's single input.

    Functional and `Sequential` models declare their inputs; a subclassed
    model knows the shape it was built with (by its first call, in `fit`).

    Args:
        model: A built Keras model.

    Raises:
        UnmeasurableError: The model has several inputs, or an input shape
            that is not fully known.
    """
    try:
        shapes = [tuple(tensor.shape) for tensor in model.inputs]
    except AttributeError:
        shapes = list((getattr(model, "_build_shapes_dict", None) or {}).values())
    if len(shapes) != 1 or not isinstance(shapes[0], tuple | list):
        raise UnmeasurableError("it needs a model with one input tensor")
    example = tuple(shapes[0])[1:]
    if any(size is None for size in example):
        raise UnmeasurableError(f"the model's input shape {tuple(shapes[0])} is not fully known")
    return tuple(int(size) for size in example)


def measure_latency_ms(model: keras.Model) -> float:
    """Median milliseconds of a single-row prediction, through the compiled call."""
    from evokt.hypermodels.inference import compile_inference

    input_shape = input_shape_of(model)
    infer = compile_inference(model, input_shape)
    row = np.zeros((1, *input_shape), dtype="float32")
    for _ in range(10):
        infer(row)
    seconds: list[float] = []
    while len(seconds) < LATENCY_CALLS and (len(seconds) < 20 or sum(seconds) < LATENCY_SECONDS):
        started = time.perf_counter()
        infer(row)
        seconds.append(time.perf_counter() - started)
    return 1000 * statistics.median(seconds)


def _reason(error: Exception) -> str:
    """One line saying why a measure failed: the error's message, or where it
    was raised when it has none."""
    text = " ".join(str(error).split())
    if isinstance(error, UnmeasurableError):
        return text
    if not text:
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            frame = frames[-1]
            place = os.path.join(*frame.filename.split(os.sep)[-3:])
            text = f"raised in {frame.name}, {place}"
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def measure_model_bytes(model: keras.Model) -> float:
    """The size of the model saved as a `.keras` file."""
    with tempfile.TemporaryDirectory(prefix="evokt-size-") as directory:
        path = os.path.join(directory, "model.keras")
        try:
            model.save(path)
        except Exception as error:
            raise UnmeasurableError(f"Keras cannot save it as a .keras file: {_reason(error)}") \
                from error
        return float(os.path.getsize(path))


MEASURES: dict[str, Callable[[keras.Model], float]] = {
    "params": lambda model: float(model.count_params()),
    "latency_ms": measure_latency_ms,
    "model_bytes": measure_model_bytes,
}


def measure_model(model: keras.Model) -> tuple[dict[str, float], dict[str, str]]:
    """Every measure that can be taken of a built Keras model.

    Args:
        model: A built Keras model.

    Returns:
        The measures taken (`params`, `latency_ms`, `model_bytes`), and for
        each one that could not be, why.
    """
    measures: dict[str, float] = {}
    missing: dict[str, str] = {}
    for name, measure in MEASURES.items():
        try:
            measures[name] = measure(model)
        except Exception as error:  # whatever fails is reported, never raised
            missing[name] = _reason(error)
    return measures, missing


class ModelMeasures(keras.callbacks.Callback):
    """Adds the model's measures to the logs of every epoch, measured once.

    Args:
        required: Names of the measures the search needs (its objectives and
            constraints): a trial whose model lacks one of them fails,
            saying why. The others are left out when they cannot be taken.
        warned: The measures already warned about in this search, shared by
            every copy of the callback (KerasTuner deep-copies callbacks for
            each execution), so each is warned about once per search.
    """

    def __init__(self, required: Collection[str] = (), warned: set[str] | None = None):
        super().__init__()
        self.required = frozenset(required)
        self.warned = set() if warned is None else warned
        self.measures: dict[str, float] | None = None

    def __deepcopy__(self, memo: dict) -> ModelMeasures:
        return ModelMeasures(self.required, self.warned)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        if self.measures is None:
            self.measures = self._measure()
        logs.update(self.measures)

    def _measure(self) -> dict[str, float]:
        measures, missing = measure_model(self.model)
        needed = {name: why for name, why in missing.items() if name in self.required}
        if needed:
            raise errors.FailedTrialError(
                "evokt cannot measure this model's "
                + "; ".join(f"'{name}' ({why})" for name, why in needed.items())
                + ", which the search needs as an objective or a constraint.")
        for name, why in missing.items():
            if name not in self.warned:
                self.warned.add(name)
                warnings.warn(
                    f"evokt leaves '{name}' out of this search's trial metrics: it cannot "
                    f"measure it for this model ({why}).", RuntimeWarning, stacklevel=2)
        return measures
