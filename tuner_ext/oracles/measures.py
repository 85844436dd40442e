"""What evokt measures of every trial's model itself: size and speed, as metrics.

Every trial of evokt's tuners (and of every strategy `evokt search` runs)
records three metrics (`tuner_ext.oracles.defaults.MEASURED_METRICS`) beside
those its training reports, so they can be objectives and constraints without
user code:

- `params`: trainable and non-trainable parameters;
- `latency_ms`: median milliseconds of a single-row prediction on this
  machine, through the compiled call the service predicts with
  (`hypermodels.inference`), over `LATENCY_CALLS` calls after warm-up (fewer,
  at least 20, for a model so slow they would take over `LATENCY_SECONDS`);
- `model_bytes`: the size of the model saved as a `.keras` file.

None of them depends on the weights' values, so they are measured once, at
the end of the first epoch (the model is built by then, whatever it is), and
reported with every epoch's metrics: KerasTuner checks that each report holds
every objective.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

import keras
import numpy as np

LATENCY_CALLS = 200
# Latency calls stop after this many seconds (a large model), past 20 calls.
LATENCY_SECONDS = 2.0


def measure_model(model: keras.Model) -> dict[str, float]:
    """`params`, `latency_ms` and `model_bytes` of a built Keras model."""
    from hypermodels.inference import compile_inference

    input_shape = tuple(int(size) for size in model.inputs[0].shape[1:])
    infer = compile_inference(model, input_shape)
    row = np.zeros((1, *input_shape), dtype="float32")
    for _ in range(10):
        infer(row)
    seconds: list[float] = []
    while len(seconds) < LATENCY_CALLS and (len(seconds) < 20 or sum(seconds) < LATENCY_SECONDS):
        started = time.perf_counter()
        infer(row)
        seconds.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="evokt-size-") as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        model_bytes = os.path.getsize(path)
    return {
        "params": float(model.count_params()),
        "latency_ms": 1000 * statistics.median(seconds),
        "model_bytes": float(model_bytes),
    }


class ModelMeasures(keras.callbacks.Callback):
    """Adds the model's measures to the logs of every epoch, measured once."""

    def __init__(self):
        super().__init__()
        self.measures: dict[str, float] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        if self.measures is None:
            self.measures = measure_model(self.model)
        logs.update(self.measures)
