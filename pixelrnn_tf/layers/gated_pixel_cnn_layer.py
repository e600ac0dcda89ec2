"""GatedPixelCNNLayer: one layer of the Gated PixelCNN (van den Oord et al. 2016, Figure 2)."""

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf.layers import seeded_dropout
from pixelrnn_tf.layers.masking import causal_mask, channel_groups
from pixelrnn_tf.layers.shifts import down_shift


def gate(x):
    """tanh(f) * sigmoid(g) of the two halves of the last axis: (..., 2h) -> (..., h)."""
    f, g = tf.split(x, 2, axis=-1)
    return tf.tanh(f) * tf.sigmoid(g)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class GatedPixelCNNLayer(keras.layers.Layer):
    """A vertical and a horizontal stack with gated activations, optionally conditional.

    Vertical stack: a (k//2 + 1) x k convolution over rows i - k//2 .. i (all k columns),
    so its output at row i depends on rows <= i only. It is only ever read one row lower
    (by the horizontal stack, and by the next vertical layer, which only feeds horizontal
    stacks through the same shift), so no colour masks are needed and there is no blind spot.

    Horizontal stack: a 1 x (k//2 + 1) convolution over columns j - k//2 .. j of row i, with
    the colour-group mask at the current pixel (A in the first layer, B after), plus a 1 x 1
    convolution of the vertical pre-activation shifted down one row, then the gate, a 1 x 1
    mask-B convolution and (not in the first layer, whose input is the image) a residual.

    The gate features (2h) are two blocks (f, g), each split into colour groups on its own,
    so f and g of unit u are in the group of unit u. A conditioning vector (B, D) is
    projected into every gate of both stacks.

    Args:
        units: h, features of each stack's output.
        kernel_size: k (odd, >= 3).
        mask_type: "A" (first layer) or "B".
        num_groups: colour groups (3 for RGB, 1 for grey/binary images).
        residual: add the horizontal input to its output (needs `units` input features).
        conditioning_dim: D, features of the conditioning vector (0: unconditional).
        vertical_output: compute the vertical stack's gated output. False in a network's last
            layer: only its horizontal output is read, and a gate nobody reads would hold
            conditioning weights that never get a gradient.
        dropout_rate: in [0, 1); dropout on the horizontal stack's gate output (its residual
            path, as PixelCNN++'s gated_resnet), in training only. Element-wise, so it keeps
            the masks' causality; the paper has none (0), the campaign's follow-up uses it
            against overfitting.

    Input: [vertical (B, H, W, Fv), horizontal (B, H, W, Fh)]. Output: [vertical (B, H, W, h),
    horizontal (B, H, W, h)], or horizontal alone if not vertical_output.
    """

    def __init__(self, units, kernel_size=3, mask_type="B", num_groups=3, residual=True,
                 conditioning_dim=0, vertical_output=True, dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 == 0 or kernel_size < 3:
            raise ValueError(f"kernel_size must be odd and >= 3, got {kernel_size}.")
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}.")
        self.units = int(units)
        self.kernel_size = int(kernel_size)
        self.mask_type = mask_type
        self.num_groups = int(num_groups)
        self.residual = bool(residual)
        self.conditioning_dim = int(conditioning_dim)
        self.vertical_output = bool(vertical_output)
        self.dropout_rate = float(dropout_rate)

    def build(self, input_shape):
        v_shape, h_shape = input_shape
        v_in, h_in = int(v_shape[-1]), int(h_shape[-1])
        k, half, h2 = self.kernel_size, self.kernel_size // 2, 2 * self.units
        if self.residual and h_in != self.units:
            raise ValueError(f"{self.name}: a residual layer needs {self.units} horizontal "
                             f"input features, got {h_in}.")
        self.vertical_kernel = self.add_weight(name="vertical_kernel",
                                               shape=(half + 1, k, v_in, h2))
        self.vertical_bias = self.add_weight(name="vertical_bias", shape=(h2,),
                                             initializer="zeros")
        # No bias: the horizontal convolution has one, and row 0 (no row above) gets zero.
        self.link_kernel = self.add_weight(name="link_kernel", shape=(h2, h2))
        self.horizontal_kernel = self.add_weight(name="horizontal_kernel",
                                                 shape=(1, half + 1, h_in, h2))
        self.horizontal_bias = self.add_weight(name="horizontal_bias", shape=(h2,),
                                               initializer="zeros")
        self.output_kernel = self.add_weight(name="output_kernel", shape=(self.units, self.units))
        self.output_bias = self.add_weight(name="output_bias", shape=(self.units,),
                                           initializer="zeros")
        if self.conditioning_dim and self.vertical_output:
            self.vertical_conditioning = self.add_weight(
                name="vertical_conditioning", shape=(self.conditioning_dim, h2))
        if self.conditioning_dim:
            self.horizontal_conditioning = self.add_weight(
                name="horizontal_conditioning", shape=(self.conditioning_dim, h2))
        # Constants of the config, rebuilt on load (see MaskedConv2D). The 1 x k causal mask
        # zeroes the taps right of the centre: keep its left half and centre only.
        with tf.init_scope():
            self.horizontal_mask = tf.constant(causal_mask(
                (1, k), h_in, h2, self.num_groups, self.mask_type, out_blocks=2)[:, :half + 1])
            self.output_mask = tf.constant(causal_mask(
                (1, 1), self.units, self.units, self.num_groups, "B")[0, 0])

    # The masks in the kernels' dtype (see MaskedConv2D.masked_kernel).
    def masked_horizontal_kernel(self):
        kernel = tf.convert_to_tensor(self.horizontal_kernel)
        return kernel * tf.cast(self.horizontal_mask, kernel.dtype)  # (1, k//2 + 1, Fh, 2h)

    def masked_output_kernel(self):
        kernel = tf.convert_to_tensor(self.output_kernel)
        return kernel * tf.cast(self.output_mask, kernel.dtype)  # (h, h)

    def conditioning_biases(self, conditioning):
        """Per-gate biases (B, 2h) of the vertical and horizontal stacks, or (0, 0); the
        vertical one is 0 without a vertical output."""
        if not self.conditioning_dim or conditioning is None:
            return 0.0, 0.0
        vertical = (tf.matmul(conditioning, self.vertical_conditioning)
                    if self.vertical_output else 0.0)
        return vertical, tf.matmul(conditioning, self.horizontal_conditioning)

    def call(self, inputs, conditioning=None, training=None):
        v, h = inputs
        half = self.kernel_size // 2
        if self.conditioning_dim and conditioning is None:
            raise ValueError(f"{self.name} is conditional: pass conditioning (B, "
                             f"{self.conditioning_dim}).")
        cond_v, cond_h = self.conditioning_biases(conditioning)
        if self.conditioning_dim:
            cond_h = cond_h[:, None, None]  # (B, 1, 1, 2h)
        v_pad = tf.pad(v, [[0, 0], [half, 0], [half, half], [0, 0]])
        v_pre = tf.nn.conv2d(v_pad, self.vertical_kernel, 1, "VALID") + self.vertical_bias
        if self.vertical_output:
            if self.conditioning_dim:
                cond_v = cond_v[:, None, None]  # (B, 1, 1, 2h)
            v_out = gate(v_pre + cond_v)  # (B, H, W, h)
        # Row i of the horizontal stack may see rows < i only: shift down one row.
        above = down_shift(v_pre)  # (B, H, W, 2h)
        link = tf.einsum("bhwf,fg->bhwg", above, self.link_kernel)
        h_pad = tf.pad(h, [[0, 0], [0, 0], [half, 0], [0, 0]])
        h_pre = tf.nn.conv2d(h_pad, self.masked_horizontal_kernel(), 1, "VALID")
        h_pre = h_pre + self.horizontal_bias + link + cond_h  # (B, H, W, 2h)
        gated = gate(h_pre)  # (B, H, W, h)
        if training and self.dropout_rate > 0:
            gated = seeded_dropout.dropout(gated, self.dropout_rate)
        h_out = tf.einsum("bhwf,fg->bhwg", gated, self.masked_output_kernel())
        h_out = h_out + self.output_bias
        if self.residual:
            h_out = h_out + h
        return (v_out, h_out) if self.vertical_output else h_out

    def step_weights(self, conditioning, dtype):
        """The layer's one-position step (incremental sampling): its kernels sliced as the
        step reads them, for one batch's (B, D) conditioning vector (or None)."""
        return GatedLayerStep(self, conditioning, dtype)

    def compute_output_shape(self, input_shape):
        v_shape, h_shape = input_shape
        horizontal = tuple(h_shape[:-1]) + (self.units,)
        if not self.vertical_output:
            return horizontal
        return tuple(v_shape[:-1]) + (self.units,), horizontal

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kernel_size=self.kernel_size, mask_type=self.mask_type,
                      num_groups=self.num_groups, residual=self.residual,
                      conditioning_dim=self.conditioning_dim,
                      vertical_output=self.vertical_output, dropout_rate=self.dropout_rate)
        return config


