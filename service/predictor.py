"""Loaded models and their compiled inference functions, per worker process.

Each gunicorn worker loads a model version once (Keras `safe_mode=True`, from
the service's own store only) and wraps it in a `tf.function` with a fixed
input signature. Calling that graph costs a fraction of a millisecond, where
`model.predict()` builds a dataset and a loop for every request and costs
tens. A request for the latest version looks the version up in the job store,
so a newly registered version is served from the next request on; the cache
keeps `MODEL_CACHE_SIZE` versions loaded.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from evokt.hypermodels.inference import compile_inference
from evokt.search.layout import MODEL_FILE
from evokt.service.errors import ApiError
from evokt.service.layout import DataLayout

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """One model version, ready to predict.

    Args:
        name: The model's name.
        version: Its version number.
        input_shape: Shape of one example.
        metadata: The version's registered metadata.
        infer: float32 array of shape (rows, *input_shape) -> outputs.
    """

    name: str
    version: int
    input_shape: tuple[int, ...]
    metadata: dict[str, Any]
    infer: Callable[[np.ndarray], np.ndarray]


class ModelCache:
    """The model versions this process has loaded, the most recent `size` of them.

    A version being loaded blocks only the requests for that version: the
    others, for loaded versions, go on meanwhile.

    Args:
        layout: The data directory's layout.
        size: How many versions to keep loaded; the least recently used
            goes first.
    """

    def __init__(self, layout: DataLayout, size: int):
        self.layout = layout
        self.size = size
        self._models: collections.OrderedDict[tuple[str, int], LoadedModel] = (
            collections.OrderedDict())
        self._loading: dict[tuple[str, int], Future] = {}
        self._lock = threading.Lock()

    def get(self, record: dict[str, Any]) -> LoadedModel:
        """The loaded model of a registered version (a job store record)."""
        key = (record["name"], record["version"])
        with self._lock:
            loaded = self._models.get(key)
            if loaded is not None:
                self._models.move_to_end(key)
                return loaded
            loading = self._loading.get(key)
            owner = loading is None
            if owner:
                loading = self._loading[key] = Future()
        if not owner:
            return loading.result()
        try:
            loaded = self._load(record)
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            loading.set_exception(error)
            raise
        with self._lock:
            del self._loading[key]
            self._models[key] = loaded
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        loading.set_result(loaded)
        return loaded

    def warm(self, records: list[dict[str, Any]]) -> None:
        """Loads these versions now; one that fails to load is left for its first request."""
        for record in records[: self.size]:
            try:
                self.get(record)
            except Exception:  # noqa: BLE001 (the request that needs it reports it)
                logger.exception("could not load version %s of model %s",
                                 record["version"], record["name"])

    def _load(self, record: dict[str, Any]) -> LoadedModel:
        import keras

        path = os.path.join(self.layout.model_dir(record["name"], record["version"]), MODEL_FILE)
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        input_shape = tuple(record["metadata"]["input_shape"])
        return LoadedModel(
            name=record["name"],
            version=record["version"],
            input_shape=input_shape,
            metadata=record["metadata"],
            infer=compile_inference(model, input_shape),
        )


def as_batch(values: Any, input_shape: tuple[int, ...], field: str, max_rows: int) -> np.ndarray:
    """Checks request rows and returns them as a float32 batch.

    Args:
        values: A list of examples, each of `input_shape`.
        input_shape: The model's example shape.
        field: The request field, for messages.
        max_rows: The most rows one request may hold.

    Raises:
        ApiError: 400 naming the problem.
    """
    if not isinstance(values, list) or not values:
        raise ApiError(400, f"{field}: must be a non-empty list of examples")
    if len(values) > max_rows:
        raise ApiError(400, f"{field}: at most {max_rows} rows per request, got {len(values)}")
    try:
        batch = np.asarray(values)
    except (TypeError, ValueError, RecursionError):
        batch = None
    if batch is None or batch.dtype.kind not in "biuf":
        # Ragged lists, strings, nulls and objects all end here.
        raise ApiError(
            400, f"{field}: every example must be numbers of shape {list(input_shape)}"
        )
    if batch.shape[1:] != input_shape:
        raise ApiError(
            400,
            f"{field}: expected examples of shape {list(input_shape)}, got "
            f"{list(batch.shape[1:])}",
        )
    batch = batch.astype("float32")
    if not np.isfinite(batch).all():
        raise ApiError(400, f"{field}: NaN and infinity are not allowed")
    return batch
