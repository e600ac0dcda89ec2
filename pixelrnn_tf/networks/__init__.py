"""Networks: stacks of layers from a scaled image to logits."""

from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork

__all__ = ["PixelRNNNetwork"]
