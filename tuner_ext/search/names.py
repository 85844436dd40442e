"""The one pattern for names and ids: models, searches, datasets, workers.

Names become file and folder names (a worker's `<tuner_id>.json`, a model's
version folder), so they hold letters, digits, `_` and `-` only: never a path
separator, never `..`.
"""

from __future__ import annotations

import re
from typing import Any

NAME_PATTERN = "[A-Za-z0-9_-]{1,64}"
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(value: Any) -> bool:
    """Whether `value` is a string matching `NAME_PATTERN` whole."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None
