"""Mutation: a child configuration that differs from its parent a little.

Each hyperparameter moves in its own terms:

- `Int`, `Float` and ordered `Choice` take a Gaussian step in KerasTuner's
  `value_to_prob` space and map back with `prob_to_value`, so `log` sampling and
  `step` grids are respected and small steps are likelier than large ones;
- unordered `Choice` takes another of its values;
- `Boolean` flips;
- `Fixed` never changes.
"""

from __future__ import annotations

import random
from typing import Any

from keras_tuner.engine import hyperparameters as space_types
from keras_tuner.engine.hyperparameters import HyperParameter
from keras_tuner.engine.hyperparameters import HyperParameters

from evokt.oracles import space as space_lib
from evokt.oracles.space import Values

# Draws of the Gaussian step before a discrete value falls back to its neighbour.
_GAUSSIAN_TRIES = 8


def _neighbour(hp: HyperParameter, value: Any, rng: random.Random) -> Any:
    """The next or previous value of a discrete, ordered hyperparameter."""
    choices = space_lib.finite_values(hp)
    if not choices or len(choices) < 2:
        return value
    index = min(range(len(choices)), key=lambda i: abs(choices[i] - value))
    if index == 0:
        return choices[1]
    if index == len(choices) - 1:
        return choices[-2]
    return choices[index + rng.choice((-1, 1))]


def mutate_value(
    hp: HyperParameter, value: Any, rng: random.Random, scale: float
) -> Any:
    """Returns a value of `hp` other than `value`, where `hp` has one.

    Args:
        hp: The hyperparameter.
        value: Its current value.
        rng: The generator all randomness comes from.
        scale: Standard deviation of the step in `value_to_prob` space, for
            ordered hyperparameters (0.15 moves about one value in seven).
    """
    if not space_lib.is_mutable(hp):
        return value
    if isinstance(hp, space_types.Boolean):
        return not value
    if not space_lib.is_ordered(hp):
        return rng.choice([v for v in hp.values if v != value])
    prob = hp.value_to_prob(value)
    for _ in range(_GAUSSIAN_TRIES):
        candidate = hp.prob_to_value(space_lib.reflect(prob + rng.gauss(0.0, scale)))
        if candidate != value:
            return candidate
    return _neighbour(hp, value, rng)


def mutate(
    search_space: HyperParameters,
    parent: Values,
    rng: random.Random,
    num_mutations: int = 1,
    scale: float = 0.15,
) -> Values:
    """A child of `parent` with `num_mutations` of its active values changed.

    Only hyperparameters that are active in the parent are chosen: changing a
    value the network does not use would train the same network again. A
    mutation that activates new hyperparameters (a deeper network) samples
    them from their prior; the values of those it deactivates drop out.

    Args:
        search_space: The search space.
        parent: The parent configuration (active values).
        rng: The generator all randomness comes from.
        num_mutations: How many active hyperparameters to change, at most
            the number of mutable ones.
        scale: Step size for ordered hyperparameters, see `mutate_value`.

    Returns:
        The child configuration (active values only).
    """
    mutable = [
        hp.name
        for hp in search_space.space
        if hp.name in parent
        and space_lib.is_active(hp, parent)
        and space_lib.is_mutable(hp)
    ]
    chosen = set(rng.sample(mutable, min(num_mutations, len(mutable))))

    def choose(hp: HyperParameter) -> Any:
        if hp.name not in parent:
            return space_lib.sample(hp, rng)
        if hp.name in chosen:
            return mutate_value(hp, parent[hp.name], rng, scale)
        return parent[hp.name]

    return space_lib.build_values(search_space, choose)
