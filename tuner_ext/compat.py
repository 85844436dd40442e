"""evokt's fixes to KerasTuner 1.4.8, in one place, installed by `install()`.

- Crash-safe state files. KerasTuner writes `oracle.json`, `tuner0.json` and
  every `trial.json` by opening the file for writing (which empties it) and
  then writing the JSON: a process killed between the two leaves an empty or
  truncated file, and the search can no longer be resumed. All those writes
  go through `keras_tuner.src.utils.save_json`; routed through
  `write_json_atomically` (write to a temporary file, then rename), each
  state file is either the old version or the new one, for every oracle,
  evokt's and KerasTuner's own.
- No stray output over gRPC. `conditions.Parent.to_proto` starts with a
  leftover `print(self.values[0])`, so a distributed search fills the
  chief's and the workers' output with numbers; it is replaced by the same
  conversion without the print.

`install()` is called by `evokt.search.strategies.create_tuner` (every
search evokt runs, any strategy) and by `EvolutionaryOracle` (evokt's oracles
used directly from Python). Nothing here runs on import.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from keras_tuner.src import protos
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import conditions
from keras_tuner.src.engine import oracle as oracle_module

from evokt.files import write_json_atomically as write_local_json_atomically

_keras_tuner_save_json = kt_utils.save_json


def write_json_atomically(path: str, obj: Any) -> str:
    """Writes `obj` as JSON to `path` so that readers never see a partial file.

    Args:
        path: Destination file path. Remote paths (`gs://...`) are written by
            KerasTuner's own function.
        obj: A JSON-serialisable object.

    Returns:
        The JSON text written, as KerasTuner's `save_json` returns it.
    """
    if "://" in str(path):
        return _keras_tuner_save_json(path, obj)
    return write_local_json_atomically(path, obj)


def synchronized(method: Callable) -> Callable:
    """KerasTuner's `synchronized` (one call at a time per oracle, re-entrant per
    thread, sharing KerasTuner's locks), releasing the lock when `method` raises.

    KerasTuner's own leaves the oracle locked forever after an exception (an
    `oracle.save()` on a full disk, say): every later call, such as a gRPC
    worker's, would wait for it.

    Args:
        method: An oracle method.
    """

    @functools.wraps(method)
    def wrapped(oracle, *args, **kwargs):
        thread = threading.current_thread().name
        if oracle_module.THREADS[oracle] == thread:
            return method(oracle, *args, **kwargs)
        with oracle_module.LOCKS[oracle]:
            oracle_module.THREADS[oracle] = thread
            try:
                return method(oracle, *args, **kwargs)
            finally:
                oracle_module.THREADS[oracle] = None

    return wrapped


def _parent_to_proto(self: conditions.Parent):
    proto = protos.get_proto()
    first = self.values[0]
    if isinstance(first, str):
        values = [proto.Value(string_value=value) for value in self.values]
    elif isinstance(first, bool):
        values = [proto.Value(boolean_value=value) for value in self.values]
    elif isinstance(first, int):
        values = [proto.Value(int_value=value) for value in self.values]
    else:
        values = [proto.Value(float_value=value) for value in self.values]
    return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))


def install() -> None:
    """Applies both fixes; calling it again changes nothing."""
    kt_utils.save_json = write_json_atomically
    conditions.Parent.to_proto = _parent_to_proto
