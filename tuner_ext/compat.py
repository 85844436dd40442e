"""evokt's fixes to KerasTuner 1.4.8, in one place, installed by `install()`.

- Crash-safe state files. KerasTuner writes `oracle.json`, `tuner0.json` and
  every `trial.json` by opening the file for writing (which empties it) and
  then writing the JSON: a process killed between the two leaves an empty or
  truncated file, and the search can no longer be resumed. All those writes
  go through `keras_tuner.src.utils.save_json`; routed through
  `write_json_atomically` (write to a temporary file, then rename), each
  state file is either the old version or the new one, for every oracle,
  evokt's and KerasTuner's own.
- No ended trial trained again. KerasTuner's `end_trial` saves the oracle
  before it removes the trial from the ongoing ones, and `reload` sends every
  ongoing trial to be retried: a search resumed after that save (killed, or
  simply stopped after its last trial) trained its last ended trial again
  and counted it twice. `reload` retries only the trials that have not ended.
- No trial the oracle never recorded. KerasTuner's `create_trial` writes the
  new trial's `trial.json`, then `oracle.json`: a process killed between the
  two leaves a trial that `reload` reads back but the oracle's state never
  started. It counts towards `max_trials` yet is never run or ended, so the
  resumed search ended a trial short. `reload` now forgets such a trial and
  removes its folder (nothing ran in it); the resumed search creates its id
  again.
- No stray output over gRPC. `conditions.Parent.to_proto` starts with a
  leftover `print(self.values[0])`, so a distributed search fills the
  chief's and the workers' output with numbers; it is replaced by the same
  conversion without the print.

`install()` is called by evokt's tuners (every search evokt runs, any
strategy, and evokt's tuners used from Python) and by `EvolutionaryOracle`
(evokt's oracles used directly from Python). Nothing here runs on import.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from keras_tuner.src import protos
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.backend import io as kt_io
from keras_tuner.src.engine import conditions
from keras_tuner.src.engine import oracle as oracle_module

from evokt.files import write_json_atomically as write_local_json_atomically

_keras_tuner_save_json = kt_utils.save_json
_keras_tuner_reload = oracle_module.Oracle.reload


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


def _reload_started_trials(self: oracle_module.Oracle) -> None:
    """KerasTuner's `Oracle.reload`, retrying only the started trials that have not
    ended, and without the trials `oracle.json` never started."""
    _keras_tuner_reload(self)
    ended = set(self.end_order)
    self._retry_queue = [trial_id for trial_id in self._retry_queue if trial_id not in ended]
    started = set(self.start_order)
    for trial_id in [trial_id for trial_id in self.trials if trial_id not in started]:
        del self.trials[trial_id]
        kt_io.rmtree(self._get_trial_dir(trial_id))


def install() -> None:
    """Applies the fixes; calling it again changes nothing."""
    kt_utils.save_json = write_json_atomically
    oracle_module.Oracle.reload = _reload_started_trials
    conditions.Parent.to_proto = _parent_to_proto
