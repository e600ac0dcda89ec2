"""DiagonalBiLSTM: the PixelRNN paper's diagonal bidirectional LSTM layer (section 3.2)."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.row_lstm import lstm_gates
from pixelrnn_tf.layers.skew import skew, unskew


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

    Both directions run in the same loop as one batched matmul per diagonal.

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
            name="input_to_state")
        self.input_to_state.build(input_shape)
        # Per direction, rows [0, h) weigh the state above, rows [h, 2h) the state to the left
        # (the 2 x 1 column kernel in skewed coordinates).
        self.state_to_state_kernel = self.add_weight(
            name="state_to_state_kernel", shape=(2, 2 * h, 4 * h),
            initializer="glorot_uniform")
        if self.conditioning_features:
            self.conditioning_conv = keras.layers.Conv2D(8 * h, 1, name="conditioning")
            self.conditioning_conv.build((None, None, None, self.conditioning_features))

    def state_to_state(self, h_prev):
        """2 x 1 column convolution of the previous diagonal: (2, B, H, h) -> (2, B, H, 4h)."""
        above = tf.pad(h_prev, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]
        both = tf.concat([above, h_prev], axis=-1)  # (2, B, H, 2h)
        s = tf.shape(both)
        z = tf.matmul(tf.reshape(both, [2, -1, 2 * self.units]), self.state_to_state_kernel)
        return tf.reshape(z, [2, s[1], s[2], 4 * self.units])

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
        width = tf.shape(inputs)[2]
        left, right = tf.split(z, 2, axis=-1)
        # Zero padding from the skew keeps the state exactly zero left of each row's start.
        z = tf.stack([skew(left), skew(tf.reverse(right, [2]))])  # (2, B, H, W + H - 1, 4h)
        columns = tf.transpose(z, [3, 0, 1, 2, 4])  # (W + H - 1, 2, B, H, 4h)
        h_static, w_static = inputs.shape[1], inputs.shape[2]
        # A static trip count when known: XLA needs it to differentiate the loop.
        num_columns = (h_static + w_static - 1 if h_static is not None and w_static is not None
                       else tf.shape(columns)[0])
        zeros = tf.zeros_like(columns[0][..., : self.units])
        # Read the columns from a TensorArray: the gradient of indexing a captured tensor
        # inside the loop would add a full-size dense tensor at every step.
        column_ta = tf.TensorArray(z.dtype, size=num_columns).unstack(columns)
        outputs = tf.TensorArray(z.dtype, size=num_columns)

        def body(j, h, c, outputs):
            h, c = self.step(column_ta.read(j), (h, c))
            return j + 1, h, c, outputs.write(j, h)

        _, _, _, outputs = tf.while_loop(
            lambda j, *_: j < num_columns, body, (tf.constant(0), zeros, zeros, outputs),
            maximum_iterations=num_columns)
        h_all = tf.transpose(outputs.stack(), [1, 2, 3, 0, 4])  # (2, B, H, W + H - 1, h)
        left = unskew(h_all[0], width)
        right = tf.reverse(unskew(h_all[1], width), [2])
        # Row i of the right-to-left map saw pixels right of it in row i: use row i - 1's.
        right = tf.pad(right, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        return left + right

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_groups=self.num_groups,
                      conditioning_features=self.conditioning_features)
        return config
