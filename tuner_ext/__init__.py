"""evokt: genetic and greedy architecture search for Keras, as KerasTuner
oracles and tuners, a command line and a REST service.

One import name for the whole project:

- `evokt` (this folder, `tuner_ext/` in the repository): the public API
  below, the oracles and tuners (`evokt.oracles`) and the application behind
  `evokt search` (`evokt.search`);
- `evokt.hypermodels`: the MLP, CNN and sequence hypermodels and their data;
- `evokt.service`: the REST service behind `evokt serve`.

The names below are imported on first use, so that `evokt --help` and other
light commands do not pay for importing TensorFlow.
"""

from __future__ import annotations

import os

from evokt.hypermodels.lazy import lazy_exports

# TensorFlow's C++ start-up lines (oneDNN, CUDA probing) tell evokt's users
# nothing: quiet them before any module of evokt imports TensorFlow (a value
# the user set is kept). Every module of evokt imports this package first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_EXPORTS = {
    "GeneticOracle": "evokt.oracles.genetic",
    "GeneticSearch": "evokt.oracles.genetic",
    "GeneticHyperband": "evokt.oracles.genetic_hyperband",
    "GeneticHyperbandOracle": "evokt.oracles.genetic_hyperband",
    "GreedyOracle": "evokt.oracles.greedy",
    "GreedySearch": "evokt.oracles.greedy",
    "MLPHyperModel": "evokt.hypermodels.mlp",
    "CNNHyperModel": "evokt.hypermodels.cnn",
    "SequenceHyperModel": "evokt.hypermodels.sequence",
    "STRATEGIES": "evokt.search.strategies",
    "create_tuner": "evokt.search.strategies",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
