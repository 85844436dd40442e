"""Crash-safe state files for every KerasTuner search evokt runs.

KerasTuner writes `oracle.json`, `tuner0.json` and every `trial.json` by
opening the file for writing (which empties it) and then writing the JSON: a
process killed between the two leaves an empty or truncated file, and the
search can no longer be resumed. All those writes go through
`keras_tuner.src.utils.save_json`, so replacing that one function with a
write-to-temporary-then-rename makes each state file either the old version
or the new one, never half of one, for every oracle (evokt's and KerasTuner's
own).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from keras_tuner.src import utils as kt_utils

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
    text = json.dumps(obj)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return text


def install() -> None:
    """Routes KerasTuner's state writes through `write_json_atomically`."""
    kt_utils.save_json = write_json_atomically
