"""Given configurations (`initial_hps`) checked against the hypermodel's space.

A search's space is known once its data's shape and task are
(`SearchSpec.check_data`): it is the space KerasTuner declares by building
the hypermodel (`evokt.oracles.space.declared_space`), so a configuration
that names no hyperparameter of it, or a value it cannot take, is refused
before the search starts, with the value and what is allowed, instead of
failing the search's first trial. Importing this module imports KerasTuner
(and TensorFlow); the spec imports it only when a search gives
configurations.
"""

from __future__ import annotations

import functools
from typing import Any

from keras_tuner.engine.hyperparameters import HyperParameters

from evokt.hypermodels.auto import hypermodel_class
from evokt.oracles.space import declared_space
from evokt.oracles.space import invalid_reason
from evokt.oracles.space import space_names
from evokt.search.errors import SpecError

# The largest size of an axis the space is declared with: evokt's spaces do
# not depend on the examples' size, and a model built at full size would
# allocate all its weights (a wide image's dense head) just to be read.
_DECLARING_AXIS = 8


@functools.cache
def hypermodel_space(kind: str, input_shape: tuple[int, ...], task: str) -> HyperParameters:
    """The space a search with hypermodel `kind` on such data searches.

    Args:
        kind: One of `evokt.hypermodels.auto.HYPERMODELS`.
        input_shape: Shape of one example.
        task: The data's task.
    """
    shape = tuple(min(size, _DECLARING_AXIS) for size in input_shape)
    # The number of classes sizes the output layer only; any valid one will do.
    num_classes = 2 if task == "classification" else None
    return declared_space(hypermodel_class(kind)(input_shape=shape, task=task,
                                                 num_classes=num_classes))


def check_configurations(
    configurations: list[dict[str, Any]],
    kind: str,
    input_shape: tuple[int, ...],
    task: str,
    field: str = "oracle_options.initial_hps",
) -> None:
    """Raises SpecError, naming the configuration, hyperparameter and value,
    unless every given value is one the hypermodel's space can take.

    A hyperparameter that is active only in some networks (`units_2`) may be
    given: it is used where it is active.

    Args:
        configurations: The given configurations (already checked to be a
            list of objects of numbers, strings and booleans).
        kind: The hypermodel's name ("auto" resolved).
        input_shape: Shape of one example.
        task: The data's task.
        field: What the configurations are shown under.
    """
    space = hypermodel_space(kind, tuple(input_shape), task)
    declared = {hp.name: hp for hp in space.space}
    for index, configuration in enumerate(configurations):
        for name, value in configuration.items():
            where = f"{field}[{index}].{name}"
            if name not in declared:
                raise SpecError(f"{where}: the {kind} hypermodel has no such hyperparameter; "
                                f"its hyperparameters are {', '.join(space_names(space))}")
            reason = invalid_reason(declared[name], value)
            if reason is not None:
                raise SpecError(f"{where}: {reason}")
