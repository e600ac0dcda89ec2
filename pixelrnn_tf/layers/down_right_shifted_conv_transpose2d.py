"""DownRightShiftedConvTranspose2D: upsampling whose output (o, p) sees inputs (<= o/s, <= p/s)."""

import keras
import tensorflow as tf

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

    def step_pixel(self, value):
        """One input pixel (B, F) -> the s x s output block it alone makes (B, sh, sw,
        filters) (kernel <= stride: no other input reaches it)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if kh > sh or kw > sw:
            raise ValueError(f"{self.name}: a step needs kernel <= stride, got "
                             f"{self.kernel_size}, {self.strides}.")
        block = tf.einsum("bf,hwof->bhwo", value, self.kernel)  # (B, kh, kw, filters)
        return tf.pad(block, [[0, 0], [0, sh - kh], [0, sw - kw], [0, 0]]) + self.bias
