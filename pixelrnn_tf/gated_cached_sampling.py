"""Cached sampling for the Gated PixelCNN: same arguments and output as
`sampling.naive_complete`, without a full network pass per sub-pixel.

- Vertical stack: row i depends on rows <= i only, and the horizontal stack reads it one row
  lower, so it is computed once per completed row, every layer on that single row, from
  the last k//2 rows of each layer's input kept in a rolling window.
- Horizontal stack: pixel (i, j) reads its input at j - k//2 .. j - 1 (kept in a rolling
  window of each layer's input) and at j. The taps of earlier pixels, the bias, the
  conditioning and the link from the row above are summed once per pixel.
- Per channel c only colour group c of every layer is computed: group c depends on the
  groups <= c (mask B) or < c (mask A, the image) at the current pixel, whose values are
  kept from the passes of the earlier channels.

Sub-pixel k is argmax(logits + Gumbel noise keyed by (seed, k)), or its known value, so
the images equal the naive sampler's (up to float summation order in the logits).
"""

import numpy as np
import tensorflow as tf

from pixelrnn_tf.layers.gated_pixel_cnn_layer import gate
from pixelrnn_tf.layers.masking import channel_groups
from pixelrnn_tf.sampling import gumbel_noise


def _group_bounds(num_features, num_groups):
    """[(lo, hi)] of each group's contiguous features."""
    groups = channel_groups(num_features, num_groups)
    return [(int(np.argmax(groups == g)), int(groups.size - np.argmax(groups[::-1] == g)))
            for g in range(num_groups)]


class _LayerWeights:
    """One GatedPixelCNNLayer's kernels as the sampler slices them, cast to `dtype`."""

    def __init__(self, layer, vector, dtype):
        cast = lambda t: tf.cast(t, dtype)  # noqa: E731
        half, p = layer.kernel_size // 2, layer.units
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
        self.cond_v = cond_v if vector is None else cond_v[:, None, None]  # (B, 1, 1, 2h)
        self.cond_h = cond_h if vector is None else cond_h[:, None]  # (B, 1, 2h)
        self.gate_groups = _group_bounds(p, layer.num_groups)
        self.in_groups = _group_bounds(self.centre_kernel.shape[0], layer.num_groups)

    def gate_columns(self, c):
        """The f and g features of group c in the 2h gate pre-activations."""
        lo, hi = self.gate_groups[c]
        p = self.layer.units
        return np.concatenate([np.arange(lo, hi), np.arange(p + lo, p + hi)])

    def vertical_row(self, window):
        """window (B, k//2 + 1, W + 2 (k//2), Fv): the pre-activation (B, W, 2h) of the row."""
        return tf.nn.conv2d(window, self.vertical_kernel, 1, "VALID")[:, 0] + self.vertical_bias


