"""`SequenceHyperModel`: 1-D convolutional or recurrent stacks over time steps."""

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

LAYER_TYPES = ("conv1d", "lstm", "gru")


class SequenceHyperModel(StructureHyperModel):
    """A network over `(timesteps, features)` input, such as text embeddings
    or audio frames.

    Search space: `num_layers` in [1, `max_layers`]; for each layer `i`, in a
    conditional scope active only when the network has that layer,
    `layer_type_i` ("conv1d", "lstm" or "gru", so convolutions can feed
    recurrent layers), `units_i` (powers of two in `units`) and, for
    convolutions only (a nested scope on `layer_type_i`), `kernel_size_i` and
    `activation_i` (recurrent layers keep their tanh/sigmoid gates);
    then the sequence `pooling` ("max" or "avg" over time), a dense head of
    `dense_units` with `dense_activation`, `dropout` and `learning_rate`.

    Args:
        input_shape: (timesteps, features) of one example.
        task: "classification" or "regression". Defaults to
            "classification".
        num_classes: Integer >= 2, required for classification.
        max_layers: Integer, the deepest stack searched. Defaults to 2.
        layer_types: Layer kinds to choose from. Defaults to
            ("conv1d", "lstm", "gru").
        units: (min, max) filters or units of a layer, in powers of two.
            Defaults to (16, 128).
        kernel_sizes: Kernel sizes of convolutions. Defaults to (3, 5).
        dense_units: (min, max) width of the dense head. Defaults to (16, 128).
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
        max_layers: int = 2,
        layer_types: Sequence[str] = LAYER_TYPES,
        units: tuple[int, int] = (16, 128),
        kernel_sizes: Sequence[int] = (3, 5),
        dense_units: tuple[int, int] = (16, 128),
        activations: Sequence[str] = DEFAULT_ACTIVATIONS,
        **kwargs: Any,
    ):
        super().__init__(input_shape, task=task, num_classes=num_classes, **kwargs)
        if len(self.input_shape) != 2:
            raise ValueError(
                "SequenceHyperModel needs (timesteps, features) input, got "
                f"shape {self.input_shape}."
            )
        check_depth("max_layers", max_layers)
        check_range("units", *units)
        check_range("dense_units", *dense_units)
        unknown = sorted(set(layer_types) - set(LAYER_TYPES))
        if not layer_types or unknown:
            raise ValueError(
                f"`layer_types` must be taken from {LAYER_TYPES}, got {list(layer_types)}."
            )
        self.max_layers = max_layers
        self.layer_types = list(layer_types)
        self.units = units
        self.kernel_sizes = check_sizes("kernel_sizes", kernel_sizes)
        self.dense_units = dense_units
        self.activations = check_activations(activations)

    def build_body(self, hp: keras_tuner.HyperParameters, x: keras.KerasTensor):
        num_layers = hp.Int("num_layers", 1, self.max_layers)
        for i in range(self.max_layers):
            with hp.conditional_scope("num_layers", list(range(i + 1, self.max_layers + 1))):
                layer_type = hp.Choice(f"layer_type_{i}", self.layer_types)
                units = hp.Int(f"units_{i}", *self.units, step=2, sampling="log")
                with hp.conditional_scope(f"layer_type_{i}", ["conv1d"]):
                    kernel_size = hp.Choice(f"kernel_size_{i}", self.kernel_sizes)
                    activation = hp.Choice(f"activation_{i}", self.activations)
            if i >= num_layers:
                continue
            if layer_type == "conv1d":
                x = keras.layers.Conv1D(
                    units, kernel_size, padding="same", activation=activation,
                    name=f"layer_{i}_conv1d",
                )(x)
            elif layer_type == "lstm":
                x = keras.layers.LSTM(units, return_sequences=True, name=f"layer_{i}_lstm")(x)
            else:
                x = keras.layers.GRU(units, return_sequences=True, name=f"layer_{i}_gru")(x)
        if hp.Choice("pooling", ["max", "avg"]) == "max":
            x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
        else:
            x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        dense_units = hp.Int("dense_units", *self.dense_units, step=2, sampling="log")
        dense_activation = hp.Choice("dense_activation", self.activations)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
        return dense_block(x, dense_units, dense_activation, dropout, False, "head")
