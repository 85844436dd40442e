"""Walks a conditional `keras_tuner.HyperParameters` search space.

A configuration here is what KerasTuner keeps in `HyperParameters.values`: a
dict holding the values of the **active** hyperparameters only. Every function
builds configurations by walking the space in registration order, so a
parent (say `num_layers`) is decided before the hyperparameters that its
`conditional_scope` guards (`units_2`), exactly as a hypermodel's `build()`
meets them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import keras_tuner
from keras_tuner.engine import base_tuner
from keras_tuner.engine import hyperparameters as space_types
from keras_tuner.engine.hyperparameters import HyperParameter
from keras_tuner.engine.hyperparameters import HyperParameters

Values = dict[str, Any]


def is_active(hp: HyperParameter, values: Values) -> bool:
    """Whether all of `hp`'s parent conditions hold for `values`."""
    return all(condition.is_active(values) for condition in hp.conditions)


def finite_values(hp: HyperParameter) -> list | None:
    """All the values `hp` can take, or `None` when they are not finite.

    `Int` without a step is every integer of its range (KerasTuner's own
    `values` property returns only 10 samples for it), and `Int` values are
    ints (KerasTuner's are floats on a log scale: 256.0 would hash apart
    from 256 and name the same network twice).
    """
    if isinstance(hp, space_types.Fixed):
        return [hp.value]
    if isinstance(hp, space_types.Boolean):
        return [False, True]
    if isinstance(hp, space_types.Choice):
        return list(hp.values)
    if isinstance(hp, space_types.Int):
        if hp.step is None:
            return list(range(hp.min_value, hp.max_value + 1))
        return [int(value) for value in hp.values]
    if isinstance(hp, space_types.Float) and hp.step is not None:
        return list(hp.values)
    return None


def is_mutable(hp: HyperParameter) -> bool:
    """Whether `hp` can take more than one value."""
    if isinstance(hp, space_types.Fixed):
        return False
    choices = finite_values(hp)
    return choices is None or len(choices) > 1


def is_ordered(hp: HyperParameter) -> bool:
    """Whether `hp`'s values have an order (`Int`, `Float`, ordered `Choice`)."""
    if isinstance(hp, space_types.Choice):
        return bool(hp.ordered)
    return isinstance(hp, (space_types.Int, space_types.Float))


def reflect(prob: float) -> float:
    """Folds a `value_to_prob` probability that stepped outside [0, 1) back inside."""
    prob = abs(prob)
    if prob >= 1.0:
        prob = max(0.0, 2.0 - prob)
    return min(prob, 1.0 - 1e-9)


def sample(hp: HyperParameter, rng: random.Random) -> Any:
    """Draws one value of `hp` from its prior, with the caller's generator."""
    return hp.prob_to_value(rng.random())


def build_values(
    space: HyperParameters,
    choose: Callable[[HyperParameter], Any],
) -> Values:
    """Walks the space and asks `choose` for the value of each active hp.

    Args:
        space: The `HyperParameters` whose `space` is walked.
        choose: Called with each hyperparameter that is active given the
            values chosen before it; returns that hyperparameter's value.

    Returns:
        The configuration: values of the active hyperparameters only.
    """
    values: Values = {}
    for hp in space.space:
        if hp.name not in values and is_active(hp, values):
            values[hp.name] = choose(hp)
    return values


def random_values(space: HyperParameters, rng: random.Random) -> Values:
    """A configuration drawn from every hyperparameter's prior."""
    return build_values(space, lambda hp: sample(hp, rng))


def is_valid(hp: HyperParameter, value: Any) -> bool:
    """Whether `value` is one `hp` can take (used for given configurations);
    `invalid_reason` says why not."""
    return invalid_reason(hp, value) is None


