"""Diagonal BiLSTM PixelRNN (paper section 3.2): every earlier pixel in the context."""

import keras

from models import registry
from pixelrnn_tf.single_scale_model import SingleScaleModel


@registry.register("diagonal_bilstm")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalBiLSTMPixelRNN(SingleScaleModel):
    """Diagonal BiLSTM layers (1 x 1 input-to-state, 2 x 1 state-to-state in skewed space)."""

    BLOCK = "diagonal_bilstm"
