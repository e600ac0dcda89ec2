"""ConvResidualBlock: the PixelCNN residual block of the paper's Figure 5 (left)."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.masking import join_groups, step_all_groups, take_group
from pixelrnn_tf.layers.position_cache import past_taps


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class ConvResidualBlock(keras.layers.Layer):
    """2h -> ReLU, 1 x 1 (h) -> ReLU, k x k (h) -> ReLU, 1 x 1 (2h) -> + input; all mask B.

    Args:
        units: h. The block's input and output have 2h features.
        kernel_size: k of the middle masked convolution (3 in the paper).
        num_groups: colour groups.
        residual: add the input to the output (the paper's residual connection).
        conditioning_features: if > 0, a 1 x 1 unmasked convolution of the conditioning map
            is added to the middle convolution's pre-activation (Multi-Scale biasing).
    """

    def __init__(self, units, kernel_size=3, num_groups=3, residual=True,
                 conditioning_features=0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_size = int(kernel_size)
        self.num_groups = int(num_groups)
        self.residual = bool(residual)
        self.conditioning_features = int(conditioning_features)

    def build(self, input_shape):
        h, g = self.units, self.num_groups
        if self.residual and int(input_shape[-1]) != 2 * h:
            raise ValueError(f"{self.name}: a residual block needs {2 * h} input features, "
                             f"got {input_shape[-1]}.")
        self.reduce = MaskedConv2D(h, 1, "B", g, name="reduce", dtype=self.dtype_policy)
        self.reduce.build(input_shape)
        self.conv = MaskedConv2D(h, self.kernel_size, "B", g, name="conv",
                                 dtype=self.dtype_policy)
        self.conv.build(tuple(input_shape[:-1]) + (h,))
        self.expand = MaskedConv2D(2 * h, 1, "B", g, name="expand",
                                   dtype=self.dtype_policy)
        self.expand.build(tuple(input_shape[:-1]) + (h,))
        if self.conditioning_features:
            self.conditioning_conv = keras.layers.Conv2D(h, 1, name="conditioning",
                                                        dtype=self.dtype_policy)
            self.conditioning_conv.build((None, None, None, self.conditioning_features))

    def call(self, inputs, conditioning=None):
        y = self.reduce(tf.nn.relu(inputs))  # (B, H, W, h)
        y = self.conv(tf.nn.relu(y))
        if self.conditioning_features:
            if conditioning is None:
                raise ValueError(f"{self.name} is conditional: call it with `conditioning`.")
            y = y + self.conditioning_conv(conditioning)
        y = self.expand(tf.nn.relu(y))  # (B, H, W, 2h)
        return inputs + y if self.residual else y

    # -- One position (incremental sampling); tested against call() in tests/test_steps.py.
    # Cache: the ReLU'd input of the k x k convolution at every earlier pixel.
    def step_cache(self, grid, batch, dtype):
        return [grid.new_cache(batch, self.units, dtype)]

    def step_begin_row(self, cache, grid, i):
        return cache

    def step_conditioning(self, conditioning):
        """The (B, H, W, h) bias map of a conditioning map, computed once per image."""
        return self.conditioning_conv(conditioning)

    def step_past(self, cache, grid, p, conditioning=None, weights=None):
        """What the earlier pixels contribute at position p: (B, h). weights:
        `step_weights()`, computed outside the sampling loop."""
        index = grid.table(past_taps((self.kernel_size, self.kernel_size)))[p]
        past = self.conv.step_past(cache[0], index,
                                   None if weights is None else weights[3])
        return past if conditioning is None else past + conditioning

    def step_at(self, past, x):
        """The block's output (B, 2h) at the pixel from its input x (B, 2h) there, and the
        values to cache at the pixel."""
        return step_all_groups(self, past, x, self.reduce.input_groups(),
                               self.expand.output_groups())

    # A colour group at a time (the sampler's per-channel steps; see masking.py).
    def step_weights(self):
        """The step's weights, sliced once per sampling run, outside the loop: per-group
        centre taps of the three convolutions, and the k x k convolution's past taps."""
        return [self.reduce.step_group_weights(), self.conv.step_group_weights(),
                self.expand.step_group_weights(), self.conv.step_past_weights()]

    def step_group(self, past, weights, x, g, carry):
        """Group g's piece of the block's output at the pixel from the input's pieces
        x[:g + 1] and `carry`, what groups < g left here (() at g = 0): (piece, carry)."""
        w_reduce, w_conv, w_expand, _ = weights
        reduced, mids = carry or ([], [])
        r = tf.nn.relu(self.reduce.step_group(w_reduce, [tf.nn.relu(p) for p in x[:g + 1]],
                                              g))  # what the conv reads
        reduced = reduced + [r]
        mid = tf.nn.relu(take_group(past, self.conv.output_groups()[g])
                         + self.conv.step_group(w_conv, reduced, g, bias=False))
        mids = mids + [mid]
        y = self.expand.step_group(w_expand, mids, g)
        return (x[g] + y if self.residual else y), (reduced, mids)

    def step_values(self, carry, x):
        """The values to cache at the pixel once every group is done."""
        return [join_groups(carry[0], self.conv.input_groups())]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kernel_size=self.kernel_size,
                      num_groups=self.num_groups, residual=self.residual,
                      conditioning_features=self.conditioning_features)
        return config
