"""The FLOP counter of the sampling benchmark's FLOP limit: per op against the formulas,
and the whole PixelCNN against the independent per-layer count of the training benchmark."""

import numpy as np
import tensorflow as tf

from pixelrnn_tf import flops
from pixelrnn_tf.bench_train import count_macs
from tests.conftest import build_tiny


def test_each_counted_op_against_its_formula():
    x = tf.TensorSpec((2, 5, 7, 3))
    k = tf.constant(np.ones((2, 3, 3, 4), np.float32))
    assert flops.graph_flops(lambda v: tf.nn.conv2d(v, k, 1, "VALID"), x) == \
        2 * (2 * 4 * 5 * 4) * (2 * 3 * 3)
    t = tf.constant(np.ones((2, 2, 4, 3), np.float32))  # (kh, kw, out, in)
    assert flops.graph_flops(lambda v: tf.nn.conv2d_transpose(v, t, [2, 10, 14, 4], 2, "VALID"),
                             x) == 2 * (2 * 5 * 7 * 3) * (2 * 2 * 4)
    m = tf.TensorSpec((6, 5))
    w = tf.constant(np.ones((5, 9), np.float32))
    assert flops.graph_flops(lambda v: tf.matmul(v, w), m) == 2 * 6 * 5 * 9
    assert flops.graph_flops(lambda v: tf.einsum("...f,fp->...p", v, tf.ones((3, 8))), x) == \
        2 * 2 * 5 * 7 * 3 * 8
    q = tf.TensorSpec((2, 4, 10, 6))
    assert flops.graph_flops(lambda v: tf.matmul(v, v, transpose_b=True), q) == \
        2 * 2 * 4 * 10 * 10 * 6
    assert flops.graph_flops(lambda v: tf.nn.relu(v) + 1.0, x) == 0


def test_whole_network_agrees_with_the_per_layer_count():
    model = build_tiny("pixel_cnn", (6, 5, 3), 4)
    assert flops.forward_flops(model) == 2 * count_macs(model) > 0
    # The recurrent networks, unrolled at a known size, counted from the graph too.
    row_lstm = build_tiny("row_lstm", (6, 5, 3), 4)
    assert flops.forward_flops(row_lstm) == 2 * count_macs(row_lstm) > 0
    # The Diagonal BiLSTM's unrolled bands compute the positions inside the image only.
    diagonal = build_tiny("diagonal_bilstm", (6, 5, 3), 4)
    assert flops.forward_flops(diagonal) == 2 * count_macs(diagonal) > 0
