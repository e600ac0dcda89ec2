"""DiagonalBiLSTM: the PixelRNN paper's diagonal bidirectional LSTM layer (section 3.2)."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.masking import (conditioning_map, group_index, group_major, join_groups,
                                        step_all_groups, take_group)
from pixelrnn_tf.layers.row_lstm import lstm_gates
from pixelrnn_tf.layers.skew import SkewIndex, skew_columns, unskew_columns


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalBiLSTM(keras.layers.Layer):
    """Diagonal BiLSTM: two LSTMs that sweep the image one diagonal at a time.

    Each direction skews its input-to-state map (a 1 x 1 mask-B convolution) to n x (2n - 1),
    runs a 2 x 1 column convolution of the previous diagonal's hidden state as the
    state-to-state component, and unskews. In image coordinates the left-to-right state at
    (i, j) comes from the states at (i - 1, j) and (i, j - 1), so it sees the whole quadrant
    up and to the left; the right-to-left direction (run on the width-flipped map) sees the
    quadrant up and to the right, and is shifted down one row before it is added, so together
    they see every earlier pixel and no later one. The initial state is zero.

    Both directions run in the same sweep as one batched matmul per diagonal. The skew and
    unskew are row gathers (pixelrnn_tf/layers/skew.py). At a known image size the diagonals
    are unrolled and each computes only its rows inside the image (`diagonal_lstm_bands`);
    at an unknown one a loop computes all H rows of every diagonal and zeroes the state
    outside the image, with a hand-written gradient (`diagonal_lstm_sweep`).

    Args:
        units: h, features of the hidden state (and per gate).
        num_groups: colour groups.
        conditioning_features: if > 0, `call(inputs, conditioning)` adds a 1 x 1 unmasked
            convolution of the (B, H, W, conditioning_features) map to both directions'
            input-to-state maps (Multi-Scale PixelRNN biasing).

    Input (B, H, W, F) -> output (B, H, W, units).
    """

    def __init__(self, units, num_groups=3, conditioning_features=0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.num_groups = int(num_groups)
        self.conditioning_features = int(conditioning_features)

    def build(self, input_shape):
        h = self.units
        # Both directions' four gates: 8 blocks of h, each split into colour groups.
        self.input_to_state = MaskedConv2D(
            8 * h, 1, mask_type="B", num_groups=self.num_groups, out_blocks=8,
            name="input_to_state", dtype=self.dtype_policy)
        self.input_to_state.build(input_shape)
        # Per direction, rows [0, h) weigh the state above, rows [h, 2h) the state to the left
        # (the 2 x 1 column kernel in skewed coordinates).
        self.state_to_state_kernel = self.add_weight(
            name="state_to_state_kernel", shape=(2, 2 * h, 4 * h),
            initializer="glorot_uniform")
        if self.conditioning_features:
            self.conditioning_conv = keras.layers.Conv2D(8 * h, 1, name="conditioning",
                                                        dtype=self.dtype_policy)
            self.conditioning_conv.build((None, None, None, self.conditioning_features))

    def state_to_state(self, h_prev):
        """2 x 1 column convolution of the previous diagonal: (2, B, H, h) -> (2, B, H, 4h)."""
        return _state_to_state(h_prev, tf.convert_to_tensor(self.state_to_state_kernel))

    def step(self, input_to_state_column, state):
        """One diagonal: (2, B, H, 4h) pre-activations and the (h, c) of the previous one."""
        h_prev, c_prev = state
        return lstm_gates(input_to_state_column + self.state_to_state(h_prev), c_prev)

    def call(self, inputs, conditioning=None):
        z = self.input_to_state(inputs)  # (B, H, W, 8h)
        if self.conditioning_features:
            if conditioning is None:
                raise ValueError(f"{self.name} is conditional: call it with `conditioning`.")
            z = z + self.conditioning_conv(conditioning)
        s = tf.shape(inputs)
        index = SkewIndex(s[0], s[1], s[2])
        columns = skew_columns(z, index)  # (W + H - 1, 2, B, H, 4h)
        h_static, w_static = inputs.shape[1], inputs.shape[2]
        kernel = tf.convert_to_tensor(self.state_to_state_kernel)
        if h_static is not None and w_static is not None:
            h_all = diagonal_lstm_bands(columns, kernel, h_static)
        else:  # unknown size (a signature of unknown shape): the loop over all H rows
            h_all = diagonal_lstm_sweep(columns, kernel, index.num_columns,
                                        tf.cast(index.valid, columns.dtype))
        # Row i takes the right-to-left state of row i - 1: row i's own saw pixels right of it.
        return unskew_columns(h_all, index, s[2])  # (B, H, W, h)

    # -- One position (incremental sampling); tested against call() in tests/test_steps.py.
    # In image coordinates the left-to-right state at (i, j) is updated from the cached states
    # at (i - 1, j) and (i, j - 1). The right-to-left direction, which row i only sees shifted
    # down, is computed once per completed row (`step_begin_row`) from its cached
    # input-to-state pre-activations. Caches: h and c left-to-right, z and h right-to-left.
    def step_cache(self, grid, batch, dtype):
        u = self.units
        return [grid.new_cache(batch, u, dtype), grid.new_cache(batch, u, dtype),
                grid.new_cache(batch, 4 * u, dtype), grid.new_cache(batch, u, dtype)]

    def step_begin_row(self, cache, grid, i):
        """The right-to-left states of row i - 1, now that it is complete (call at i > 0)."""
        hl, cl, zr, hr = cache
        kss = self.state_to_state_kernel[1]  # (2h, 4h)
        row = i - 1
        batch = tf.shape(zr.read(grid.zero))[0]
        zeros = tf.zeros([batch, self.units], zr.dtype)

        def body(j, h_next, c_next, hr):
            slot = grid.slot(row, j)
            # Row i - 2 is still in a 2-row ring: row i is not written yet.
            above_slot = tf.where(row > 0, grid.slot(row - 1, j), grid.zero)
            pre = zr.read(slot) + tf.matmul(tf.concat([hr.read(above_slot), h_next], -1), kss)
            h, c = lstm_gates(pre, c_next)
            return j - 1, h, c, hr.write(slot, h)

        _, _, _, hr = tf.while_loop(lambda j, *_: j >= 0, body,
                                    (tf.constant(grid.w - 1), zeros, zeros, hr))
        return [hl, cl, zr, hr]

    # The pixel step keeps the gate pre-activations group-major (`masking.group_major`): a
    # colour group's pieces of the 8 input-to-state blocks (left-to-right [o, f, i, g], then
    # right-to-left) and of the 4 state-to-state blocks are slices.
    def _input_order(self):
        return group_major(self.input_to_state.output_groups())

    def _state_order(self):
        return group_major(group_index(4 * self.units, self.num_groups, 4))

    def step_conditioning(self, conditioning):
        """The (B, H, W, 8h) bias map of a conditioning map (group-major), computed once
        per image. The 1 x 1 kernel's columns are reordered, not the map (a gather along the
        features of a batch-256 map: 1.9 thread-seconds of a plain profile)."""
        return conditioning_map(self.conditioning_conv, conditioning, self._input_order()[0])

    def step_weights(self):
        """The step's weights, sliced and ordered once per sampling run, outside the loop:
        (input-to-state bias, left-to-right state-to-state kernel, per-group centre taps)."""
        return (tf.gather(self.input_to_state.bias, self._input_order()[0]),
                tf.gather(self.state_to_state_kernel[0], self._state_order()[0], axis=-1),
                self.input_to_state.step_group_weights())

    def step_past(self, cache, grid, p, conditioning=None, weights=None):
        bias, state_kernel, _ = self.step_weights() if weights is None else weights
        hl, cl, _, hr = cache
        up = grid.table([(-1, 0)])[p][0]  # the zero slot in row 0
        left = grid.table([(0, -1)])[p][0]
        z_ss = tf.matmul(tf.concat([hl.read(up), hl.read(left)], -1), state_kernel)  # (B, 4h)
        if conditioning is not None:
            bias = bias + conditioning
        # The right-to-left map of row i - 1, computed in step_begin_row, shifted down.
        return z_ss, bias, cl.read(left), hr.read(up)

    def step_at(self, past, x):
        """The layer's output (B, h) at the pixel from its input x (B, F) there, and the
        values to cache at the pixel."""
        return step_all_groups(self, past, x, self.input_to_state.input_groups(),
                               group_index(self.units, self.num_groups))

    # A colour group at a time (the sampler's per-channel steps; see masking.py).
    def step_group(self, past, weights, x, g, carry):
        """Group g's piece of the output from the input's pieces x[:g + 1] and `carry`
        (groups < g at this pixel; () at g = 0): (piece, carry)."""
        z_ss, bias, c_left, h_right = past
        hs, cs, zrs = carry or ([], [], [])
        units = group_index(self.units, self.num_groups)[g]
        (a, b), (s0, s1) = self._input_order()[1][g], self._state_order()[1][g]
        # Group g's piece of the 8 gate blocks: left-to-right [o, f, i, g], then right-to-left.
        z = bias[..., a:b] + self.input_to_state.step_group(weights[2], x, g, bias=False)
        n = 4 * len(units)
        h, c = lstm_gates(z[:, :n] + z_ss[:, s0:s1], take_group(c_left, units))
        return h + take_group(h_right, units), (hs + [h], cs + [c], zrs + [z[:, n:]])

    def step_values(self, carry, x):
        hs, cs, zrs = carry
        units = group_index(self.units, self.num_groups)
        return [join_groups(hs, units), join_groups(cs, units),
                join_groups(zrs, group_index(4 * self.units, self.num_groups, 4))]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_groups=self.num_groups,
                      conditioning_features=self.conditioning_features)
        return config


def _shift_down(x):
    """Row r takes row r - 1 (zeros into row 0): the state 'above' in skewed coordinates."""
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def _shift_up(x):
    """The adjoint of _shift_down: row r takes row r + 1 (zeros into the last row)."""
    return tf.pad(x, [[0, 0], [0, 0], [0, 1], [0, 0]])[:, :, 1:]


def _state_to_state(h_prev, kernel):
    """(2, B, H, h) state of the previous diagonal, (2, 2h, 4h) kernel -> (2, B, H, 4h)."""
    units = kernel.shape[1] // 2
    both = tf.concat([_shift_down(h_prev), h_prev], axis=-1)  # (2, B, H, 2h)
    s = tf.shape(both)
    z = tf.matmul(tf.reshape(both, [2, -1, 2 * units]), kernel)
    return tf.reshape(z, [2, s[1], s[2], 4 * units])


def _rows(x, first, count):
    """Rows [first, first + count) of a (2, B, H, F) map: a tf.slice, whose gradient is a
    pad (a strided slice's, StridedSliceGrad, is several times slower on the CPU)."""
    return tf.slice(x, [0, 0, first, 0], [-1, -1, count, -1])


def diagonal_lstm_bands(columns, kernel, height):
    """Both directions' LSTMs over the skewed diagonals of a known image size, unrolled,
    each diagonal computing only its rows inside the image; autodiff gradient.

    columns: (T, 2, B, H, 4h) input-to-state pre-activations, T = H + W - 1 static (entries
    outside the image are never read); kernel: (2, 2h, 4h) as in `diagonal_lstm_sweep`.
    Returns the hidden states (T, 2, B, H, h), zero outside the image; zero initial state.

    Skewed column t holds image row i at i in [t - W + 1, t] (clipped to [0, H - 1]): about
    half of the T x H entries of the skewed map at H = W. `diagonal_lstm_sweep` computes all
    of them and masks; this computes the H x W inside, so the many small element-wise ops
    per diagonal (the gates, the state update) touch half the data. On the campaign's
    Diagonal BiLSTM (28 x 28, h = 16, batch 32, one thread) a training step took 0.394 s
    against 0.529 s for the sweep (README "Training speed"). The graph is T diagonals long:
    fine for the image sizes here (T = 55 at 28 x 28, 63 at 32 x 32).
    """
    num_columns = int(columns.shape[0])
    width = num_columns - height + 1
    units = kernel.shape[1] // 2
    outputs, h, c, previous = [], None, None, None
    for t, column in enumerate(tf.unstack(columns)):  # (2, B, H, 4h) each
        first, last = max(0, t - width + 1), min(height - 1, t)
        count = last - first + 1
        z = _rows(column, first, count)  # (2, B, count, 4h)
        if previous is None:  # t = 0: zero state, nothing from a previous diagonal
            c_left = tf.zeros_like(z[..., :units])
        else:
            # The previous diagonal's rows, zero-padded to rows [first - 1, last]: row i
            # reads the state above, row i - 1, and to the left, row i, of diagonal t - 1.
            top, bottom = previous[0] - (first - 1), last - previous[1]
            pad = [[0, 0], [0, 0], [top, bottom], [0, 0]]
            h_ext, c_ext = tf.pad(h, pad), tf.pad(c, pad)  # (2, B, count + 1, h)
            both = tf.concat([_rows(h_ext, 0, count), _rows(h_ext, 1, count)], axis=-1)
            s = tf.shape(both)
            z = z + tf.reshape(tf.matmul(tf.reshape(both, [2, -1, 2 * units]), kernel),
                               [2, s[1], count, 4 * units])
            c_left = _rows(c_ext, 1, count)
        h, c = lstm_gates(z, c_left)  # (2, B, count, h)
        previous = (first, last)
        outputs.append(tf.pad(h, [[0, 0], [0, 0], [first, height - 1 - last], [0, 0]]))
    return tf.stack(outputs)  # (T, 2, B, H, h)


def diagonal_lstm_sweep(columns, kernel, num_columns, valid=None):
    """Both directions' LSTMs over the skewed diagonals, with a hand-written gradient.

    columns: (T, 2, B, H, 4h) input-to-state pre-activations [o, f, i, g], one skewed column
    per step; kernel: (2, 2h, 4h) state-to-state kernel (rows [0, h) weigh the state above,
    [h, 2h) the state to the left); valid: (T, 1, 1, H, 1), 1 at pixels of the image, 0 where
    the skewed map is outside it (the state is zeroed there, whatever the columns hold), or
    None (all valid). Returns the hidden states (T, 2, B, H, h); zero initial state.

    Differentiating the while_loop accumulates the kernel gradient with one small
    (2h x B*H) x (B*H x 4h) matmul per diagonal. Here the backward sweep only carries the
    state gradients, stores each diagonal's pre-activation gradient, and forms the kernel
    gradient after the sweep as ONE large matmul over all diagonals. In whole training steps
    on the 2-core CPU this showed no consistent gain over `diagonal_lstm_sweep_autodiff`
    (README "Training speed": +26% to -8% across same-run pairs, within the machine's noise).
    Exact: checked against autodiff of a plain loop in tests/test_recurrent_layers.py.
    """
    units = kernel.shape[1] // 2
    if valid is None:
        valid = tf.ones_like(columns[:, :1, :1, :, :1])

    @tf.custom_gradient
    def sweep(columns, kernel):
        def ta(size=num_columns):
            return tf.TensorArray(columns.dtype, size=size)

        column_ta = ta().unstack(columns)
        zeros = tf.zeros_like(columns[0][..., :units])  # (2, B, H, h)
        # What the backward sweep reads, kept per step (TensorArray elements are not copied):
        # the gate activations, tanh(c), and c with c_{-1} = 0 at index 0.
        c_ta = ta(num_columns + 1).write(0, zeros)
        saved = [ta() for _ in range(5)]  # sigmoid(o), sigmoid(f), sigmoid(i), tanh(g), tanh(c)

        def body(j, h, c, h_ta, c_ta, saved):
            o, f, i, g = tf.split(column_ta.read(j) + _state_to_state(h, kernel), 4, axis=-1)
            so, sf, si, tg = tf.sigmoid(o), tf.sigmoid(f), tf.sigmoid(i), tf.tanh(g)
            c = (sf * c + si * tg) * valid[j]  # h = 0 too where c = 0
            tc = tf.tanh(c)
            h = so * tc
            saved = [t.write(j, v) for t, v in zip(saved, (so, sf, si, tg, tc))]
            return j + 1, h, c, h_ta.write(j, h), c_ta.write(j + 1, c), saved

        _, _, _, h_ta, c_ta, saved = tf.while_loop(
            lambda j, *_: j < num_columns, body,
            (tf.constant(0), zeros, zeros, ta(), c_ta, saved), maximum_iterations=num_columns)
        h_all = h_ta.stack()

        def grad(dh_all):
            dh_ta = ta().unstack(dh_all)
            kernel_t = tf.transpose(kernel, [0, 2, 1])  # (2, 4h, 2h)

            def back(j, dh_next, dc_next, dz_ta):
                so, sf, si, tg, tc = (t.read(j) for t in saved)
                dh = dh_ta.read(j) + dh_next
                dc = (dc_next + _tanh_grad(tc, dh * so)) * valid[j]
                dz = tf.concat([_sigmoid_grad(so, dh * tc),
                                _sigmoid_grad(sf, dc * c_ta.read(j)),
                                _sigmoid_grad(si, dc * tg),
                                _tanh_grad(tg, dc * si)], axis=-1)  # (2, B, H, 4h)
                s = tf.shape(dz)
                dboth = tf.reshape(tf.matmul(tf.reshape(dz, [2, -1, 4 * units]), kernel_t),
                                   [2, s[1], s[2], 2 * units])  # (2, B, H, 2h)
                dh_prev = _shift_up(dboth[..., :units]) + dboth[..., units:]
                return j - 1, dh_prev, dc * sf, dz_ta.write(j, dz)

            _, _, _, dz_ta = tf.while_loop(
                lambda j, *_: j >= 0, back, (num_columns - 1, zeros, zeros, ta()),
                maximum_iterations=num_columns)
            dz_all = dz_ta.stack()  # (T, 2, B, H, 4h) = the gradient of `columns`
            # The states each diagonal read: step j's is step j - 1's output (zeros at j = 0).
            h_prev_all = tf.concat([zeros[None], h_all[:-1]], axis=0)
            s = tf.shape(h_prev_all)
            h_prev_all = tf.reshape(tf.transpose(h_prev_all, [1, 0, 2, 3, 4]),
                                    [2, s[0] * s[2], s[3], units])  # (2, T * B, H, h)
            both = tf.concat([_shift_down(h_prev_all), h_prev_all], axis=-1)
            dz_flat = tf.reshape(tf.transpose(dz_all, [1, 0, 2, 3, 4]), [2, -1, 4 * units])
            dkernel = tf.matmul(tf.reshape(both, [2, -1, 2 * units]), dz_flat,
                                transpose_a=True)  # (2, 2h, 4h)
            return dz_all, dkernel

        return h_all, grad

    return sweep(columns, kernel)


def diagonal_lstm_sweep_autodiff(columns, kernel, num_columns, valid=None):
    """diagonal_lstm_sweep left to autodiff: the same loop and result, differentiated by TF.

    Kept as the reference that `python -m pixelrnn_tf.bench train` times side by side with
    the hand-written gradient, and that the tests compare it with.
    """
    units = kernel.shape[1] // 2
    column_ta = tf.TensorArray(columns.dtype, size=num_columns).unstack(columns)
    zeros = tf.zeros_like(columns[0][..., :units])  # (2, B, H, h)

    def body(j, h, c, h_ta):
        h, c = lstm_gates(column_ta.read(j) + _state_to_state(h, kernel), c)
        if valid is not None:
            h, c = h * valid[j], c * valid[j]
        return j + 1, h, c, h_ta.write(j, h)

    _, _, _, h_ta = tf.while_loop(
        lambda j, *_: j < num_columns, body,
        (tf.constant(0), zeros, zeros, tf.TensorArray(columns.dtype, size=num_columns)),
        maximum_iterations=num_columns)
    return h_ta.stack()


def _sigmoid_grad(y, dy):
    """dy * y * (1 - y) in one kernel, y = sigmoid(x)."""
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def _tanh_grad(y, dy):
    """dy * (1 - y^2) in one kernel, y = tanh(x)."""
    return tf.raw_ops.TanhGrad(y=y, dy=dy)
