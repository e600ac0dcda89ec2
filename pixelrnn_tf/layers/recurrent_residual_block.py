"""RecurrentResidualBlock: the PixelRNN LSTM residual block of the paper's Figure 5 (right)."""

import keras

from pixelrnn_tf.layers.diagonal_bilstm import DiagonalBiLSTM
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.masking import step_all_groups
from pixelrnn_tf.layers.row_lstm import RowLSTM

RECURRENT_KINDS = ("row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RecurrentResidualBlock(keras.layers.Layer):
    """2h -> LSTM layer (h per gate, h out) -> 1 x 1 mask-B conv (2h) -> + input.

    Args:
        units: h. The block's input and output have 2h features.
        kind: "row_lstm" or "diagonal_bilstm".
        kernel_size: k of the Row LSTM's convolutions (ignored by the Diagonal BiLSTM).
        num_groups: colour groups.
        residual: add the input to the output. The paper's 64x64 ImageNet model has none.
        conditioning_features: passed to the LSTM layer (Multi-Scale biasing).
    """

    def __init__(self, units, kind="row_lstm", kernel_size=3, num_groups=3, residual=True,
                 conditioning_features=0, **kwargs):
        super().__init__(**kwargs)
        if kind not in RECURRENT_KINDS:
            raise ValueError(f"kind must be one of {RECURRENT_KINDS}, got {kind!r}.")
        self.units = int(units)
        self.kind = kind
        self.kernel_size = int(kernel_size)
        self.num_groups = int(num_groups)
        self.residual = bool(residual)
        self.conditioning_features = int(conditioning_features)

    def build(self, input_shape):
        h, g = self.units, self.num_groups
        if self.residual and int(input_shape[-1]) != 2 * h:
            raise ValueError(f"{self.name}: a residual block needs {2 * h} input features, "
                             f"got {input_shape[-1]}.")
        if self.kind == "row_lstm":
            self.lstm = RowLSTM(h, self.kernel_size, g, self.conditioning_features, name="lstm",
                               dtype=self.dtype_policy)
        else:
            self.lstm = DiagonalBiLSTM(h, g, self.conditioning_features, name="lstm",
                                      dtype=self.dtype_policy)
        self.lstm.build(input_shape)
        self.expand = MaskedConv2D(2 * h, 1, "B", g, name="expand",
                                   dtype=self.dtype_policy)
        self.expand.build(tuple(input_shape[:-1]) + (h,))

    def call(self, inputs, conditioning=None):
        y = self.expand(self.lstm(inputs, conditioning))  # (B, H, W, 2h)
        return inputs + y if self.residual else y

    # -- One position (incremental sampling): the LSTM layer's step, then expand.
    def step_cache(self, grid, batch, dtype):
        return self.lstm.step_cache(grid, batch, dtype)

    def step_begin_row(self, cache, grid, i):
        return self.lstm.step_begin_row(cache, grid, i)

    def step_conditioning(self, conditioning):
        return self.lstm.step_conditioning(conditioning)

    def step_past(self, cache, grid, p, conditioning=None, weights=None):
        return self.lstm.step_past(cache, grid, p, conditioning,
                                   None if weights is None else weights[0])

    def step_at(self, past, x):
        return step_all_groups(self, past, x, self.lstm.input_to_state.input_groups(),
                               self.expand.output_groups())

    # A colour group at a time (the sampler's per-channel steps; see masking.py).
    def step_weights(self):
        return [self.lstm.step_weights(), self.expand.step_group_weights()]

    def step_group(self, past, weights, x, g, carry):
        w_lstm, w_expand = weights
        lstm_carry, hs = carry or ((), [])
        h, lstm_carry = self.lstm.step_group(past, w_lstm, x, g, lstm_carry)
        hs = hs + [h]
        y = self.expand.step_group(w_expand, hs, g)  # (B, |group g| of 2h)
        return (x[g] + y if self.residual else y), (lstm_carry, hs)

    def step_values(self, carry, x):
        return self.lstm.step_values(carry[0], x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kind=self.kind, kernel_size=self.kernel_size,
                      num_groups=self.num_groups, residual=self.residual,
                      conditioning_features=self.conditioning_features)
        return config
