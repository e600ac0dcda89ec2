"""MaskedConv2D: a convolution that sees only earlier pixels and earlier colour groups."""

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf.layers.masking import causal_mask, group_index, take_group
from pixelrnn_tf.layers.position_cache import past_taps


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
        # The mask in the kernel's dtype: a float32 mask would promote an autocast (half
        # precision) kernel back to float32. 0 and 1 are exact in every float dtype.
        kernel = tf.convert_to_tensor(self.kernel)
        return kernel * tf.cast(self.mask, kernel.dtype)

    def call(self, inputs):
        y = tf.nn.conv2d(inputs, self.masked_kernel(), strides=1, padding="SAME")
        if self.use_bias:
            y = y + self.bias
        return y

    # -- One position (incremental sampling): call()'s math at a single pixel. The taps of
    # earlier pixels (`step_past*`) do not change while the channels of a pixel are drawn;
    # only the centre tap (`step_centre`) sees the current pixel.
    def step_dense(self, x):
        """A 1 x 1 layer at one position: (B, F) -> (B, filters), with bias."""
        y = tf.matmul(x, self.masked_kernel()[0, 0])
        return y + self.bias if self.use_bias else y

    def step_centre(self, x):
        """The centre tap at one position, no bias: (B, F) -> (B, filters)."""
        kernel = self.masked_kernel()
        return tf.matmul(x, kernel[kernel.shape[0] // 2, kernel.shape[1] // 2])

    def step_past_weights(self, order=None):
        """The taps before the centre (raster order, `position_cache.past_taps`) stacked
        (taps, F, filters), and the bias, with the output features in `order` (default: as
        they are). Compute once per sampling run, outside the loop: under XLA a kernel slice
        inside the loop is a copy of the weights at every step."""
        kernel = self.masked_kernel()
        ch, cw = kernel.shape[0] // 2, kernel.shape[1] // 2
        k = tf.stack([kernel[ch + di, cw + dj]
                      for di, dj in past_taps(tuple(kernel.shape[:2]))])  # (taps, F, filters)
        bias = self.bias if self.use_bias else tf.zeros([self.filters], k.dtype)
        if order is not None:
            k, bias = tf.gather(k, order, axis=-1), tf.gather(bias, order)
        return k, bias

    def step_past(self, cache, index, weights=None):
        """The taps before the centre (raster order) plus the bias, reading this layer's
        inputs at earlier pixels from `cache` at the slots `index` (one per tap of
        `position_cache.past_taps(kernel_size)`, e.g. `Grid.table(...)[p]`): (B, filters).
        weights: `step_past_weights(...)`, computed outside the sampling loop."""
        k, bias = self.step_past_weights() if weights is None else weights
        past = cache.gather(index)  # (taps, B, F)
        return tf.einsum("tbf,tfg->bg", past, k) + bias

    def input_groups(self):
        """group_index of the layer's input features."""
        return group_index(self.kernel.shape[-2], self.num_groups, self.in_blocks)

    def output_groups(self):
        """group_index of the layer's output features."""
        return group_index(self.filters, self.num_groups, self.out_blocks)

    def step_group_weights(self):
        """Per output group g: the centre tap from the input groups g sees (mask B: <= g,
        A: < g; their pieces concatenated in group order) to group g (None if it sees
        none), and g's bias piece. Compute once per sampling run, outside the loop."""
        kernel = self.masked_kernel()
        centre = kernel[kernel.shape[0] // 2, kernel.shape[1] // 2]  # (F, filters)
        ins, outs = self.input_groups(), self.output_groups()
        weights = []
        for g, out in enumerate(outs):
            seen = g + 1 if self.mask_type == "B" else g
            k = (tf.gather(tf.gather(centre, np.concatenate(ins[:seen]), axis=0), out, axis=1)
                 if seen else None)
            weights.append((k, take_group(self.bias, out) if self.use_bias else None))
        return weights

    def step_group(self, weights, pieces, g, bias=True):
        """Output group g's centre tap at one position from the input's group pieces
        (`pieces[k]` for every group k that g sees, at least), plus its bias if `bias`:
        (B, |group g|), or 0.0 when there is nothing to add (mask A, group 0, no bias)."""
        k, b = weights[g]
        seen = g + 1 if self.mask_type == "B" else g
        y = 0.0 if k is None else tf.matmul(
            pieces[0] if seen == 1 else tf.concat(pieces[:seen], -1), k)
        return y + b if bias and b is not None else y

    def step_patch_weights(self):
        """The kernel with its centre tap zeroed, and the bias, for `step_past_from_patch`:
        compute once per sampling run, outside the loop."""
        kernel = self.masked_kernel()
        not_centre = np.ones(kernel.shape[:2] + (1, 1), kernel.dtype.as_numpy_dtype)
        not_centre[kernel.shape[0] // 2, kernel.shape[1] // 2] = 0.0
        return kernel * not_centre, self.bias

    def step_past_from_patch(self, patch, weights=None):
        """Every tap but the centre, plus the bias, from the (B, kh, kw, F) input patch
        around the pixel (the first layer reads the image itself, not a cache). weights:
        `step_patch_weights()`, computed outside the sampling loop."""
        kernel, bias = self.step_patch_weights() if weights is None else weights
        return tf.einsum("bhwc,hwcf->bf", patch, kernel) + bias

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
