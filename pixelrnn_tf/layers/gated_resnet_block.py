"""GatedResNetBlock: the residual block of PixelCNN++ (Salimans et al. 2017, Figure 2)."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers import seeded_dropout
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D

CONVOLUTIONS = {"down_shifted": DownShiftedConv2D, "down_right_shifted": DownRightShiftedConv2D}
DEFAULT_KERNELS = {"down_shifted": (2, 3), "down_right_shifted": (2, 2)}


def concat_elu(x):
    """elu([x, -x]) on the last axis, (..., F) -> (..., 2F): the paper's non-linearity, which
    keeps the information of both signs."""
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


# name -> (function, output features per input feature). PixelCNN++ uses concat_elu; the
# PixelSNAIL paper's code trains with plain elu (its --resnet_nonlinearity default).
NONLINEARITIES = {"concat_elu": (concat_elu, 2), "elu": (tf.nn.elu, 1)}


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class GatedResNetBlock(keras.layers.Layer):
    """x + a * sigmoid(b) with [a, b] = conv2(dropout(concat_elu(conv1(concat_elu(x))
    + nin(concat_elu(aux))))), the paper's gated_resnet (`nonlinearity="elu"`: elu in place
    of concat_elu, as PixelSNAIL's code).

    The convolutions are DownShiftedConv2D (the vertical stream u) or DownRightShiftedConv2D
    (the horizontal stream ul) of F features (F = the input's), so the block is as causal as
    its input: output (i, j) sees what x and aux see at (i, j) and above / to the left.

    aux: an optional auxiliary input at the same resolution, through a 1 x 1 convolution (the
    paper's short-cut connections: u into ul, and every up-pass output into the matching
    down-pass block). Pass the block [x, aux] instead of x; whether it has one is decided by
    the input shape it is built with.

    Dropout (`dropout_rate`) acts on the residual path after the first convolution, in
    training only. A conditioning vector (B, D) is projected into the gate (as the paper's
    class-conditional model does). No weight normalization: the second convolution starts at
    a tenth of the usual variance instead, standing in for the paper's init_scale=0.1, so a
    deep stack starts close to the identity.

    Args:
        conv_type: "down_shifted" or "down_right_shifted".
        kernel_size: of both convolutions; default (2, 3) down-shifted, (2, 2) down-right.
        dropout_rate: in [0, 1).
        conditioning_dim: D, features of the conditioning vector (0: unconditional).
        nonlinearity: "concat_elu" (default, PixelCNN++) or "elu" (PixelSNAIL); a 1 x 1
            kernel_size with conv_type "down_right_shifted" gives the paper's gated_resnet
            with conv=nin.

    Input x (B, H, W, F) or [x, aux (B, H, W, A)]; output (B, H, W, F).
    """

    def __init__(self, conv_type="down_shifted", kernel_size=None, dropout_rate=0.0,
                 conditioning_dim=0, nonlinearity="concat_elu", **kwargs):
        super().__init__(**kwargs)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got "
                             f"{nonlinearity!r}.")
        if conv_type not in CONVOLUTIONS:
            raise ValueError(f"conv_type must be one of {sorted(CONVOLUTIONS)}, got "
                             f"{conv_type!r}.")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}.")
        self.conv_type = conv_type
        self.kernel_size = tuple(kernel_size or DEFAULT_KERNELS[conv_type])
        self.dropout_rate = float(dropout_rate)
        self.conditioning_dim = int(conditioning_dim)
        self.nonlinearity = nonlinearity

    def build(self, input_shape):
        has_aux = isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple))
        x_shape, aux_shape = (input_shape if has_aux else (input_shape, None))
        features = int(x_shape[-1])
        conv = CONVOLUTIONS[self.conv_type]
        prefix = tuple(x_shape[:-1])
        widen = NONLINEARITIES[self.nonlinearity][1]  # concat_elu doubles the features
        self.conv_1 = conv(features, self.kernel_size, name="conv_1", dtype=self.dtype_policy)
        self.conv_1.build(prefix + (widen * features,))
        self.conv_2 = conv(2 * features, self.kernel_size, name="conv_2", dtype=self.dtype_policy,
                           kernel_initializer=keras.initializers.VarianceScaling(
                               0.1, "fan_avg", "uniform"))
        self.conv_2.build(prefix + (widen * features,))
        self.aux_kernel = None
        if aux_shape is not None:
            # No bias: conv_1 has one.
            self.aux_kernel = self.add_weight(name="aux_kernel",
                                              shape=(widen * int(aux_shape[-1]), features))
        if self.conditioning_dim:
            self.conditioning_kernel = self.add_weight(
                name="conditioning_kernel", shape=(self.conditioning_dim, 2 * features))

    def call(self, inputs, conditioning=None, training=None):
        x, aux = inputs if isinstance(inputs, (list, tuple)) else (inputs, None)
        if (aux is None) != (self.aux_kernel is None):
            built = "without" if self.aux_kernel is None else "with"
            raise ValueError(f"{self.name} was built {built} an auxiliary input: pass it the "
                             "same way.")
        if self.conditioning_dim and conditioning is None:
            raise ValueError(f"{self.name} is conditional: pass conditioning (B, "
                             f"{self.conditioning_dim}).")
        nonlinearity = NONLINEARITIES[self.nonlinearity][0]
        c1 = self.conv_1(nonlinearity(x))  # (B, H, W, F)
        if aux is not None:
            c1 = c1 + tf.einsum("bhwa,af->bhwf", nonlinearity(aux), self.aux_kernel)
        c1 = nonlinearity(c1)  # (B, H, W, 2F) with concat_elu, (B, H, W, F) with elu
        if training and self.dropout_rate > 0:
            c1 = seeded_dropout.dropout(c1, self.dropout_rate)
        c2 = self.conv_2(c1)  # (B, H, W, 2F)
        if self.conditioning_dim:
            c2 = c2 + tf.matmul(tf.cast(conditioning, c2.dtype),
                                self.conditioning_kernel)[:, None, None]
        a, b = tf.split(c2, 2, axis=-1)
        return x + a * tf.sigmoid(b)

    # One-position steps (incremental sampling), next to `call`: a "down_shifted" block is
    # stepped a row at a time (its row i needs rows <= i of its input only), a
    # "down_right_shifted" one a pixel at a time. Same arguments as `call` at one row (B, W,
    # F) or one pixel (B, F); no dropout (sampling is inference).

    def _gate(self, c2, conditioning):
        if self.conditioning_dim:
            c2 = c2 + tf.matmul(tf.cast(conditioning, c2.dtype), self.conditioning_kernel)
        a, b = tf.split(c2, 2, axis=-1)
        return a * tf.sigmoid(b)

    def step_cache(self, batch, width, dtype):
        """Both convolutions' input caches: row steps keep the kh - 1 rows above (B, kh - 1,
        W, F'), pixel steps the convolutions' pixel caches (step_cache of the conv)."""
        # Both convolutions read nonlinearity(F features): x, and conv_1's output.
        f_in = NONLINEARITIES[self.nonlinearity][1] * self.conv_1.filters
        if self.conv_type == "down_shifted":
            rows = tf.zeros([batch, self.kernel_size[0] - 1, width, f_in], dtype)
            return rows, rows
        if self.kernel_size == (1, 1):
            return ()  # pointwise: nothing earlier is read
        # Plus each convolution's contribution of the rows above (step_begin_row), per column
        # (W, B, filters): zeros for row 0 (above the image); and each convolution's kernel
        # taps, sliced here, outside the sampling loops (see DownShiftedConv2D.step_taps).
        return (self.conv_1.step_cache(batch, width, f_in, dtype),
                self.conv_2.step_cache(batch, width, f_in, dtype),
                tf.zeros([width, batch, self.conv_1.filters], dtype),
                tf.zeros([width, batch, self.conv_2.filters], dtype),
                self.conv_1.step_taps(), self.conv_2.step_taps())

    def step_begin_row(self, cache, i):
        """The cache of a "down_right_shifted" block at the start of row i (before its pixel
        (i, 0); at row 0 it leaves the zeros): what the rows above contribute to each of its
        convolutions, for the whole row at once; the pixel steps then read their own row."""
        if self.conv_type == "down_shifted" or self.kernel_size == (1, 1):
            return cache
        cache_1, cache_2, _, _, taps_1, taps_2 = cache
        return (cache_1, cache_2, self.conv_1.step_above(cache_1, i, taps_1),
                self.conv_2.step_above(cache_2, i, taps_2), taps_1, taps_2)

    def _aux(self, aux, equation):
        if (aux is None) != (self.aux_kernel is None):
            built = "without" if self.aux_kernel is None else "with"
            raise ValueError(f"{self.name} was built {built} an auxiliary input: pass it the "
                             "same way.")
        if aux is None:
            return 0.0
        return tf.einsum(equation, NONLINEARITIES[self.nonlinearity][0](aux), self.aux_kernel)

    def step_row(self, cache, x, aux=None, conditioning=None):
        """(cache, x row (B, W, F)) -> (cache, output row (B, W, F)), for "down_shifted"."""
        nonlinearity = NONLINEARITIES[self.nonlinearity][0]
        cache_1, cache_2 = cache
        rows_1 = tf.concat([cache_1, nonlinearity(x)[:, None]], axis=1)  # (B, kh, W, F')
        c1 = self.conv_1.step_row(rows_1) + self._aux(aux, "bwa,af->bwf")
        rows_2 = tf.concat([cache_2, nonlinearity(c1)[:, None]], axis=1)
        out = x + self._gate(self.conv_2.step_row(rows_2), conditioning[:, None]
                             if self.conditioning_dim else None)
        return (rows_1[:, 1:], rows_2[:, 1:]), out

    def step_pixel(self, cache, i, j, x, aux=None, conditioning=None):
        """(cache, x (B, F) at (i, j)) -> (cache, output (B, F)), for "down_right_shifted"
        (any kernel; a 1 x 1 one reads no cache). Pixels in raster order, with
        `step_begin_row` before the first pixel of every row (optional at row 0)."""
        nonlinearity = NONLINEARITIES[self.nonlinearity][0]
        x_in = nonlinearity(x)
        pointwise = self.kernel_size == (1, 1)
        if pointwise:
            c1 = tf.matmul(x_in, self.conv_1.kernel[0, 0]) + self.conv_1.bias
        else:
            _, _, above_1, above_2, taps_1, taps_2 = cache
            cache_1 = self.conv_1.step_write(cache[0], i, j, x_in)
            c1 = self.conv_1.step_window(cache_1, i, j, above_1, taps_1)
        c1 = nonlinearity(c1 + self._aux(aux, "ba,af->bf"))  # (B, F')
        if pointwise:
            c2 = tf.matmul(c1, self.conv_2.kernel[0, 0]) + self.conv_2.bias
        else:
            cache_2 = self.conv_2.step_write(cache[1], i, j, c1)
            c2 = self.conv_2.step_window(cache_2, i, j, above_2, taps_2)
            cache = (cache_1, cache_2, above_1, above_2, taps_1, taps_2)
        return cache, x + self._gate(c2, conditioning)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(conv_type=self.conv_type, kernel_size=self.kernel_size,
                      dropout_rate=self.dropout_rate, conditioning_dim=self.conditioning_dim,
                      nonlinearity=self.nonlinearity)
        return config
