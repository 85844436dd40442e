"""Hand-designed starting points, as `initial_hps` for the genetic oracle.

Two CNNs of the kind people write by hand for small images, a network and
the wider variant a person would try next, written in `CNNHyperModel`'s
terms, so a search can start from what a person would have built and evolve
from there (`evokt search --initial-hps seed-cnn`).
"""

from __future__ import annotations


def _seed_cnn(first_filters: int, second_filters: int, dense_units: int) -> dict:
    return {
        "num_blocks": 2,
        "filters_0": first_filters,
        "kernel_size_0": 3,
        "activation_0": "relu",
        "pooling_0": "max",
        "filters_1": second_filters,
        "kernel_size_1": 3,
        "activation_1": "relu",
        "pooling_1": "max",
        "dense_units": dense_units,
        "dense_activation": "relu",
        "dropout": 0.0,
        "learning_rate": 1e-3,
    }


# The hand-made CNN: conv 32 and 64, dense 128.
SEED_CNN_ORIGINAL = _seed_cnn(32, 64, 128)
# Its hand-adjusted, wider variant: conv 64 and 128, dense 256.
SEED_CNN_ADJUSTED = _seed_cnn(64, 128, 256)

SEED_CNN_PRESETS = [SEED_CNN_ORIGINAL, SEED_CNN_ADJUSTED]
