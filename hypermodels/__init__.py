"""Keras hypermodels whose search space is the network's structure.

The names below are imported on first use, so that light commands do not pay
for importing Keras.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CNNHyperModel": "hypermodels.cnn",
    "MLPHyperModel": "hypermodels.mlp",
    "SequenceHyperModel": "hypermodels.sequence",
    "StructureHyperModel": "hypermodels.base",
    "default_objective": "hypermodels.base",
    "HYPERMODELS": "hypermodels.auto",
    "hypermodel_for": "hypermodels.auto",
    "SEED_CNN_PRESETS": "hypermodels.presets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hypermodels' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
