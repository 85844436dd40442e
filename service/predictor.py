"""Loaded models and their compiled inference functions, per worker process.

Each gunicorn worker loads a model version once (Keras `safe_mode=True`, from
the service's own store only) and wraps it in a `tf.function` with a fixed
input signature. Calling that graph costs a fraction of a millisecond, where
`model.predict()` builds a dataset and a loop for every request and costs
tens. The cache keeps `MODEL_CACHE_SIZE` versions loaded.

No request waits for a newly registered version: a `ModelWatcher` thread in
each worker looks for new versions in the job store and loads them, and until
the new version is loaded, requests for a model's latest version are answered
by the newest version the worker has loaded, as TensorFlow Serving switches
once the new version is AVAILABLE. A version whose file is missing or damaged
has TF Serving's state END with an error code naming the file; predictions of
it get 503, and it is tried again after `retry_seconds`, so a file put back is
served again. After each load the worker's objects are frozen out of Python's
cyclic garbage collector, whose full collections otherwise stalled every
request thread for 0.3-1.5 s just after a load.
"""

from __future__ import annotations

import collections
import gc
import logging
import math
import os
import threading
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock
from evokt.hypermodels.inference import compile_inference
from evokt.search.layout import MODEL_FILE
from evokt.service.errors import ApiError
from evokt.service.layout import DataLayout
from evokt.service.store import STORE_FILE
from evokt.service.store import JobStore

logger = logging.getLogger(__name__)

# TensorFlow Serving's version states, and the error codes of a version that cannot be loaded.
AVAILABLE = "AVAILABLE"
LOADING = "LOADING"
END = "END"
VERSION_STATES = ("START", LOADING, AVAILABLE, "UNLOADING", END)
OK = "OK"
NOT_FOUND = "NOT_FOUND"
DATA_LOSS = "DATA_LOSS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNKNOWN = "UNKNOWN"
ERROR_CODES = (OK, NOT_FOUND, DATA_LOSS, PERMISSION_DENIED, UNKNOWN)

# What Keras needs in a `.keras` archive (it also holds metadata.json and the weights).
_CONFIG_MEMBER = "config.json"


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


@dataclass(frozen=True)
class LoadFailure:
    """Why a version cannot be loaded.

    Args:
        error_code: TensorFlow Serving's code: `NOT_FOUND`, `DATA_LOSS`,
            `PERMISSION_DENIED` or `UNKNOWN`.
        message: What is wrong, naming the file (relative to the data
            directory).
    """

    error_code: str
    message: str


def unloadable_message(record: dict[str, Any], failure: LoadFailure) -> str:
    """One line: which version of which model cannot be loaded, and why.

    Args:
        record: The version's job store record.
        failure: Why it cannot be loaded.
    """
    return (f"version {record['version']} of model {record['name']!r} cannot be loaded: "
            f"{failure.message}")


class ModelUnavailable(ApiError):
    """503: a version that cannot be loaded, and when it is tried again.

    Args:
        record: The version (a job store record).
        failure: Why.
        retry_after: Seconds until the next try.
    """

    def __init__(self, record: dict[str, Any], failure: LoadFailure, retry_after: float):
        super().__init__(503, unloadable_message(record, failure),
                         {"Retry-After": str(max(1, math.ceil(retry_after)))})
        self.failure = failure


class _FileProblem(Exception):
    """A model file that `check_model_file` refused."""

    def __init__(self, failure: LoadFailure):
        super().__init__(failure.message)
        self.failure = failure


