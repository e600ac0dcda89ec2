"""PixelCNN (paper section 3.5): a 7x7 mask-A conv, residual 3x3 mask-B conv blocks."""

import keras

from models import registry
from pixelrnn_tf.single_scale_model import SingleScaleModel


@registry.register("pixel_cnn")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNN(SingleScaleModel):
    """Fully convolutional; bounded receptive field with the known blind spot."""

    BLOCK = "pixel_cnn"