def group_bounds(num_features, num_groups):
    """[(lo, hi)] of each colour group's contiguous features."""
    groups = channel_groups(num_features, num_groups)
    return [(int(np.argmax(groups == g)), int(groups.size - np.argmax(groups[::-1] == g)))
            for g in range(num_groups)]


class GatedLayerStep:
    """GatedPixelCNNLayer.call() one row (vertical stack) and one pixel and colour group
    (horizontal stack) at a time; tested against call() in tests/test_steps.py. No dropout
    (sampling is inference).

    - Vertical stack: row i depends on rows <= i only and is read one row lower, so it is
      computed once per completed row, from the last k//2 rows of the layer's input kept in
      a window (`vertical_row`).
    - Horizontal stack: pixel (i, j) reads its input at j - k//2 .. j - 1 (a window of the
      layer's input) and at j. The taps of earlier pixels, the bias, the conditioning and the
      link from the row above are summed once per pixel (`pixel_base`).
    - Per channel c only colour group c is computed (`channel_group`): it depends on the
      groups <= c (mask B) or < c (mask A, the image) at the current pixel.
    """

    def __init__(self, layer, vector, dtype):
        cast = lambda t: tf.cast(t, dtype)  # noqa: E731
        half = layer.kernel_size // 2
        self.layer = layer
        self.vertical_kernel = cast(layer.vertical_kernel)  # (k//2 + 1, k, Fv, 2h)
        self.vertical_bias = cast(layer.vertical_bias)
        self.link_kernel = cast(layer.link_kernel)  # (2h, 2h)
        kernel = cast(layer.masked_horizontal_kernel())[0]  # (k//2 + 1, Fh, 2h)
        self.left_kernel = kernel[:half]  # (k//2, Fh, 2h): earlier pixels, unmasked
        self.centre_kernel = kernel[half]  # (Fh, 2h)
        self.horizontal_bias = cast(layer.horizontal_bias)
        self.output_kernel = cast(layer.masked_output_kernel())  # (h, h)
        self.output_bias = cast(layer.output_bias)
        cond_v, cond_h = layer.conditioning_biases(vector)
        # (B, 1, 1, 2h), or 0 (unconditional, or no vertical output)
        self.cond_v = cond_v if vector is None or not layer.vertical_output else \
            cond_v[:, None, None]
        self.cond_h = cond_h  # (B, 2h) or 0
        self.gate_groups = group_bounds(layer.units, layer.num_groups)
        self.in_groups = group_bounds(self.centre_kernel.shape[0], layer.num_groups)

    def gate_columns(self, c):
        """The f and g features of group c in the 2h gate pre-activations."""
        lo, hi = self.gate_groups[c]
        p = self.layer.units
        return np.concatenate([np.arange(lo, hi), np.arange(p + lo, p + hi)])

    def vertical_row(self, window):
        """window (B, k//2 + 1, W + 2 (k//2), Fv) of the layer's vertical input, the last row
        the completed one -> (its link into the next row's horizontal stack (B, W, 2h), the
        vertical output row (B, W, h), or None without a vertical output)."""
        pre = tf.nn.conv2d(window, self.vertical_kernel, 1, "VALID")[:, 0] + self.vertical_bias
        link = tf.einsum("bwf,fg->bwg", pre, self.link_kernel)
        if not self.layer.vertical_output:
            return link, None
        return link, gate(pre[:, None] + self.cond_v)[:, 0]

    def pixel_base(self, link, window):
        """Everything but the centre tap at the pixel: the link from the row above (B, 2h) and
        the layer's horizontal input at the k//2 pixels to the left (B, k//2, Fh)."""
        return link + self.horizontal_bias + self.cond_h + tf.einsum(
            "btf,tfg->bg", window, self.left_kernel)

    def channel_group(self, base, x, c, gated):
        """Colour group c of the horizontal output (B, n_c) at the pixel. x: the horizontal
        input's groups <= c there (B, hi); `gated`: this layer's gate outputs of the groups
        < c (appended to: group c)."""
        cols = self.gate_columns(c)
        pre = tf.gather(base, cols, axis=1)  # (B, 2 n_c)
        # Centre input groups visible to group c: <= c (mask B), < c (mask A).
        seen = self.in_groups[c][1] if self.layer.mask_type == "B" else self.in_groups[c][0]
        if seen:
            pre += tf.matmul(x[:, :seen], tf.gather(self.centre_kernel[:seen], cols, axis=1))
        gated.append(gate(pre))  # (B, n_c)
        lo, hi = self.gate_groups[c]
        y = tf.matmul(tf.concat(gated, -1), self.output_kernel[:hi, lo:hi])
        y += self.output_bias[lo:hi]
        if self.layer.residual:
            y += x[:, lo:hi]
        return y
