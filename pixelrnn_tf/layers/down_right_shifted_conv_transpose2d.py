"""DownRightShiftedConvTranspose2D: upsampling whose output (o, p) sees inputs (<= o/s, <= p/s)."""

import keras

from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DownRightShiftedConvTranspose2D(DownShiftedConvTranspose2D):
    """PixelCNN++'s down_right_shifted_deconv2d: a strided transposed convolution cropped to
    the first rows and columns, so output (o, p) = (s i + a, s k + b) takes input (i, k) with
    s i <= o and s k <= p only. It undoes a stride-s `DownRightShiftedConv2D`, whose output
    (r, q) saw pixels before (s r, s q) in raster order: output (o, p) then still sees only
    pixels before (o, p).

    Same arguments, call and shapes as `DownShiftedConvTranspose2D` (any kernel width); the
    paper uses (2, 2). No weight normalization.
    """

    def __init__(self, filters, kernel_size=(2, 2), strides=2, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)

    def check_kernel_size(self):
        pass  # any width: the crop keeps the first columns

    def left_crop(self):
        return 0
