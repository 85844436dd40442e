"""evokt's KerasTuner extensions: genetic, greedy and genetic-hyperband oracles and tuners.

The names below are imported on first use, so that `evokt --help` and other
light commands do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GeneticOracle": "tuner_ext.genetic",
    "GeneticSearch": "tuner_ext.genetic",
    "GeneticHyperband": "tuner_ext.genetic_hyperband",
    "GeneticHyperbandOracle": "tuner_ext.genetic_hyperband",
    "GreedyOracle": "tuner_ext.greedy",
    "GreedySearch": "tuner_ext.greedy",
    "STRATEGIES": "tuner_ext.registry",
    "create_tuner": "tuner_ext.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tuner_ext' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
