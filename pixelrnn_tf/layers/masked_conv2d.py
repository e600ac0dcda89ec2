"""MaskedConv2D: a convolution that sees only earlier pixels and earlier colour groups."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.masking import causal_mask


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class MaskedConv2D(keras.layers.Layer):
    """2-D convolution with the PixelRNN paper's mask A or B, over space and colour groups.

    The mask multiplies the kernel inside `call()`, so the layer is causal from the moment
    its weights exist (an untrained layer included), not only after an optimizer step.

    Args:
        filters: number of output features.
        kernel_size: int or (kh, kw); both odd, so the centre tap is the current pixel.
        mask_type: "A" (first layer: a group does not see itself at the current pixel) or
            "B" (later layers: a group sees itself).
        num_groups: colour groups (3 for RGB, 1 for grey/binary images).
        in_blocks / out_blocks: the input / output features are this many equal blocks, each
            split into groups on its own (see `masking.channel_groups`).
        use_bias, kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.
    """

    def __init__(self, filters, kernel_size, mask_type="B", num_groups=3, in_blocks=1,
                 out_blocks=1, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        kernel_size = tuple(int(k) for k in kernel_size)
        if any(k % 2 == 0 or k < 1 for k in kernel_size):
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}.")
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.num_groups = int(num_groups)
        self.in_blocks = int(in_blocks)
        self.out_blocks = int(out_blocks)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (in_features, self.filters),
            initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        # A constant, not a weight: the mask is a function of the config, so it is rebuilt
        # on load and can never be trained or restored into a wrong state. init_scope: a
        # layer first built while a tf.function traces must not keep a graph-local tensor.
        with tf.init_scope():
            self.mask = tf.constant(causal_mask(
                self.kernel_size, in_features, self.filters, self.num_groups, self.mask_type,
                self.in_blocks, self.out_blocks))

    def masked_kernel(self):
        return self.kernel * self.mask

    def call(self, inputs):
        y = tf.nn.conv2d(inputs, self.masked_kernel(), strides=1, padding="SAME")
        if self.use_bias:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, mask_type=self.mask_type,
            num_groups=self.num_groups, in_blocks=self.in_blocks, out_blocks=self.out_blocks,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
