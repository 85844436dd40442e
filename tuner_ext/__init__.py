"""evokt's KerasTuner extensions: the library (`tuner_ext.oracles`: genetic, greedy and
genetic-hyperband oracles and tuners) and the application behind `evokt search`
(`tuner_ext.search`).

The names below are imported on first use, so that `evokt --help` and other
light commands do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GeneticOracle": "tuner_ext.oracles.genetic",
    "GeneticSearch": "tuner_ext.oracles.genetic",
    "GeneticHyperband": "tuner_ext.oracles.genetic_hyperband",
    "GeneticHyperbandOracle": "tuner_ext.oracles.genetic_hyperband",
    "GreedyOracle": "tuner_ext.oracles.greedy",
    "GreedySearch": "tuner_ext.oracles.greedy",
    "STRATEGIES": "tuner_ext.search.strategies",
    "create_tuner": "tuner_ext.search.strategies",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tuner_ext' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
