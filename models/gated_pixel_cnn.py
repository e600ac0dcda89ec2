"""Gated PixelCNN (van den Oord et al. 2016): vertical + horizontal stacks, no blind spot."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf import gated_cached_sampling
from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.layers.gated_pixel_cnn_layer import GatedPixelCNNLayer
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D


@registry.register("gated_pixel_cnn")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class GatedPixelCNN(AutoregressiveModel):
    """`num_layers` GatedPixelCNNLayers (mask A first), then ReLU, 1 x 1 mask-B conv
    (`output_units`), ReLU, 1 x 1 mask-B conv to `num_levels` logits per sub-pixel.

    Conditional on class labels (`num_classes > 0`, fed one-hot) or on a float vector
    (`conditioning_dim > 0`), added into every gate; at most one of the two.
    """

    def __init__(self, image_shape, num_levels, num_layers=2, units=8, output_units=32,
                 kernel_size=3, num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        self._set_conditioning(num_classes, conditioning_dim)
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.output_units = int(output_units)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape=None):
        c = self.image_shape[-1]
        prefix = (None,) + self.image_shape[:-1]
        self.gated_layers = []
        features = c
        for i in range(self.num_layers):
            layer = GatedPixelCNNLayer(
                self.units, self.kernel_size, "A" if i == 0 else "B", c, residual=i > 0,
                conditioning_dim=self.conditioning_vector_size, name=f"gated_layer_{i}")
            layer.build([prefix + (features,), prefix + (features,)])
            # Also an attribute of its own: tf.train.Checkpoint does not look inside the
            # Keras-tracked list.
            setattr(self, f"gated_layer_{i}", layer)
            self.gated_layers.append(layer)
            features = self.units
        self.output_conv_1 = MaskedConv2D(self.output_units, 1, "B", c, name="output_conv_1")
        self.output_conv_1.build(prefix + (self.units,))
        self.output_conv_2 = MaskedConv2D(c * self.num_levels, 1, "B", c, name="output_conv_2")
        self.output_conv_2.build(prefix + (self.output_units,))

    def logits(self, scaled, conditioning=None):
        vector = self.embed(conditioning)
        v = h = scaled
        for layer in self.gated_layers:
            v, h = layer([v, h], vector)
        y = self.output_conv_1(tf.nn.relu(h))
        y = self.output_conv_2(tf.nn.relu(y))  # (B, H, W, C * L)
        shape = tf.shape(scaled)
        return tf.reshape(y, [shape[0], shape[1], shape[2], self.image_shape[-1],
                              self.num_levels])

    def cached_complete(self, images, known_mask, seed, conditioning=None):
        """Same arguments and output as `sampling.naive_complete`, one row of the vertical
        stack per row and one pixel of the horizontal stack per channel."""
        return gated_cached_sampling.cached_complete(self, images, known_mask, seed,
                                                     conditioning)

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, units=self.units,
                      output_units=self.output_units, kernel_size=self.kernel_size,
                      num_classes=self.num_classes, conditioning_dim=self.conditioning_dim)
        return config
