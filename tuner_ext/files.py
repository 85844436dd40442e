"""Files that readers never see half written, without KerasTuner (the service's
runner and web workers use them without importing TensorFlow)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_json_atomically(path: str, obj: Any) -> str:
    """Writes `obj` as JSON to the local file `path` so that readers never see a partial file.

    Args:
        path: Destination file path.
        obj: A JSON-serialisable object.

    Returns:
        The JSON text written.
    """
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
