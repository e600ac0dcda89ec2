"""Row LSTM PixelRNN (paper section 3.1): residual Row LSTM blocks, triangular context."""

import keras

from models import registry
from pixelrnn_tf.single_scale_model import SingleScaleModel


@registry.register("row_lstm")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RowLSTMPixelRNN(SingleScaleModel):
    """Row LSTM layers with 1 x k (k = `kernel_size`) input-to-state and state-to-state."""

    BLOCK = "row_lstm"
