"""The one pattern for names and ids: models, searches, datasets, workers.

Names become file and folder names (a worker's `<tuner_id>.json`, a model's
version folder), so they hold letters, digits, `_` and `-` only: never a path
separator, never `..`.
"""

from __future__ import annotations

import re
from typing import Any

NAME_CHARACTERS = "A-Za-z0-9_-"
MAX_NAME_LENGTH = 64
NAME_PATTERN = f"[{NAME_CHARACTERS}]{{1,{MAX_NAME_LENGTH}}}"
_NAME = re.compile(NAME_PATTERN)
_NOT_NAME_CHARACTER = re.compile(f"[^{NAME_CHARACTERS}]")


def as_name(text: str) -> str:
    """`text` made a valid name: each character a name cannot hold becomes
    `-`, and it is cut to the longest name.

    Args:
        text: Any non-empty text.
    """
    return _NOT_NAME_CHARACTER.sub("-", text)[:MAX_NAME_LENGTH]


def is_valid_name(value: Any) -> bool:
    """Whether `value` is a string matching `NAME_PATTERN` whole."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None
