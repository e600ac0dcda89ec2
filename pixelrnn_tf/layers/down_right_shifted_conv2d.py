"""DownRightShiftedConv2D: a convolution whose output at (i, j) sees rows <= i, columns <= j."""

import keras

from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DownRightShiftedConv2D(DownShiftedConv2D):
    """PixelCNN++'s down_right_shifted_conv2d: a kh x kw kernel over rows i - kh + 1 .. i and
    columns j - kw + 1 .. j (zero padding above and left), so output (i, j) depends on inputs
    at rows <= i and columns <= j only. It builds the "horizontal" stream: on a map whose
    (i, j) sees only pixels before (i, j) in raster order, the output still does.

    Same arguments and shapes as `DownShiftedConv2D` (any kernel width); the paper uses
    (2, 2), and (2, 1) in the first layer. No weight normalization.
    """

    def __init__(self, filters, kernel_size=(2, 2), strides=1, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)

    def check_kernel_size(self):
        pass  # any width: the kernel ends at the current column

    def padding(self):
        kh, kw = self.kernel_size
        return [[kh - 1, 0], [kw - 1, 0]]
