"""Upsampler: the Multi-Scale PixelRNN's deconvolution network, s x s image -> c x n x n map."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class Upsampler(keras.layers.Layer):
    """3 x 3 conv -> ReLU -> 3 x 3 stride-2 transposed conv -> ReLU, cropped to (height, width).

    Unmasked: the whole small image is known before the conditional network runs.
    """

    def __init__(self, features, height, width, **kwargs):
        super().__init__(**kwargs)
        self.features = int(features)
        self.height = int(height)
        self.width = int(width)

    def build(self, input_shape):
        self.conv = keras.layers.Conv2D(self.features, 3, padding="same", name="conv",
                                        dtype=self.dtype_policy)
        self.conv.build(input_shape)
        self.deconv = keras.layers.Conv2DTranspose(self.features, 3, strides=2, padding="same",
                                                   name="deconv", dtype=self.dtype_policy)
        self.deconv.build(tuple(input_shape[:-1]) + (self.features,))

    def call(self, small):
        y = tf.nn.relu(self.conv(small))
        y = tf.nn.relu(self.deconv(y))  # (B, 2s, 2s, c)
        return y[:, : self.height, : self.width]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.features)

    def get_config(self):
        config = super().get_config()
        config.update(features=self.features, height=self.height, width=self.width)
        return config
