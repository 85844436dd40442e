"""Uniform crossover of two configurations of a conditional space."""

from __future__ import annotations

import random
from typing import Any

from keras_tuner.engine.hyperparameters import HyperParameter
from keras_tuner.engine.hyperparameters import HyperParameters

from evokt.oracles import space as space_lib
from evokt.oracles.space import Values


def uniform_crossover(
    search_space: HyperParameters,
    first: Values,
    second: Values,
    rng: random.Random,
) -> Values:
    """A child that takes each value from either parent with equal odds.

    The child is walked in the space's order, so the structure it inherits
    (say `num_layers` from `second`) decides which hyperparameters are active.
    An active hyperparameter that only one parent has comes from that parent;
    one that neither has (neither parent was that deep) is sampled.

    Args:
        search_space: The search space.
        first: One parent configuration (active values).
        second: The other parent configuration.
        rng: The generator all randomness comes from.

    Returns:
        The child configuration (active values only).
    """

    def choose(hp: HyperParameter) -> Any:
        donors = [parent for parent in (first, second) if hp.name in parent]
        if not donors:
            return space_lib.sample(hp, rng)
        return rng.choice(donors)[hp.name]

    return space_lib.build_values(search_space, choose)
