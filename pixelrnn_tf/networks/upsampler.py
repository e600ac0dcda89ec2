"""Upsampler: the Multi-Scale PixelRNN's deconvolution network, s x s image -> c x n x n map."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class Upsampler(keras.layers.Layer):
    """3 x 3 conv -> ReLU -> `num_layers` residual 3 x 3 conv + ReLU blocks -> 3 x 3 stride-2
    transposed conv -> ReLU, cropped to (height, width).

    Unmasked: the whole small image is known before the conditional network runs. Each of them
    widens what one position of the map sees of the small image by a small pixel on
    every side; a Row LSTM conditioned on the map sees the small image below its row only
    through it.
    """

    def __init__(self, features, height, width, num_layers=0, **kwargs):
        super().__init__(**kwargs)
        self.features = int(features)
        self.height = int(height)
        self.width = int(width)
        self.num_layers = int(num_layers)
        if self.num_layers < 0:
            raise ValueError(f"Upsampler num_layers must be >= 0, got {num_layers}.")

    def build(self, input_shape):
        self.conv = keras.layers.Conv2D(self.features, 3, padding="same", name="conv",
                                        dtype=self.dtype_policy)
        self.conv.build(input_shape)
        hidden = tuple(input_shape[:-1]) + (self.features,)
        self.hidden = []
        for i in range(self.num_layers):
            conv = keras.layers.Conv2D(self.features, 3, padding="same", name=f"hidden_{i}",
                                       dtype=self.dtype_policy)
            conv.build(hidden)
            # An attribute of its own too: tf.train.Checkpoint does not look inside the
            # Keras-tracked list.
            setattr(self, f"hidden_{i}", conv)
            self.hidden.append(conv)
        self.deconv = keras.layers.Conv2DTranspose(self.features, 3, strides=2, padding="same",
                                                   name="deconv", dtype=self.dtype_policy)
        self.deconv.build(hidden)

    def call(self, small):
        y = tf.nn.relu(self.conv(small))  # (B, s, s, c)
        for conv in self.hidden:
            y = y + tf.nn.relu(conv(y))
        y = tf.nn.relu(self.deconv(y))  # (B, 2s, 2s, c)
        return y[:, : self.height, : self.width]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.features)

    def get_config(self):
        config = super().get_config()
        config.update(features=self.features, height=self.height, width=self.width,
                      num_layers=self.num_layers)
        return config
