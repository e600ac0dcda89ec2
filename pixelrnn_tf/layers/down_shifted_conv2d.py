"""DownShiftedConv2D: a convolution whose output at row i sees input rows <= i only."""

import keras
import tensorflow as tf


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}.")
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DownShiftedConv2D(keras.layers.Layer):
    """PixelCNN++'s down_shifted_conv2d (Salimans et al. 2017): a kh x kw kernel over rows
    i - kh + 1 .. i and the kw columns centred on j (zero padding above, left and right), so
    output row i depends on input rows <= i and on no later row. Followed by `down_shift`
    (or fed from an already shifted map), it gives the "vertical" stream that sees only the
    rows above.

    With strides s the output is ceil(H / s) x ceil(W / s) (any H, W >= 1): output row r
    sees input rows <= s r.

    No weight normalization (the paper's weight norm with data-dependent initialization is
    left out; the zoo's models all use plain weights).

    Args:
        filters: output features.
        kernel_size: (kh, kw), kw odd (centred on the current column); the paper uses (2, 3).
        strides: int or pair; 2 for the paper's downsampling layers.
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.

    Input (B, H, W, F) -> output (B, ceil(H / s), ceil(W / s), filters).
    """

    def __init__(self, filters, kernel_size=(2, 3), strides=1,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.check_kernel_size()

    def check_kernel_size(self):
        if self.kernel_size[1] % 2 == 0:
            raise ValueError(f"{type(self).__name__}: the kernel width must be odd (centred "
                             f"on the current column), got {self.kernel_size}.")

    def padding(self):
        """[[top, bottom], [left, right]] zero padding before the VALID convolution."""
        kh, kw = self.kernel_size
        return [[kh - 1, 0], [(kw - 1) // 2, (kw - 1) // 2]]

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (int(input_shape[-1]), self.filters),
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=self.bias_initializer)

    def call(self, inputs):
        padded = tf.pad(inputs, [[0, 0]] + self.padding() + [[0, 0]])
        return tf.nn.conv2d(padded, self.kernel, self.strides, "VALID") + self.bias

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        sh, sw = self.strides
        return (input_shape[0], None if h is None else -(-h // sh),
                None if w is None else -(-w // sw), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
