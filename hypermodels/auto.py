"""The one list of hypermodel names, and the choice of one for a dataset.

Classes are imported when first used, so listing the names is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from evokt.hypermodels.base import StructureHyperModel
    from evokt.hypermodels.data import Dataset

HYPERMODELS: dict[str, str] = {
    "mlp": "evokt.hypermodels.mlp:MLPHyperModel",
    "cnn": "evokt.hypermodels.cnn:CNNHyperModel",
    "sequence": "evokt.hypermodels.sequence:SequenceHyperModel",
}


def hypermodel_class(kind: str) -> type[StructureHyperModel]:
    """The class registered under `kind` in `HYPERMODELS`."""
    module, attribute = HYPERMODELS[kind].split(":")
    return getattr(importlib.import_module(module), attribute)


# Hypermodels that need examples of a given number of axes.
REQUIRED_AXES = {"cnn": 3, "sequence": 2}
_AXES_NAMES = {3: "(height, width, channels) images", 2: "(timesteps, features) sequences"}


def resolve_kind(kind: str, input_shape: tuple[int, ...]) -> str:
    """The hypermodel name for data of `input_shape`, checked.

    Args:
        kind: "auto" or one of `HYPERMODELS`.
        input_shape: Shape of one example.

    Raises:
        ValueError: Unknown kind, or one that does not fit the data's shape.
    """
    if kind == "auto":
        return kind_for_shape(input_shape)
    if kind not in HYPERMODELS:
        raise ValueError(
            f"unknown hypermodel {kind!r}; choose auto or one of {', '.join(HYPERMODELS)}"
        )
    axes = REQUIRED_AXES.get(kind)
    if axes is not None and len(input_shape) != axes:
        raise ValueError(
            f"the {kind} hypermodel needs {_AXES_NAMES[axes]}, but examples have "
            f"shape {list(input_shape)}"
        )
    return kind


def kind_for_shape(input_shape: tuple[int, ...]) -> str:
    """The hypermodel that fits examples of `input_shape`.

    (height, width, channels) images get the CNN, (timesteps, features)
    sequences the sequence model, and flat feature vectors the MLP.
    """
    return {3: "cnn", 2: "sequence"}.get(len(input_shape), "mlp")


def hypermodel_for(dataset: Dataset, kind: str = "auto", **space: Any) -> StructureHyperModel:
    """Builds the hypermodel for `dataset`, scaling and task included.

    Args:
        dataset: The split dataset; its training statistics are built into
            the model.
        kind: "auto" (by the data's shape) or one of `HYPERMODELS`.
        **space: Bounds of the hypermodel's search space (`max_layers`,
            `units`, `activations`, ...).

    Raises:
        ValueError: Unknown kind, or one that does not fit the data's shape.
    """
    kind = resolve_kind(kind, dataset.input_shape)
    return hypermodel_class(kind)(
        input_shape=dataset.input_shape,
        task=dataset.task,
        num_classes=dataset.num_classes,
        feature_mean=dataset.feature_mean,
        feature_variance=dataset.feature_variance,
        target_mean=dataset.target_mean,
        target_std=dataset.target_std,
        **space,
    )
