"""Keras hypermodels whose search space is the network's structure.

The names below are imported on first use, so that light commands do not pay
for importing Keras.
"""

from __future__ import annotations

from evokt.hypermodels.lazy import lazy_exports

_EXPORTS = {
    "CNNHyperModel": "evokt.hypermodels.cnn",
    "MLPHyperModel": "evokt.hypermodels.mlp",
    "SequenceHyperModel": "evokt.hypermodels.sequence",
    "StructureHyperModel": "evokt.hypermodels.base",
    "default_objective": "evokt.hypermodels.base",
    "HYPERMODELS": "evokt.hypermodels.auto",
    "hypermodel_for": "evokt.hypermodels.auto",
    "SEED_CNN_PRESETS": "evokt.hypermodels.presets",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
