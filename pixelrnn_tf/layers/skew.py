"""Skewing for the Diagonal BiLSTM: image maps <-> the diagonals the loop walks.

In skewed coordinates row i of the image is shifted right by i, so column t of the skewed
(H, W + H - 1) map is the image diagonal {(i, t - i)}; the right-to-left direction does the same
on the width-flipped image. The loop reads one skewed column per step for both directions.

`skew_columns` and `unskew_columns` move the data with ONE row gather each way (rows of
features, so every copy is a contiguous block) and give the exact gradient as the inverse
gather. Measured side by side at the CIFAR-10 paper size (B=16, 32x32, 4h=512), forward and
backward: about 40 ms against about 280 ms for pads / reshapes / stack / transpose, which made
most of a Diagonal BiLSTM layer's time (tests/test_recurrent_layers.py checks both against numpy).
Positions outside the image hold arbitrary (clipped) values: the sweep masks the state there.
"""

import tensorflow as tf


class SkewIndex:
    """Row indices between (B, H, W, 2, F) image maps and (T, 2, B, H, F) columns.

    valid: float (T, 1, 1, H, 1), 1 where skewed column t, row i is a pixel of the image.
    """

    def __init__(self, batch, height, width):
        b, h, w = batch, height, width
        self.num_columns = h + w - 1

        def columns(x):  # broadcast over column entries (t, d, b, i)
            return tf.reshape(tf.broadcast_to(x, [self.num_columns, 2, b, h]), [-1])

        def image(x):  # broadcast over image entries (b, i, col)
            return tf.reshape(tf.broadcast_to(x, [b, h, w]), [-1])

        t = tf.range(self.num_columns)[:, None, None, None]
        d = tf.range(2)[None, :, None, None]
        bi = tf.range(b)[None, None, :, None]
        i = tf.range(h)[None, None, None, :]
        s = t - i  # position along the (flipped, for d = 1) row
        inside = (s >= 0) & (s < w)
        self.valid = tf.cast(inside, tf.float32)[..., None]  # (T, 1, 1, H, 1)
        # Column entry (t, d, b, i) reads image (b, i, col, d): col = s, or W - 1 - s flipped.
        col = tf.clip_by_value(tf.where(d == 0, s, w - 1 - s), 0, w - 1)
        self.to_columns = columns(((bi * h + i) * w + col) * 2 + d)
        # The inverse: image entry (b, i, col, d) is column entry (t, d, b, i).
        bb, ii = tf.range(b)[:, None, None, None], tf.range(h)[None, :, None, None]
        cc, dd = tf.range(w)[None, None, :, None], tf.range(2)[None, None, None, :]
        tt = tf.where(dd == 0, cc, w - 1 - cc) + ii
        self.to_image = tf.reshape(((tt * 2 + dd) * b + bb) * h + ii, [-1])
        # Output: image (b, i, col) takes left-to-right column entry (col + i, 0, b, i) and
        # right-to-left entry (W - 1 - col + i - 1, 1, b, i - 1): the row above (row 0: none).
        b0, i0, c0 = tf.range(b)[:, None, None], tf.range(h)[None, :, None], tf.range(w)
        above = tf.maximum(i0 - 1, 0)
        self.left = image(((c0 + i0) * 2 * b + b0) * h + i0)
        self.right = image((((w - 1 - c0 + above) * 2 + 1) * b + b0) * h + above)
        self.has_above = tf.cast(image(i0 >= 1), tf.float32)[:, None]
        # Their inverses, for the gradient: the image row that read column entry (t, d, b, i),
        # and whether one did (a pixel; for d = 1 also not the last row).
        self.from_left = columns((bi * h + i) * w + tf.clip_by_value(s, 0, w - 1))
        self.from_right = columns((bi * h + tf.minimum(i + 1, h - 1)) * w
                                  + tf.clip_by_value(w - 1 - s, 0, w - 1))
        self.read_left = tf.cast(columns(inside & (d == 0)), tf.float32)[:, None]
        self.read_right = tf.cast(columns(inside & (d == 1) & (i + 1 < h)), tf.float32)[:, None]


def _gather_rows(x, index, inverse, read=None):
    """x[index] with the gradient gathered back through `inverse` (masked by `read`).

    Exact when every row of x is read at most once and `read` marks the rows read."""

    @tf.custom_gradient
    def gather(x):
        def grad(dy):
            dx = tf.gather(dy, inverse)
            return dx if read is None else dx * tf.cast(read, dx.dtype)

        return tf.gather(x, index), grad

    return gather(x)


def skew_columns(z, index):
    """(B, H, W, 2F) maps, [left-to-right | right-to-left] -> (T, 2, B, H, F) columns."""
    features = z.shape[-1] // 2
    s = tf.shape(z)
    columns = _gather_rows(tf.reshape(z, [-1, features]), index.to_columns, index.to_image)
    return tf.reshape(columns, [index.num_columns, 2, s[0], s[1], features])


def unskew_columns(h_all, index, width):
    """(T, 2, B, H, F) states -> (B, H, W, F): the left-to-right state of each pixel plus the
    right-to-left state of the pixel above it (which has seen nothing at or after the pixel)."""
    s = tf.shape(h_all)
    features = h_all.shape[-1]
    flat = tf.reshape(h_all, [-1, features])
    out = (_gather_rows(flat, index.left, index.from_left, index.read_left)
           + _gather_rows(flat, index.right, index.from_right, index.read_right)
           * tf.cast(index.has_above, flat.dtype))
    return tf.reshape(out, [s[2], s[3], width, features])