def check_model_file(path: str, root: str, verify_data: bool) -> LoadFailure | None:
    """What is wrong with a version's `.keras` file, or None.

    Keras reports a missing, truncated and empty file alike ("File not found"),
    and loads one whose weights have been overwritten, so the file is checked
    here first.

    Args:
        path: The file.
        root: The data directory; messages name the file relative to it.
        verify_data: Also read every member and check its CRC (a load reads
            the whole file anyway). Without it only the zip's directory at
            the file's end is read, which a truncated file has lost.
    """
    shown = os.path.relpath(path, root)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip() if verify_data else None
    except FileNotFoundError:
        return LoadFailure(NOT_FOUND, f"{shown} does not exist")
    except PermissionError:
        return LoadFailure(PERMISSION_DENIED, f"{shown} cannot be read: permission denied")
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        return LoadFailure(DATA_LOSS, f"{shown} is damaged (truncated, or not a .keras file): "
                                      f"{error}")
    except OSError as error:
        return LoadFailure(UNKNOWN, f"{shown} cannot be read: {error.strerror or error}")
    if damaged is not None:
        return LoadFailure(DATA_LOSS, f"{shown} is damaged: its {damaged} fails its checksum")
    if _CONFIG_MEMBER not in names:
        return LoadFailure(DATA_LOSS, f"{shown} is damaged: it holds no {_CONFIG_MEMBER}")
    return None


