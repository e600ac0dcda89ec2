"""Shifts of feature maps by one row or column, zero-filled (PixelCNN++'s down_shift and
right_shift): a map of features that see up to row i (column j) becomes one whose row i
(column j) sees strictly earlier rows (columns) only."""

import tensorflow as tf


def down_shift(x):
    """(B, H, W, F) -> (B, H, W, F): row i takes row i - 1; row 0 is zeros."""
    return tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def right_shift(x):
    """(B, H, W, F) -> (B, H, W, F): column j takes column j - 1; column 0 is zeros."""
    return tf.pad(x[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])
