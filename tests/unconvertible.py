"""A model that no converter takes: for the refusals of `evokt export` and the service."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="evokt_tests")
class InverseErf(keras.layers.Layer):
    """A layer whose TensorFlow operation (Erfinv) neither tf2onnx nor LiteRT's built-in
    operators convert."""

    def call(self, inputs):
        return tf.math.erfinv(tf.tanh(inputs) * 0.5)


def unconvertible_model() -> keras.Model:
    """Four features through `InverseErf` (named "odd") and a Dense layer of two outputs."""
    inputs = keras.Input((4,), name="inputs")
    return keras.Model(inputs, keras.layers.Dense(2)(InverseErf(name="odd")(inputs)))
