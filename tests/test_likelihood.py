import math

import numpy as np
import pytest
import tensorflow as tf

import models
from tests.conftest import build_tiny


@pytest.fixture(scope="module")
def model():
    return build_tiny("pixel_cnn", (3, 4, 3), num_levels=5)


def test_shapes_and_definitions(model):
    images = np.random.default_rng(0).integers(0, 5, size=(2, 3, 4, 3)).astype(np.uint8)
    pixel = model.pixel_log_prob(images).numpy()
    assert pixel.shape == (2, 3, 4, 3) and np.all(pixel <= 0)
    logits = model(images).numpy().astype(np.float64)
    logz = np.log(np.exp(logits).sum(-1))
    want = np.take_along_axis(logits, images[..., None].astype(int), -1)[..., 0] - logz
    np.testing.assert_allclose(pixel, want, atol=1e-5)
    log_p = model.log_prob(images).numpy()
    np.testing.assert_allclose(log_p, pixel.sum(axis=(1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(model.bits_per_dim(images).numpy(),
                               -log_p / (36 * math.log(2)), rtol=1e-6)


def test_integer_dtypes_agree(model):
    images = np.random.default_rng(1).integers(0, 5, size=(1, 3, 4, 3))
    ref = model.log_prob(images.astype(np.uint8)).numpy()
    for dtype in (np.int32, np.int64):
        np.testing.assert_array_equal(model.log_prob(images.astype(dtype)).numpy(), ref)


@pytest.mark.parametrize("images, message", [
    (np.zeros((3, 4, 3), np.uint8), "rank 4"),
    (np.zeros((1, 4, 3, 3), np.uint8), r"shape \(batch, 3, 4, 3\)"),
    (np.zeros((1, 3, 4, 1), np.uint8), r"shape \(batch, 3, 4, 3\)"),
    (np.zeros((1, 3, 4, 3), np.float32), "integer dtype"),
    (np.full((1, 3, 4, 3), 5, np.uint8), r"in \[0, 5\), got min 5 and max 5"),
    (np.full((1, 3, 4, 3), -1, np.int32), r"in \[0, 5\), got min -1"),
])
def test_bad_input_names_the_problem(model, images, message):
    with pytest.raises(ValueError, match=message):
        model.log_prob(images)


def test_bad_values_inside_a_graph_raise_invalid_argument(model):
    fn = tf.function(model.log_prob, input_signature=[
        tf.TensorSpec((None, None, None, None), tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_levels=5"):
        fn(np.full((1, 3, 4, 3), 7, np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have shape"):
        fn(np.zeros((1, 2, 4, 3), np.int32))
    assert fn(np.zeros((1, 3, 4, 3), np.int32)).shape == (1,)


def test_uniform_model_gives_log_levels_bits():
    """A model with all-zero last layer is uniform: exactly log2(L) bits/dim."""
    model = build_tiny("row_lstm", (2, 3, 1), num_levels=16)
    last = model.network.output_conv_2
    last.kernel.assign(tf.zeros_like(last.kernel))
    last.bias.assign(tf.zeros_like(last.bias))
    images = np.random.default_rng(0).integers(0, 16, size=(4, 2, 3, 1))
    np.testing.assert_allclose(model.bits_per_dim(images).numpy(), 4.0, rtol=1e-6)
    np.testing.assert_allclose(model.log_prob(images).numpy(), -6 * math.log(16), rtol=1e-6)


def test_model_constructor_errors():
    with pytest.raises(ValueError, match="image_shape"):
        models.build("pixel_cnn", image_shape=(3, 3), num_levels=2)
    with pytest.raises(ValueError, match="num_levels"):
        models.build("pixel_cnn", image_shape=(3, 3, 1), num_levels=1)