class ModelCache:
    """The model versions this process has loaded, the most recent `size` of them.

    A version being loaded blocks only the requests for that version: the
    others, for loaded versions, go on meanwhile. A version that failed to
    load is not tried again for `retry_seconds`; requests for it get 503 at
    once meanwhile.

    Args:
        layout: The data directory's layout.
        size: How many versions to keep loaded; the least recently used
            goes first.
        retry_seconds: How long a failed load is remembered before the
            version is tried again.
        clock: Where time comes from.
    """

    def __init__(self, layout: DataLayout, size: int, retry_seconds: float = 10.0,
                 clock: Clock = SYSTEM_CLOCK):
        self.layout = layout
        self.size = size
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._models: collections.OrderedDict[tuple[str, int], LoadedModel] = (
            collections.OrderedDict())
        self._loading: dict[tuple[str, int], Future] = {}
        # key -> (why, when it failed on the monotonic clock)
        self._failures: dict[tuple[str, int], tuple[LoadFailure, float]] = {}
        self._lock = threading.Lock()

    def model_file(self, record: dict[str, Any]) -> str:
        """The `.keras` file of a version."""
        return os.path.join(self.layout.model_dir(record["name"], record["version"]), MODEL_FILE)

    def get(self, record: dict[str, Any]) -> LoadedModel:
        """The loaded model of a registered version (a job store record), loaded now if it is not.

        Raises:
            ModelUnavailable: It cannot be loaded (now, or at a try less than
                `retry_seconds` ago).
        """
        loaded, loading, owner = self._claim(record)
        if loaded is not None:
            return loaded
        if owner:
            self._load_into(record, loading)
        return loading.result()

    def latest(self, record: dict[str, Any]) -> LoadedModel:
        """The model that answers a request for a model's latest version, `record`.

        `record` once it is loaded. Until then, the newest older version this
        worker has loaded, while `record` loads on a thread of its own (or
        keeps failing to); with no older version loaded, `record`, loaded now.

        Raises:
            ModelUnavailable: `record` cannot be loaded and no older version is.
        """
        key = (record["name"], record["version"])
        with self._lock:
            fallback = None if key in self._models else self._newest_loaded(*key)
            if fallback is not None:
                self._models.move_to_end((fallback.name, fallback.version))
        if fallback is None:
            return self.get(record)
        self.load_in_background(record)
        return fallback

    def load_in_background(self, record: dict[str, Any]) -> None:
        """Starts loading a version on a thread of its own, unless it is loaded, loading or
        failed less than `retry_seconds` ago."""
        try:
            _, loading, owner = self._claim(record)
        except ModelUnavailable:
            return
        if owner:
            threading.Thread(target=self._load_into, args=(record, loading), daemon=True,
                             name=f"load-{record['name']}-{record['version']}").start()

    def refresh(self, latest: list[dict[str, Any]]) -> None:
        """Loads, on this thread, each model's latest version that is not loaded yet.

        Only the versions this worker will serve: a model of which it has an
        older version loaded, and others while the cache has room (so the
        first call, at start, loads the latest version of up to `size`
        models). One that cannot be loaded is left, with its state saying why.

        Args:
            latest: Each model's latest version (job store records).
        """
        for record in latest:
            key = (record["name"], record["version"])
            with self._lock:
                wanted = key not in self._models and (
                    self._newest_loaded(*key) is not None or len(self._models) < self.size)
            if not wanted:
                continue
            try:
                _, loading, owner = self._claim(record)
            except ModelUnavailable:
                continue
            if owner:
                self._load_into(record, loading)

    def retain(self, live: set[tuple[str, int]]) -> None:
        """Unloads the versions not in `live` (deleted since they were loaded), so none
        of them answers for its model's latest version.

        Args:
            live: (name, version) of every registered version.
        """
        with self._lock:
            for key in [key for key in self._models if key not in live]:
                del self._models[key]

    def state(self, record: dict[str, Any]) -> tuple[str, LoadFailure | None]:
        """TensorFlow Serving's state of a version in this worker, and why it cannot be loaded.

        AVAILABLE when it is loaded, or not loaded yet but its file looks whole
        (it is loaded on first use); LOADING; END with the failure when it
        failed to load less than `retry_seconds` ago, or its file is missing
        or truncated.
        """
        key = (record["name"], record["version"])
        with self._lock:
            if key in self._models:
                return AVAILABLE, None
            if key in self._loading:
                return LOADING, None
            failure = self._recent_failure(key)
        if failure is None:
            failure = check_model_file(self.model_file(record), self.layout.root,
                                       verify_data=False)
        return (END, failure) if failure is not None else (AVAILABLE, None)

    def _newest_loaded(self, name: str, below: int) -> LoadedModel | None:
        """The newest loaded version of `name` older than `below`; call with the lock held.

        Only older ones: a newer one loaded here has been deleted since.
        """
        versions = [version for model, version in self._models if model == name
                    and version < below]
        return self._models[(name, max(versions))] if versions else None

    def _recent_failure(self, key: tuple[str, int]) -> LoadFailure | None:
        """Call with the lock held."""
        failure = self._failures.get(key)
        if failure is None or self.clock.monotonic() - failure[1] >= self.retry_seconds:
            return None
        return failure[0]

    def _claim(self, record: dict[str, Any]) -> tuple[LoadedModel | None, Future | None, bool]:
        """The loaded model; or the future of its load, and whether this caller must load it.

        Raises:
            ModelUnavailable: It failed to load less than `retry_seconds` ago.
        """
        key = (record["name"], record["version"])
        with self._lock:
            loaded = self._models.get(key)
            if loaded is not None:
                self._models.move_to_end(key)
                return loaded, None, False
            failure = self._recent_failure(key)
            if failure is not None:
                waited = self.clock.monotonic() - self._failures[key][1]
                raise ModelUnavailable(record, failure, self.retry_seconds - waited)
            loading = self._loading.get(key)
            if loading is not None:
                return None, loading, False
            loading = self._loading[key] = Future()
            return None, loading, True

    def _load_into(self, record: dict[str, Any], loading: Future) -> None:
        """Loads a version claimed by this caller; the outcome goes to `loading`."""
        key = (record["name"], record["version"])
        try:
            loaded = self._load(record)
        except Exception as error:  # noqa: BLE001 (any failure is the version's state)
            failure = error.failure if isinstance(error, _FileProblem) else LoadFailure(
                UNKNOWN, f"{os.path.relpath(self.model_file(record), self.layout.root)} "
                f"cannot be loaded: {type(error).__name__}: {error}")
            with self._lock:
                del self._loading[key]
                previous = self._failures.get(key)
                self._failures[key] = (failure, self.clock.monotonic())
            if previous is None or previous[0] != failure:
                # Once per new reason, not at every retry.
                logger.error("version %s of model %s cannot be loaded: %s", record["version"],
                             record["name"], failure.message,
                             exc_info=not isinstance(error, _FileProblem))
            loading.set_exception(ModelUnavailable(record, failure, self.retry_seconds))
            return
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            loading.set_exception(error)
            raise
        with self._lock:
            del self._loading[key]
            self._failures.pop(key, None)
            self._models[key] = loaded
            evicted = len(self._models) > self.size
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        _freeze_long_lived(evicted)
        loading.set_result(loaded)

    def _load(self, record: dict[str, Any]) -> LoadedModel:
        import keras

        path = self.model_file(record)
        failure = check_model_file(path, self.layout.root, verify_data=True)
        if failure is not None:
            raise _FileProblem(failure)
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        input_shape = tuple(record["metadata"]["input_shape"])
        return LoadedModel(
            name=record["name"],
            version=record["version"],
            input_shape=input_shape,
            metadata=record["metadata"],
            infer=compile_inference(model, input_shape),
        )


