"""RowLSTM: the PixelRNN paper's row-by-row LSTM layer (section 3.1)."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.masking import (conditioning_map, group_index, group_major, join_groups,
                                        step_all_groups, take_group)


def lstm_gates(z, c_prev):
    """The LSTM core of the paper's Equation 3 from pre-activations z = [o, f, i, g]."""
    o, f, i, g = tf.split(z, 4, axis=-1)
    c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
    h = tf.sigmoid(o) * tf.tanh(c)
    return h, c


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RowLSTM(keras.layers.Layer):
    """Row LSTM: one LSTM step computes a whole row from the row above.

    input-to-state: a 1 x k convolution along the row with mask B, computed once for the whole
    map (it sees the current pixel's own and earlier colour groups and the pixels to its left).
    state-to-state: an unmasked 1 x k convolution of the previous row's hidden state.
    The context of a pixel is the triangle above it. The initial (h, c) are learned.

    Args:
        units: h, features of the hidden state (and per gate).
        kernel_size: k >= 3 (odd), width of both convolutions.
        num_groups: colour groups.
        conditioning_features: if > 0, `call(inputs, conditioning)` takes a (B, H, W,
            conditioning_features) map and adds its 1 x 1 unmasked convolution to the
            input-to-state map (Multi-Scale PixelRNN biasing).

    Input (B, H, W, F) -> output (B, H, W, units).
    """

    def __init__(self, units, kernel_size=3, num_groups=3, conditioning_features=0, **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"RowLSTM kernel_size must be odd and >= 3, got {kernel_size}.")
        self.units = int(units)
        self.kernel_size = int(kernel_size)
        self.num_groups = int(num_groups)
        self.conditioning_features = int(conditioning_features)

    def build(self, input_shape):
        h = self.units
        self.input_to_state = MaskedConv2D(
            4 * h, (1, self.kernel_size), mask_type="B", num_groups=self.num_groups,
            out_blocks=4, name="input_to_state", dtype=self.dtype_policy)
        self.input_to_state.build(input_shape)
        # One fused (k*h, 4h) matrix: a single matmul per row step for all four gates.
        self.state_to_state_kernel = self.add_weight(
            name="state_to_state_kernel", shape=(self.kernel_size, h, 4 * h),
            initializer="glorot_uniform")
        self.initial_h = self.add_weight(name="initial_h", shape=(h,), initializer="zeros")
        self.initial_c = self.add_weight(name="initial_c", shape=(h,), initializer="zeros")
        if self.conditioning_features:
            self.conditioning_conv = keras.layers.Conv2D(4 * h, 1, name="conditioning",
                                                        dtype=self.dtype_policy)
            self.conditioning_conv.build((None, None, None, self.conditioning_features))

    def state_to_state(self, h_prev):
        """Unmasked 1 x k convolution along the row: (B, W, h) -> (B, W, 4h)."""
        return tf.nn.conv1d(h_prev, self.state_to_state_kernel, stride=1, padding="SAME")

    def step(self, input_to_state_row, state):
        """One recurrent step: row i's (B, W, 4h) pre-activations and (h, c) of row i-1."""
        h_prev, c_prev = state
        z = input_to_state_row + self.state_to_state(h_prev)
        return lstm_gates(z, c_prev)

    def call(self, inputs, conditioning=None):
        z_is = self.input_to_state(inputs)  # (B, H, W, 4h)
        if self.conditioning_features:
            if conditioning is None:
                raise ValueError(f"{self.name} is conditional: call it with `conditioning`.")
            z_is = z_is + self.conditioning_conv(conditioning)
        batch, width = tf.shape(inputs)[0], tf.shape(inputs)[2]
        h0 = tf.broadcast_to(self.initial_h, [batch, width, self.units])
        c0 = tf.broadcast_to(self.initial_c, [batch, width, self.units])
        if inputs.shape[1] is not None:
            return self._rows_unrolled(z_is, h0, c0)
        return self._rows_loop(z_is, h0, c0)

    def _rows_unrolled(self, z_is, h0, c0):
        """A known row count: the rows unrolled. A while_loop's gradient materialized zeros
        for its whole (H, B, W, 4h) input TensorArray, which it passes through unchanged (one
        ZerosLike per layer: a fifth of the campaign's Row LSTM step); unrolled, the step is
        faster (README "Training speed"). The same values as `_rows_loop`."""
        h, c, outputs = h0, c0, []
        for row in tf.unstack(z_is, axis=1):  # (B, W, 4h) each
            h, c = self.step(row, (h, c))
            outputs.append(h)
        return tf.stack(outputs, axis=1)  # (B, H, W, h)

    def _rows_loop(self, z_is, h0, c0):
        """Unknown height (a signature of unknown shape): a loop that reads the rows from a
        TensorArray (the gradient of indexing a captured tensor inside the loop would add a
        full-size dense tensor at every step)."""
        height = tf.shape(z_is)[1]
        rows = tf.transpose(z_is, [1, 0, 2, 3])  # (H, B, W, 4h)
        row_ta = tf.TensorArray(z_is.dtype, size=height).unstack(rows)
        outputs = tf.TensorArray(z_is.dtype, size=height)

        def body(i, h, c, outputs):
            h, c = self.step(row_ta.read(i), (h, c))
            return i + 1, h, c, outputs.write(i, h)

        _, _, _, outputs = tf.while_loop(
            lambda i, *_: i < height, body, (tf.constant(0), h0, c0, outputs),
            maximum_iterations=height)
        return tf.transpose(outputs.stack(), [1, 0, 2, 3])  # (B, H, W, h)

    # -- One position (incremental sampling); tested against call() in tests/test_steps.py.
    # Caches: the layer's input (for the masked 1 x k input-to-state taps to the left), and
    # the hidden / cell state of every pixel, so the state-to-state 1 x k convolution of
    # row i - 1 is a gather of k cached vectors; row -1 is the learned initial state. The
    # step keeps the 4h gate pre-activations group-major (`masking.group_major`): a colour
    # group's [o, f, i, g] pieces are a slice.
    def _gate_order(self):
        return group_major(self.input_to_state.output_groups())

    def step_cache(self, grid, batch, dtype):
        return [grid.new_cache(batch, self.input_to_state.kernel.shape[-2], dtype),
                grid.new_cache(batch, self.units, dtype, self.initial_h),
                grid.new_cache(batch, self.units, dtype, self.initial_c)]

    def step_begin_row(self, cache, grid, i):
        return cache

    def step_conditioning(self, conditioning):
        """The (B, H, W, 4h) bias map of a conditioning map (group-major), computed once
        per image. The 1 x 1 kernel's columns are reordered, not the map (a gather along the
        features of a batch-256 map: 1.9 thread-seconds of a plain profile)."""
        return conditioning_map(self.conditioning_conv, conditioning, self._gate_order()[0])

    def step_weights(self):
        """The step's weights, sliced and ordered once per sampling run, outside the loop:
        (input-to-state past taps and bias, state-to-state kernel, per-group centre taps)."""
        order = self._gate_order()[0]
        return (self.input_to_state.step_past_weights(order),
                tf.gather(tf.convert_to_tensor(self.state_to_state_kernel), order, axis=-1),
                self.input_to_state.step_group_weights())

    def step_past(self, cache, grid, p, conditioning=None, weights=None):
        """What the earlier pixels contribute at position p: the (B, 4h) pre-activations but
        the current pixel's input tap (group-major), and the cell state above."""
        past_weights, state_kernel, _ = self.step_weights() if weights is None else weights
        a_cache, h_cache, c_cache = cache
        half = self.kernel_size // 2
        left = grid.table([(0, d) for d in range(-half, 0)])[p]
        above = grid.table([(-1, d) for d in range(-half, half + 1)], outside=grid.init)[p]
        cell = grid.table([(-1, 0)], outside=grid.init)[p][0]
        z = self.input_to_state.step_past(a_cache, left, past_weights)  # (B, 4h)
        z += tf.einsum("kbh,khg->bg", h_cache.gather(above), state_kernel)
        if conditioning is not None:
            z += conditioning
        return z, c_cache.read(cell)

    def step_at(self, past, x):
        """The hidden state (B, h) at the pixel from the layer's input x (B, F) there, and
        the values to cache at the pixel."""
        return step_all_groups(self, past, x, self.input_to_state.input_groups(),
                               group_index(self.units, self.num_groups))

    # A colour group at a time (the sampler's per-channel steps; see masking.py).
    def step_group(self, past, weights, x, g, carry):
        """Group g's piece of the hidden state from the input's pieces x[:g + 1] and
        `carry` (groups < g at this pixel; () at g = 0): (piece, carry)."""
        z, c_prev = past
        hs, cs = carry or ([], [])
        a, b = self._gate_order()[1][g]
        z = z[:, a:b] + self.input_to_state.step_group(weights[2], x, g,
                                                       bias=False)  # (B, 4|g|)
        h, c = lstm_gates(z, take_group(c_prev, group_index(self.units, self.num_groups)[g]))
        return h, (hs + [h], cs + [c])

    def step_values(self, carry, x):
        units = group_index(self.units, self.num_groups)
        return [join_groups(x, self.input_to_state.input_groups()),
                join_groups(carry[0], units), join_groups(carry[1], units)]

    # Keras 3 matches the arguments of compute_output_shape to call()'s by a `_shape` suffix:
    # `inputs_shape`, not `input_shape`, or the symbolic call (keras.Input) fails.
    def compute_output_shape(self, inputs_shape, conditioning_shape=None):
        return tuple(inputs_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kernel_size=self.kernel_size,
                      num_groups=self.num_groups,
                      conditioning_features=self.conditioning_features)
        return config
