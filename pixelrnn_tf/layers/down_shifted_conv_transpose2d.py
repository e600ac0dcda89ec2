"""DownShiftedConvTranspose2D: upsampling whose output row o sees input rows <= o / s."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.down_shifted_conv2d import _pair


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DownShiftedConvTranspose2D(keras.layers.Layer):
    """PixelCNN++'s down_shifted_deconv2d: a strided transposed convolution (VALID) whose
    output row o = s i + a (a < kh) takes input row i <= o / s only, cropped to the first
    rows and to the columns centred like the input's. It undoes a stride-s
    `DownShiftedConv2D`: input row r there saw rows <= s r, so output row o still sees input
    rows <= o (strictly above, for a map that did).

    Call with `output_size=(H, W)` to crop to the map the downsampling came from (any H <= s h,
    W <= s w: odd sizes work); by default (s h, s w). No weight normalization.

    Args:
        filters: output features.
        kernel_size: (kh, kw), kw odd; the paper uses (2, 3).
        strides: int or pair; the paper uses 2.
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.

    Input (B, h, w, F) -> output (B, H, W, filters).
    """

    def __init__(self, filters, kernel_size=(2, 3), strides=2,
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

    def left_crop(self):
        """Columns dropped on the left of the full VALID output: centred like the input."""
        return (self.kernel_size[1] - 1) // 2

    def build(self, input_shape):
        # conv2d_transpose kernels are (kh, kw, out, in).
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (self.filters, int(input_shape[-1])),
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=self.bias_initializer)

    def call(self, inputs, output_size=None):
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        shape = tf.shape(inputs)
        full_h, full_w = (shape[1] - 1) * sh + kh, (shape[2] - 1) * sw + kw
        if output_size is None:
            output_size = (shape[1] * sh, shape[2] * sw)
        height, width = output_size
        static_h, static_w = inputs.shape[1], inputs.shape[2]
        if isinstance(height, int) and static_h is not None and height > static_h * sh:
            raise ValueError(f"{self.name}: output height {height} > {sh} x {static_h}.")
        if isinstance(width, int) and static_w is not None and width > static_w * sw:
            raise ValueError(f"{self.name}: output width {width} > {sw} x {static_w}.")
        full = tf.nn.conv2d_transpose(inputs, self.kernel,
                                      tf.stack([shape[0], full_h, full_w, self.filters]),
                                      self.strides, "VALID")  # (B, (h-1)s+kh, (w-1)s+kw, F')
        left = self.left_crop()
        return full[:, :height, left:left + width] + self.bias  # (B, H, W, filters)

    def _check_steppable(self):
        kh, sh = self.kernel_size[0], self.strides[0]
        if kh > sh:
            raise ValueError(f"{self.name}: a step needs kernel height <= stride (each output "
                             f"row from one input row), got {self.kernel_size}, "
                             f"{self.strides}.")

    def step_row(self, row, width):
        """One input row (B, w, F) -> the s output rows it alone makes (B, s, width,
        filters) (kernel height <= stride: no other input row reaches them). The vertical
        stream of PixelCNN++ is stepped a row at a time."""
        self._check_steppable()
        kh, sh = self.kernel_size[0], self.strides[0]
        out = self.call(row[:, None], output_size=(kh, width))  # (B, kh, width, filters)
        if kh < sh:  # rows no kernel tap reaches: the bias alone
            fill = tf.broadcast_to(self.bias, tf.concat([tf.shape(out)[:1], [sh - kh],
                                                         tf.shape(out)[2:]], 0))
            out = tf.concat([out, fill], axis=1)
        return out

    def compute_output_shape(self, input_shape, output_size=None):
        if output_size is None:
            output_size = tuple(None if d is None else d * s
                                for d, s in zip(input_shape[1:3], self.strides))
        return (input_shape[0],) + tuple(output_size) + (self.filters,)

    def compute_output_spec(self, inputs, output_size=None):
        # output_size is not a tensor, so Keras cannot pass it to compute_output_shape as a
        # `_shape` argument: the symbolic call (keras.Input) comes here instead.
        return keras.KerasTensor(self.compute_output_shape(inputs.shape, output_size),
                                 dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
