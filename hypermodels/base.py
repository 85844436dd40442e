"""What every evokt hypermodel shares: the task, the input and the head.

A subclass only builds the body of the network (`build_body`); this class
puts the input, the built-in feature scaling, the output layer, the loss and
the metrics around it, so every hypermodel treats a task the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras_tuner
import numpy as np

from evokt.hypermodels.tasks import DEFAULT_OBJECTIVES
from evokt.hypermodels.tasks import LOSS_AND_METRICS
from evokt.hypermodels.tasks import TASKS

DEFAULT_ACTIVATIONS = ("relu", "tanh", "elu", "gelu")


def default_objective(task: str) -> keras_tuner.Objective:
    """The objective a search on `task` optimises unless told otherwise."""
    name, direction = DEFAULT_OBJECTIVES[task]
    return keras_tuner.Objective(name, direction=direction)


def check_range(name: str, low: int, high: int) -> None:
    """Raises ValueError unless `1 <= low <= high`."""
    if not 1 <= low <= high:
        raise ValueError(f"`{name}` must be (min, max) with 1 <= min <= max, got ({low}, {high}).")


def check_sizes(name: str, sizes: Sequence[int]) -> list[int]:
    """Returns `sizes` as ints; raises ValueError unless all are positive."""
    if not sizes or any(int(size) < 1 for size in sizes):
        raise ValueError(f"`{name}` must be positive integers, got {list(sizes)}.")
    return [int(size) for size in sizes]


def check_activations(activations: Sequence[str]) -> list[str]:
    """Returns `activations` as a list; raises ValueError if it is empty."""
    if not activations:
        raise ValueError("`activations` must name at least one activation.")
    return list(activations)


def check_depth(name: str, value: int) -> None:
    """Raises ValueError unless `value` is a positive integer."""
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


class StructureHyperModel(keras_tuner.HyperModel):
    """Base class of the hypermodels whose search space is the network.

    Args:
        input_shape: Shape of one example, without the batch axis.
        task: "classification" or "regression". Defaults to
            "classification".
        num_classes: Integer >= 2, required for classification.
        feature_mean: Optional per-feature mean (last axis) of the training
            data. With `feature_variance`, a `Normalization` layer that scales
            raw inputs is built into the model, so the saved model takes data
            exactly as it comes.
        feature_variance: Optional per-feature variance, with `feature_mean`.
        target_mean: Optional mean of a regression target; with `target_std`
            the output layer predicts in the target's own units.
        target_std: Optional standard deviation of a regression target.
        learning_rates: (min, max) of the learning rate, sampled on a log
            scale. Defaults to (1e-4, 1e-2).
        name: Optional name of the hypermodel.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        task: str = "classification",
        num_classes: int | None = None,
        feature_mean: Sequence[float] | None = None,
        feature_variance: Sequence[float] | None = None,
        target_mean: float | None = None,
        target_std: float | None = None,
        learning_rates: tuple[float, float] = (1e-4, 1e-2),
        name: str | None = None,
    ):
        super().__init__(name=name, tunable=True)
        if task not in TASKS:
            raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
        if task == "classification" and (num_classes is None or num_classes < 2):
            raise ValueError(
                f"Classification needs `num_classes` >= 2, got {num_classes}."
            )
        if (target_mean is None) != (target_std is None):
            raise ValueError("Give both `target_mean` and `target_std`, or neither.")
        if (feature_mean is None) != (feature_variance is None):
            raise ValueError(
                "Give both `feature_mean` and `feature_variance`, or neither."
            )
        if not 0 < learning_rates[0] <= learning_rates[1]:
            raise ValueError(
                f"`learning_rates` must be 0 < min <= max, got {learning_rates}."
            )
        self.input_shape = tuple(int(size) for size in input_shape)
        self.task = task
        self.num_classes = num_classes
        self.feature_mean = _as_list(feature_mean)
        self.feature_variance = _as_list(feature_variance)
        self.target_mean = target_mean
        self.target_std = target_std
        self.learning_rates = learning_rates

    def build_body(self, hp: keras_tuner.HyperParameters, x: keras.KerasTensor):
        """Builds the searched layers between the scaled input and the head.

        Args:
            hp: The trial's hyperparameters.
            x: The scaled input tensor.

        Returns:
            The tensor the output layer is applied to.
        """
        raise NotImplementedError

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        inputs = keras.Input(shape=self.input_shape, name="inputs")
        x = inputs
        if self.feature_mean is not None:
            x = keras.layers.Normalization(
                mean=self.feature_mean,
                variance=self.feature_variance,
                name="feature_scaling",
            )(x)
        x = self.build_body(hp, x)
        if self.task == "classification":
            outputs = keras.layers.Dense(
                self.num_classes, activation="softmax", name="probabilities"
            )(x)
        else:
            outputs = keras.layers.Dense(1, name="prediction")(x)
            if self.target_mean is not None and self.target_std is not None:
                # The network learns a standardised target; this puts its
                # output back into the target's units.
                outputs = keras.layers.Rescaling(
                    scale=self.target_std, offset=self.target_mean, name="target_scaling"
                )(outputs)
        model = keras.Model(inputs, outputs, name=self.name or "evokt_model")
        loss, metrics = LOSS_AND_METRICS[self.task]
        learning_rate = hp.Float(
            "learning_rate", *self.learning_rates, sampling="log"
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss=loss,
            metrics=metrics,
        )
        return model


def _as_list(values: Sequence[float] | None) -> list[float] | None:
    if values is None:
        return None
    return np.asarray(values, dtype="float32").reshape(-1).tolist()


def dense_block(
    x: keras.KerasTensor,
    units: int,
    activation: str,
    dropout: float,
    batch_norm: bool,
    name: str,
) -> keras.KerasTensor:
    """Dense, optional batch normalisation, activation, optional dropout."""
    x = keras.layers.Dense(units, use_bias=not batch_norm, name=f"{name}_dense")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x
