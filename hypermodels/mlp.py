"""`MLPHyperModel`: how many dense layers, and how wide and which activation each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner

from evokt.hypermodels.base import DEFAULT_ACTIVATIONS
from evokt.hypermodels.base import StructureHyperModel
from evokt.hypermodels.base import check_activations
from evokt.hypermodels.base import check_depth
from evokt.hypermodels.base import check_range
from evokt.hypermodels.base import dense_block


class MLPHyperModel(StructureHyperModel):
    """A multi-layer perceptron whose depth, widths and activations are searched.

    Search space: `num_layers` in [1, `max_layers`]; for each layer `i`, in a
    conditional scope active only when the network has that layer,
    `units_i` (powers of two in `units`, log scale) and `activation_i`;
    then `dropout` (0 to 0.5 by 0.1), `batch_norm` and `learning_rate`.
    Inputs of more than one axis are flattened first.

    Args:
        input_shape: Shape of one example, without the batch axis.
        task: "classification" or "regression". Defaults to
            "classification".
        num_classes: Integer >= 2, required for classification.
        max_layers: Integer, the deepest network searched. Defaults to 3.
        units: (min, max) width of a layer; searched in powers of two from
            min. Defaults to (16, 256).
        activations: Activation names to choose from. Defaults to
            ("relu", "tanh", "elu", "gelu").
        **kwargs: `feature_mean`, `feature_variance`, `learning_rates`,
            `name`, see `StructureHyperModel`.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        task: str = "classification",
        num_classes: int | None = None,
        max_layers: int = 3,
        units: tuple[int, int] = (16, 256),
        activations: Sequence[str] = DEFAULT_ACTIVATIONS,
        **kwargs: Any,
    ):
        super().__init__(input_shape, task=task, num_classes=num_classes, **kwargs)
        check_depth("max_layers", max_layers)
        check_range("units", *units)
        self.max_layers = max_layers
        self.units = units
        self.activations = check_activations(activations)

    def build_body(self, hp: keras_tuner.HyperParameters, x: keras.KerasTensor):
        if len(self.input_shape) > 1:
            x = keras.layers.Flatten(name="flatten")(x)
        num_layers = hp.Int("num_layers", 1, self.max_layers)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
        batch_norm = hp.Boolean("batch_norm")
        for i in range(self.max_layers):
            with hp.conditional_scope("num_layers", list(range(i + 1, self.max_layers + 1))):
                units = hp.Int(f"units_{i}", *self.units, step=2, sampling="log")
                activation = hp.Choice(f"activation_{i}", self.activations)
            if i < num_layers:
                x = dense_block(x, units, activation, dropout, batch_norm, f"layer_{i}")
        return x
