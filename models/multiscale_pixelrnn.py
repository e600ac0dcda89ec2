"""Multi-Scale PixelRNN (paper section 3.6).

An unconditional network models the s x s image x[::2, ::2]; a conditional network, each of
whose blocks is biased by a 1 x 1 unmasked convolution of an upsampled map of the small image,
models the remaining pixels of the n x n image in raster order:

    log p(x) = log p(x[::2, ::2]) + sum_{(i, j) not both even} log p(x_ij | x_<ij, x[::2, ::2])

which is a normalized distribution over n x n images. The conditional network's predictions
at the small image's positions are not used.
"""

import keras
import numpy as np
import tensorflow as tf

from models import registry
from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork
from pixelrnn_tf.networks.upsampler import Upsampler
from pixelrnn_tf.sampling.stages import NetworkStage


def small_positions(height, width):
    """Boolean (H, W): True where the pixel belongs to the sub-sampled image x[::2, ::2]."""
    mask = np.zeros((height, width), bool)
    mask[::2, ::2] = True
    return mask


@registry.register("multiscale_pixelrnn")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class MultiScalePixelRNN(AutoregressiveModel):
    """Args:
        image_shape, num_levels: of the full n x n image.
        block: "row_lstm", "diagonal_bilstm" or "pixel_cnn", for both networks.
        small_layers, small_units, small_output_units: the unconditional network.
        num_layers, units, output_units: the conditional network.
        conditioning_features: c, features of the upsampled conditioning map.
        upsampler_layers: residual 3 x 3 convolutions of the upsampler at the small scale
            (0: one convolution and the deconvolution).
        kernel_size, residual, skip: as for the single-scale networks.
    """

    SMALL_CONFIG = dict(num_layers=5, units=32, output_units=128)

    def __init__(self, image_shape, num_levels, block="row_lstm", small_layers=2, small_units=8,
                 small_output_units=32, num_layers=2, units=8, output_units=32,
                 conditioning_features=8, kernel_size=3, residual=True, skip=True,
                 upsampler_layers=0, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        self.block = block
        self.small_layers = int(small_layers)
        self.small_units = int(small_units)
        self.small_output_units = int(small_output_units)
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.output_units = int(output_units)
        self.conditioning_features = int(conditioning_features)
        self.kernel_size = int(kernel_size)
        self.residual = bool(residual)
        self.skip = bool(skip)
        self.upsampler_layers = int(upsampler_layers)
        h, w, _ = self.image_shape
        self.small_shape = ((h + 1) // 2, (w + 1) // 2, self.image_shape[2])

    def build(self, input_shape=None):
        h, w, c = self.image_shape
        self.small_network = PixelRNNNetwork(
            c, self.num_levels, self.block, self.small_layers, self.small_units,
            self.small_output_units, self.kernel_size, self.residual, self.skip,
            name="small_network", dtype=self.dtype_policy)
        self.small_network.build((None,) + self.small_shape)
        self.upsampler = Upsampler(self.conditioning_features, h, w, self.upsampler_layers,
                                   name="upsampler", dtype=self.dtype_policy)
        self.upsampler.build((None,) + self.small_shape)
        self.conditional_network = PixelRNNNetwork(
            c, self.num_levels, self.block, self.num_layers, self.units, self.output_units,
            self.kernel_size, self.residual, self.skip, self.conditioning_features,
            name="conditional_network", dtype=self.dtype_policy)
        self.conditional_network.build((None,) + self.image_shape)
        with tf.init_scope():
            self.small_mask = tf.constant(small_positions(h, w)[None, :, :, None, None])

    def logits(self, scaled):
        h, w, _ = self.image_shape
        small = scaled[:, ::2, ::2]  # (B, s, s, C)
        small_logits = self.small_network(small)  # (B, s, s, C, L)
        conditional_logits = self.conditional_network(scaled, self.upsampler(small))
        # Interleave zeros with pads and reshapes: small pixel (a, b) -> (2a, 2b).
        b, sh, sw = tf.shape(small)[0], self.small_shape[0], self.small_shape[1]
        up = small_logits[:, :, None, :, None]  # (B, s, 1, s, 1, C, L)
        up = tf.pad(up, [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0], [0, 0]])
        up = tf.reshape(up, [b, 2 * sh, 2 * sw, self.image_shape[2], self.num_levels])
        return tf.where(self.small_mask, up[:, :h, :w], conditional_logits)

    def sampling_stages(self, conditioning=None):
        """The small image x[::2, ::2] with the unconditional network, then every pixel with
        the conditional network, whose per-block biases are computed once from the small
        image (its pixels are then known)."""
        return [NetworkStage(self.small_network, self.scale, self.image_shape, stride=2),
                NetworkStage(self.conditional_network, self.scale, self.image_shape,
                             conditioning_map=lambda x: self.upsampler(self.scale(
                                 x[:, ::2, ::2])))]

    def ordering(self):
        """The small image's sub-pixels first (in its raster order), then the rest."""
        h, w, c = self.image_shape
        in_small = np.repeat(small_positions(h, w)[:, :, None], c, axis=2).reshape(-1)
        keys = np.arange(h * w * c)
        order = np.concatenate([keys[in_small], keys[~in_small]])
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank.reshape(h, w, c)

    def get_config(self):
        config = super().get_config()
        config.update(block=self.block, small_layers=self.small_layers,
                      small_units=self.small_units, small_output_units=self.small_output_units,
                      num_layers=self.num_layers, units=self.units,
                      output_units=self.output_units,
                      conditioning_features=self.conditioning_features,
                      kernel_size=self.kernel_size, residual=self.residual, skip=self.skip,
                      upsampler_layers=self.upsampler_layers)
        return config
