"""`CNNHyperModel`: how many convolution blocks, and the shape of each."""

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
from evokt.hypermodels.base import check_sizes
from evokt.hypermodels.base import dense_block

POOLINGS = ("max", "avg", "none")


class CNNHyperModel(StructureHyperModel):
    """A 2-D convolutional network whose blocks and head are searched.

    Search space: `num_blocks` in [1, `max_blocks`]; for each block `i`, in a
    conditional scope active only when the network has that block,
    `filters_i` (powers of two in `filters`), `kernel_size_i`,
    `activation_i` and `pooling_i` ("max", "avg" or "none", 2x2); then a
    dense head of `dense_units` with `dense_activation`, `dropout` before
    the output, and `learning_rate`. Convolutions and pooling pad "same", so
    every depth builds even on 8x8 images.

    `evokt.hypermodels.presets.SEED_CNN_PRESETS` holds two hand-designed networks
    (conv 32/64 + dense 128, and the wider 64/128 + dense 256) as
    `initial_hps` for this space.

    Args:
        input_shape: (height, width, channels) of one image.
        task: "classification" or "regression". Defaults to
            "classification".
        num_classes: Integer >= 2, required for classification.
        max_blocks: Integer, the deepest network searched. Defaults to 3.
        filters: (min, max) filters of a block, in powers of two from min.
            Defaults to (16, 128).
        kernel_sizes: Kernel sizes to choose from. Defaults to (3, 5).
        dense_units: (min, max) width of the dense head, in powers of two.
            Defaults to (32, 256).
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
        max_blocks: int = 3,
        filters: tuple[int, int] = (16, 128),
        kernel_sizes: Sequence[int] = (3, 5),
        dense_units: tuple[int, int] = (32, 256),
        activations: Sequence[str] = DEFAULT_ACTIVATIONS,
        **kwargs: Any,
    ):
        super().__init__(input_shape, task=task, num_classes=num_classes, **kwargs)
        if len(self.input_shape) != 3:
            raise ValueError(
                "CNNHyperModel needs (height, width, channels) input, got "
                f"shape {self.input_shape}."
            )
        check_depth("max_blocks", max_blocks)
        check_range("filters", *filters)
        check_range("dense_units", *dense_units)
        self.max_blocks = max_blocks
        self.filters = filters
        self.kernel_sizes = check_sizes("kernel_sizes", kernel_sizes)
        self.dense_units = dense_units
        self.activations = check_activations(activations)

    def build_body(self, hp: keras_tuner.HyperParameters, x: keras.KerasTensor):
        num_blocks = hp.Int("num_blocks", 1, self.max_blocks)
        for i in range(self.max_blocks):
            with hp.conditional_scope("num_blocks", list(range(i + 1, self.max_blocks + 1))):
                filters = hp.Int(f"filters_{i}", *self.filters, step=2, sampling="log")
                kernel_size = hp.Choice(f"kernel_size_{i}", self.kernel_sizes)
                activation = hp.Choice(f"activation_{i}", self.activations)
                pooling = hp.Choice(f"pooling_{i}", list(POOLINGS))
            if i < num_blocks:
                x = keras.layers.Conv2D(
                    filters, kernel_size, padding="same", activation=activation,
                    name=f"block_{i}_conv",
                )(x)
                if pooling == "max":
                    x = keras.layers.MaxPooling2D(2, padding="same", name=f"block_{i}_pool")(x)
                elif pooling == "avg":
                    x = keras.layers.AveragePooling2D(2, padding="same", name=f"block_{i}_pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        dense_units = hp.Int("dense_units", *self.dense_units, step=2, sampling="log")
        dense_activation = hp.Choice("dense_activation", self.activations)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
        return dense_block(x, dense_units, dense_activation, dropout, False, "head")
