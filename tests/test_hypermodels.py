"""Every hypermodel builds and trains at the extremes of its search space."""

import itertools

import keras
import keras_tuner
import numpy as np
import pytest

from evokt.hypermodels import SEED_CNN_PRESETS
from evokt.hypermodels import CNNHyperModel
from evokt.hypermodels import MLPHyperModel
from evokt.hypermodels import SequenceHyperModel
from evokt.oracles import space as space_lib

RNG = np.random.default_rng(0)


def configure(hypermodel, values):
    """HyperParameters holding `values`, the rest at defaults, as a tuner does."""
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)  # registers the whole space
    hp.values = space_lib.complete_values(hp, values, lambda item: item.default)
    return hp


def train_one_step(hypermodel, values, x, y):
    model = hypermodel.build(configure(hypermodel, values))
    losses = model.train_on_batch(x, y)
    assert np.all(np.isfinite(losses))
    prediction = model(x[:2])
    return model, np.asarray(prediction)


MLP = MLPHyperModel((5,), num_classes=3, max_layers=3, units=(16, 256),
                    feature_mean=[0.0] * 5, feature_variance=[1.0] * 5)


@pytest.mark.parametrize(
    "layers,units,dropout,batch_norm",
    list(itertools.product([1, 3], [16, 256], [0.0, 0.5], [False, True])),
)
def test_mlp_extremes_build_and_train(layers, units, dropout, batch_norm):
    values = {"num_layers": layers, "dropout": dropout, "batch_norm": batch_norm,
              "learning_rate": 1e-2}
    values.update({f"units_{i}": units for i in range(layers)})
    values.update({f"activation_{i}": "gelu" for i in range(layers)})
    x = RNG.normal(size=(8, 5)).astype("float32")
    model, prediction = train_one_step(MLP, values, x, RNG.integers(0, 3, 8))
    assert prediction.shape == (2, 3)
    np.testing.assert_allclose(prediction.sum(axis=1), 1.0, rtol=1e-5)
    assert len([layer for layer in model.layers if layer.name.endswith("_dense")]) == layers


CNN = CNNHyperModel((8, 8, 1), num_classes=10, max_blocks=3)


@pytest.mark.parametrize(
    "blocks,width,kernel,pooling",
    list(itertools.product([1, 3], ["narrow", "wide"], [3, 5], ["max", "avg", "none"])),
)
def test_cnn_extremes_build_and_train(blocks, width, kernel, pooling):
    filters, dense = {"narrow": (16, 32), "wide": (128, 256)}[width]
    values = {"num_blocks": blocks, "dense_units": dense}
    for i in range(blocks):
        values.update({f"filters_{i}": filters, f"kernel_size_{i}": kernel,
                       f"pooling_{i}": pooling})
    x = RNG.normal(size=(4, 8, 8, 1)).astype("float32")
    _, prediction = train_one_step(CNN, values, x, RNG.integers(0, 10, 4))
    assert prediction.shape == (2, 10)


SEQUENCE = SequenceHyperModel((12, 3), task="regression", max_layers=2,
                              target_mean=50.0, target_std=10.0)


@pytest.mark.parametrize(
    "layer_type,layers,units,kernel,pooling",
    [
        combo
        for combo in itertools.product(["conv1d", "lstm", "gru"], [1, 2], [16, 128], [3, 5],
                                       ["max", "avg"])
        if combo[0] == "conv1d" or combo[3] == 3
    ],
)
def test_sequence_extremes_build_and_train(layer_type, layers, units, kernel, pooling):
    values = {"num_layers": layers, "pooling": pooling}
    for i in range(layers):
        values[f"layer_type_{i}"] = layer_type
        values[f"units_{i}"] = units
        if layer_type == "conv1d":
            values[f"kernel_size_{i}"] = kernel
    x = RNG.normal(size=(4, 12, 3)).astype("float32")
    model, prediction = train_one_step(SEQUENCE, values, x, RNG.normal(50, 10, 4))
    assert prediction.shape == (2, 1)
    assert model.loss == "mean_squared_error"


def test_sequence_convolution_hyperparameters_are_conditional_on_the_layer_type():
    hp = configure(SEQUENCE, {"num_layers": 2, "layer_type_0": "conv1d", "layer_type_1": "gru"})
    assert {"kernel_size_0", "activation_0"} <= set(hp.values)
    assert "kernel_size_1" not in hp.values and "activation_1" not in hp.values
    model = SEQUENCE.build(hp)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[kinds.index("Conv1D") + 1] == "GRU"


def test_seed_document_presets_build_the_two_hand_designed_networks():
    hypermodel = CNNHyperModel((8, 8, 1), num_classes=10)
    for preset, filters, dense in zip(SEED_CNN_PRESETS, [(32, 64), (64, 128)], [128, 256],
                                     strict=True):
        model = hypermodel.build(configure(hypermodel, preset))
        convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        denses = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        assert tuple(convs) == filters
        assert denses == [dense, 10]


def test_scaling_is_built_into_the_model_and_survives_saving(tmp_path):
    mean, variance = [10.0, -3.0], [4.0, 0.25]
    hypermodel = MLPHyperModel((2,), num_classes=2, feature_mean=mean, feature_variance=variance)
    model = hypermodel.build(configure(hypermodel, {"num_layers": 1}))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    scaling = loaded.get_layer("feature_scaling")
    scaled = np.asarray(scaling(np.array([[12.0, -2.5]], dtype="float32")))
    np.testing.assert_allclose(scaled, [[1.0, 1.0]], rtol=1e-5)
    x = np.array([[11.0, -3.2], [9.0, -2.9]], dtype="float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5)


def test_regression_output_is_in_the_target_units():
    hypermodel = MLPHyperModel((2,), task="regression", target_mean=1000.0, target_std=1e-6)
    model = hypermodel.build(configure(hypermodel, {"num_layers": 1}))
    prediction = np.asarray(model(np.zeros((3, 2), dtype="float32")))
    np.testing.assert_allclose(prediction, 1000.0, rtol=1e-4)


@pytest.mark.parametrize(
    "factory,message",
    [
        (lambda: MLPHyperModel((3,), task="classification"), "num_classes"),
        (lambda: MLPHyperModel((3,), task="ranking"), "task"),
        (lambda: MLPHyperModel((3,), num_classes=2, max_layers=0), "max_layers"),
        (lambda: MLPHyperModel((3,), num_classes=2, units=(64, 8)), "units"),
        (lambda: MLPHyperModel((3,), num_classes=2, activations=()), "activations"),
        (lambda: CNNHyperModel((8, 8), num_classes=2), "height, width, channels"),
        (lambda: CNNHyperModel((8, 8, 1), num_classes=2, kernel_sizes=(0,)), "kernel_sizes"),
        (lambda: SequenceHyperModel((8,), num_classes=2), "timesteps, features"),
        (lambda: SequenceHyperModel((8, 2), num_classes=2, layer_types=("rnn",)), "layer_types"),
        (lambda: MLPHyperModel((3,), num_classes=2, feature_mean=[0.0] * 3), "feature_variance"),
    ],
)
def test_bad_arguments_name_the_problem(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()
