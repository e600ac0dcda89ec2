"""Seeded dropout: inside `dropout_seed` every layer with dropout is a function of the seed."""

import numpy as np
import pytest
import tensorflow as tf

from pixelrnn_tf.layers import seeded_dropout
from pixelrnn_tf.layers.gated_pixel_cnn_layer import GatedPixelCNNLayer
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock


def test_dropout_zeroes_the_rate_and_rescales_the_rest():
    x = tf.ones((200, 100))
    with seeded_dropout.dropout_seed([3, 4]):
        y = seeded_dropout.dropout(x, 0.25).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01


def test_each_call_in_a_scope_draws_its_own_mask_and_scopes_repeat():
    x = tf.ones((50, 50))

    def two_calls(seed):
        with seeded_dropout.dropout_seed(seed):
            return seeded_dropout.dropout(x, 0.5).numpy(), seeded_dropout.dropout(x, 0.5).numpy()

    a1, a2 = two_calls([0, 7])
    b1, b2 = two_calls([0, 7])
    c1, _ = two_calls([0, 8])
    assert not np.array_equal(a1, a2)  # the second call is not the first one's mask again
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, c1)


@pytest.mark.parametrize("make,inputs", [
    (lambda: GatedPixelCNNLayer(4, 3, "B", 1, residual=True, dropout_rate=0.5),
     lambda: [tf.random.stateless_normal((2, 5, 5, 4), [1, 2])] * 2),
    (lambda: GatedResNetBlock("down_right_shifted", dropout_rate=0.5),
     lambda: tf.random.stateless_normal((2, 5, 5, 4), [1, 2]))], ids=["gated", "resnet_block"])
def test_layers_in_training_are_a_function_of_the_seed(make, inputs):
    layer, x = make(), inputs()

    def out(seed):
        with seeded_dropout.dropout_seed(seed):
            y = layer(x, training=True)
        return np.concatenate([t.numpy().ravel() for t in tf.nest.flatten(y)])

    np.testing.assert_array_equal(out([5, 1]), out([5, 1]))
    assert not np.array_equal(out([5, 1]), out([5, 2]))
    # Inference ignores dropout and the seed.
    np.testing.assert_array_equal(
        np.concatenate([t.numpy().ravel() for t in tf.nest.flatten(layer(x, training=False))]),
        np.concatenate([t.numpy().ravel() for t in tf.nest.flatten(layer(x, training=False))]))
