"""Keras 3 layers of the PixelRNN paper. Masks are applied inside `call()`."""

from pixelrnn_tf.layers.conv_residual_block import ConvResidualBlock
from pixelrnn_tf.layers.diagonal_bilstm import DiagonalBiLSTM
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.recurrent_residual_block import RecurrentResidualBlock
from pixelrnn_tf.layers.row_lstm import RowLSTM

__all__ = ["ConvResidualBlock", "DiagonalBiLSTM", "MaskedConv2D", "RecurrentResidualBlock",
           "RowLSTM"]
