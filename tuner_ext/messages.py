"""Turning a failed search's exception into one line for a person."""

from __future__ import annotations


def error_summary(error: BaseException) -> str:
    """The first line of an error, and its last when it has several.

    KerasTuner's "consecutive failures" error carries the failed trial's
    whole traceback; its first line says what happened and its last line
    says why.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) == 1:
        return lines[0]
    return f"{lines[0]} Last error: {lines[-1]}"