def _number_words(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def invalid_reason(hp: HyperParameter, value: Any) -> str | None:
    """Why `value` is not one `hp` can take, in words; None when it is.

    A `Float` takes any number in its range, on its step grid or not, since a
    grid of floats rarely holds the literal a user types (0.3 is not
    0.1 + 0.1 + 0.1). Types are strict: `True` is no `Int`'s 1, and "3" no
    `Choice` of 3 and 5 (the hypermodel would build with them).

    Args:
        hp: The hyperparameter.
        value: The value given for it.
    """
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hp, space_types.Boolean):
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if isinstance(hp, (space_types.Int, space_types.Float)):
        if isinstance(hp, space_types.Int) and not (is_number and isinstance(value, int)):
            return f"{value!r} is not an integer"
        if not is_number or not math.isfinite(value):
            return f"{value!r} is not a number"
        if not hp.min_value <= value <= hp.max_value:
            return (f"{value!r} is out of range [{_number_words(hp.min_value)}, "
                    f"{_number_words(hp.max_value)}]")
        if isinstance(hp, space_types.Float):
            return None
    allowed = finite_values(hp)
    if any(value == choice and (type(value) is type(choice)
                                or (isinstance(choice, float) and is_number))
           for choice in allowed):
        return None
    return f"{value!r} is not one of {', '.join(map(repr, allowed))}"


def space_names(space: HyperParameters) -> list[str]:
    """The names of a space's hyperparameters, conditional ones included, in
    registration order."""
    return list(dict.fromkeys(hp.name for hp in space.space))


def complete_values(
    space: HyperParameters,
    given: Values,
    fill: Callable[[HyperParameter], Any],
) -> Values:
    """A configuration that keeps `given` values and fills the rest.

    Given values of hyperparameters that end up inactive are dropped.

    Args:
        space: The search space.
        given: Values to keep where their hyperparameter is active.
        fill: Called for active hyperparameters with no usable given value.

    Raises:
        ValueError: A given value is outside its hyperparameter's range.
    """

    def choose(hp: HyperParameter) -> Any:
        if hp.name not in given:
            return fill(hp)
        reason = invalid_reason(hp, given[hp.name])
        if reason is not None:
            raise ValueError(
                f"Value {given[hp.name]!r} is not a valid value for "
                f"hyperparameter {hp.name}: {reason}."
            )
        return given[hp.name]

    return build_values(space, choose)


def iter_configurations(space: HyperParameters) -> Iterator[Values] | None:
    """Enumerates every configuration of a finite space, lazily.

    Returns:
        An iterator over all configurations, or `None` when some
        hyperparameter has infinitely many values (a `Float` without step).
    """
    hps = list(space.space)
    if any(finite_values(hp) is None for hp in hps):
        return None

    def walk(index: int, values: Values) -> Iterator[Values]:
        if index == len(hps):
            yield dict(values)
            return
        hp = hps[index]
        if hp.name in values or not is_active(hp, values):
            yield from walk(index + 1, values)
            return
        for value in finite_values(hp):
            values[hp.name] = value
            yield from walk(index + 1, values)
        del values[hp.name]

    return walk(0, {})


class _SpaceDiscovery:
    """Just enough of a tuner for KerasTuner's own discovery of a space."""

    _populate_initial_space = base_tuner.BaseTuner._populate_initial_space
    _activate_all_conditions = base_tuner.BaseTuner._activate_all_conditions

    def __init__(self, hypermodel: keras_tuner.HyperModel):
        self.hypermodel = hypermodel
        self.oracle = keras_tuner.Oracle()


def declared_space(hypermodel: keras_tuner.HyperModel) -> HyperParameters:
    """Every hyperparameter a hypermodel declares, conditional ones included.

    The space a search sees before its first trial: KerasTuner's own
    discovery (`BaseTuner._populate_initial_space`: one build, then one more
    for each conditional scope not yet active), run without a tuner, a
    project or any training.

    Args:
        hypermodel: The `keras_tuner.HyperModel` whose space to declare.
    """
    discovery = _SpaceDiscovery(hypermodel)
    discovery._populate_initial_space()
    return discovery.oracle.get_space()