# Python loops over layers and channel groups build per-group lists of tensors: autograph
# must not turn them into graph loops (the served signatures are traced with autograph on).
@tf.autograph.experimental.do_not_convert
def cached_complete(model, images, known_mask, seed, conditioning=None):
    """Pure-TF cached `sampling.naive_complete` for a GatedPixelCNN (same output)."""
    h, w, c = model.image_shape
    levels, dtype = model.num_levels, model.compute_dtype
    half = model.kernel_size // 2
    # Served signatures may pass tensors of unknown static shape: the loop state below needs
    # static window shapes, so pin (and check) the image shape here.
    images = tf.ensure_shape(tf.cast(images, tf.int32), [None, h, w, c])
    known_mask = tf.ensure_shape(tf.cast(known_mask, tf.bool), [None, h, w])
    seed = tf.cast(seed, tf.int64)
    conditioning = model.check_conditioning(conditioning)
    vector = None if conditioning is None else model.embed(conditioning)  # (B, D)
    batch = tf.shape(images)[0]
    rows = tf.range(batch)
    weights = [_LayerWeights(layer, vector, dtype) for layer in model.gated_layers]
    in_features = [c] + [model.units] * (model.num_layers - 1)
    out_1 = tf.cast(model.output_conv_1.masked_kernel()[0, 0], dtype)  # (h, O)
    out_2 = tf.cast(model.output_conv_2.masked_kernel()[0, 0], dtype)  # (O, C L)
    bias_1 = tf.cast(model.output_conv_1.bias, dtype)
    bias_2 = tf.cast(model.output_conv_2.bias, dtype)
    out_groups = _group_bounds(model.output_units, c)

    def pixel_logits(base, centre_image, ch, pieces, gated, hidden):
        """Logits (B, L) of channel `ch` at the pixel. Appends group `ch` to `pieces` (per
        layer, the groups of its output computed so far), `gated` (per layer, of its gate
        output) and `hidden` (of the first output convolution)."""
        x = centre_image  # (B, C): the first layer's centre input
        for n, lw in enumerate(weights):
            cols = lw.gate_columns(ch)
            pre = tf.gather(base[n], cols, axis=1)  # (B, 2 n_ch)
            # Centre input groups visible to group ch: <= ch (mask B), < ch (mask A).
            seen = lw.in_groups[ch][1] if lw.layer.mask_type == "B" else lw.in_groups[ch][0]
            if seen:
                pre += tf.matmul(x[:, :seen], tf.gather(lw.centre_kernel[:seen], cols, axis=1))
            gated[n].append(gate(pre))  # (B, n_ch)
            lo, hi = lw.gate_groups[ch]
            y = tf.matmul(tf.concat(gated[n], -1), lw.output_kernel[:hi, lo:hi])
            y += lw.output_bias[lo:hi]
            if lw.layer.residual:
                y += x[:, lo:hi]
            pieces[n].append(y)  # (B, n_ch)
            x = tf.concat(pieces[n], -1)  # (B, hi): groups <= ch of the next input
        lo, hi = out_groups[ch]
        top = tf.nn.relu(x)  # (B, units of groups <= ch)
        # Its width from the group bounds, not top.shape: served signatures take conditioning
        # of unknown rank, which leaves the static shapes here unknown.
        seen = weights[-1].gate_groups[ch][1]
        hidden.append(tf.nn.relu(tf.matmul(top, out_1[:seen, lo:hi]) + bias_1[lo:hi]))
        return tf.matmul(tf.concat(hidden, -1), out_2[:hi, ch * levels:(ch + 1) * levels]) + \
            bias_2[ch * levels:(ch + 1) * levels]

    def pixel(i, j, image, row_base, h_windows):
        base = [row_base[n][:, j] + tf.einsum("btf,tfg->bg", h_windows[n], lw.left_kernel)
                for n, lw in enumerate(weights)]  # (B, 2h) each: all but the centre tap
        pieces, gated, hidden = [[] for _ in weights], [[] for _ in weights], []
        for ch in range(c):
            centre_image = model.scale(image[:, i, j])  # channels >= ch are never read
            logits = pixel_logits(base, centre_image, ch, pieces, gated, hidden)
            noise = gumbel_noise(seed, (i * w + j) * c + ch, batch, levels)
            choice = tf.argmax(logits + noise, axis=-1, output_type=tf.int32)
            value = tf.where(known_mask[:, i, j], image[:, i, j, ch], choice)
            index = tf.stack([rows, tf.fill([batch], i), tf.fill([batch], j),
                              tf.fill([batch], ch)], axis=1)
            image = tf.tensor_scatter_nd_update(image, index, value)
        # Each layer's input at the pixel: the image, then the outputs of the layers below.
        centres = [model.scale(image[:, i, j])] + [tf.concat(p, -1) for p in pieces[:-1]]
        h_windows = [tf.ensure_shape(tf.concat([hw[:, 1:], x[:, None]], 1), hw.shape)
                     for hw, x in zip(h_windows, centres)]  # (B, k//2, F) each
        return image, h_windows

    def row(i, image, v_windows, links):
        row_base = [links[n] + lw.horizontal_bias + lw.cond_h for n, lw in enumerate(weights)]
        h_windows = [tf.zeros([batch, half, f], dtype) for f in in_features]

        def body(j, image, h_windows):
            image, h_windows = pixel(i, j, image, row_base, h_windows)
            return j + 1, image, h_windows

        _, image, _ = tf.while_loop(lambda j, *_: j < w, body, (tf.constant(0), image, h_windows))
        # Row i is complete: the vertical stack on it, for row i + 1.
        x = model.scale(image[:, i])  # (B, W, C)
        new_windows, new_links = [], []
        for lw, vw in zip(weights, v_windows):
            window = tf.concat([vw, tf.pad(x, [[0, 0], [half, half], [0, 0]])[:, None]], 1)
            pre = lw.vertical_row(window)  # (B, W, 2h)
            new_links.append(tf.einsum("bwf,fg->bwg", pre, lw.link_kernel))
            new_windows.append(window[:, 1:])
            x = gate(pre[:, None] + lw.cond_v)[:, 0]  # (B, W, h)
        return i + 1, image, new_windows, new_links

    v_windows = [tf.zeros([batch, half, w + 2 * half, f], dtype) for f in in_features]
    links = [tf.zeros([batch, w, 2 * model.units], dtype) for _ in weights]
    _, image, _, _ = tf.while_loop(lambda i, *_: i < h, row,
                                   (tf.constant(0), images, v_windows, links))
    return image
