"""Skewing for the Diagonal BiLSTM, with pads and reshapes only (no gathers).

skew: (B, H, W, C) -> (B, H, W + H - 1, C), row i shifted right by i (zeros elsewhere), so
that column j of the skewed map is the image diagonal {(i, j - i)}.
"""

import tensorflow as tf


def skew(x):
    b, h, w, c = tf.unstack(tf.shape(x))
    # Rows of stride W + H read back with stride W + H - 1 start one column further each row.
    x = tf.pad(x, [[0, 0], [0, 0], [0, h], [0, 0]])  # (B, H, W + H, C)
    x = tf.reshape(x, [b, h * (w + h), c])[:, : h * (w + h - 1)]
    return tf.reshape(x, [b, h, w + h - 1, c])


def unskew(x, width):
    b, h, ws, c = tf.unstack(tf.shape(x))
    x = tf.reshape(x, [b, h * ws, c])
    x = tf.pad(x, [[0, 0], [0, h], [0, 0]])
    x = tf.reshape(x, [b, h, ws + 1, c])  # (B, H, W + H, C)
    return x[:, :, :width]