def _freeze_long_lived(evicted: bool) -> None:
    """Keeps the cyclic garbage collector off what lives as long as the worker.

    A worker holds millions of objects (TensorFlow's, Keras's, each loaded
    model's), and every full collection walked them all with the GIL held:
    0.3-1.5 s during which no request thread ran, most often just after a
    model load (which allocates many objects). Frozen, they are no longer
    walked. An evicted version's objects are frozen too, so after an eviction
    they are unfrozen and collected once.

    Args:
        evicted: Whether a version has just left the cache.
    """
    if evicted:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


class ModelWatcher:
    """A worker's thread that loads each model's newest version as soon as it is registered.

    Every `interval` seconds it reads each model's latest version from the job
    store (on a connection of its own, opened and closed each time, so it
    holds no file open between looks) and hands them to
    `ModelCache.refresh`; its first look, at once, warms the cache. A job
    store that cannot be read is logged and looked at again next time.

    Args:
        cache: The worker's cache.
        data_dir: The data directory.
        interval: Seconds between two looks.
    """

    def __init__(self, cache: ModelCache, data_dir: str, interval: float):
        self.cache = cache
        self.data_dir = data_dir
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
        self._last_error: str | None = None

    def start(self) -> None:
        """Starts the thread; call it in the worker process, after the fork."""
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stops the thread after its current look."""
        self._stopped.set()
        self._thread.join(timeout)

    def look(self) -> None:
        """Loads what is new now; never raises for a job store it cannot read."""
        if not os.path.exists(os.path.join(self.data_dir, STORE_FILE)):
            # Gone (a test's removed directory): opening it would create it anew.
            return
        try:
            store = JobStore(self.data_dir, timeout=self.interval)
            try:
                latest, live = store.latest_versions(), store.live_versions()
            finally:
                store.close()
        except Exception as error:  # noqa: BLE001 (the watcher outlives a bad store)
            if str(error) != self._last_error:
                logger.warning("cannot look for new model versions: %s", error)
            self._last_error = str(error)
            return
        self._last_error = None
        self.cache.retain(live)
        self.cache.refresh(latest)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.look()
            except Exception:  # noqa: BLE001 (a worker without its watcher would serve stale)
                logger.exception("looking for new model versions failed")
            self._stopped.wait(self.interval)


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
    return finite_float32(batch, field)


def finite_float32(batch: np.ndarray, field: str) -> np.ndarray:
    """`batch` as float32, or a 400 if it holds NaN or infinity (or overflows float32).

    Args:
        batch: Numbers of any numeric dtype.
        field: The request field, for messages.
    """
    batch = batch.astype("float32")
    if not np.isfinite(batch).all():
        raise ApiError(400, f"{field}: NaN and infinity are not allowed")
    return batch
