"""Shifts of feature maps by one row or column, zero-filled (PixelCNN++'s down_shift and
right_shift): a map of features that see up to row i (column j) becomes one whose row i
(column j) sees strictly earlier rows (columns) only.

Pad first, then `tf.slice` back to the input's shape: the gradient is a slice of a pad, where
`x[:, :-1]` (a StridedSlice) made TF's StridedSliceGrad, 7x slower in a training step's
backward pass on the CPU (`python docs/benchmarks/shift_grad.py`: forward and backward of a
(32, 28, 28, 48) map on one thread, 22.4 ms against 7.5 ms; README "Training speed")."""

import tensorflow as tf


def down_shift(x):
    """(B, H, W, F) -> (B, H, W, F): row i takes row i - 1; row 0 is zeros."""
    return _keep_shape(tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]]), x)


def right_shift(x):
    """(B, H, W, F) -> (B, H, W, F): column j takes column j - 1; column 0 is zeros."""
    return _keep_shape(tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]]), x)


def _keep_shape(padded, x):
    """The first rows and columns of `padded`, as many as x has (its static shape kept)."""
    return tf.ensure_shape(tf.slice(padded, [0, 0, 0, 0], tf.shape(x)), x.shape)


def stream_input_at(above, left, inputs, i, j):
    """down_shift(above(inputs)) + right_shift(left(inputs)) at one pixel (i, j), (B, F):
    PixelCNN++'s first horizontal-stream features, for a step at a time. above, left:
    DownShiftedConv2D and DownRightShiftedConv2D layers; inputs (B, H, W, F_in)."""
    dtype = inputs.dtype
    from_above = above.step_output(above.pad(inputs), tf.maximum(i - 1, 0), j)
    from_left = left.step_output(left.pad(inputs), i, tf.maximum(j - 1, 0))
    return from_above * tf.cast(i > 0, dtype) + from_left * tf.cast(j > 0, dtype)
