"""Shared checks over EVERY registered model: causality, exact normalization, .keras round trip.

A model registered without a tiny variant fails here (see test_every_model_is_covered).
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.configs.tiny import TINY, tiny_config
from tests.conftest import build_tiny
from tests.helpers import dependence, immediate_predecessors

ALL = models.names()
CAUSAL_SHAPES = [(4, 4, 3), (4, 5, 1)]


def test_every_model_is_covered():
    assert set(ALL) == set(TINY), (
        f"registered {sorted(ALL)} but tiny variants exist for {sorted(TINY)}")
    assert {"pixel_cnn", "row_lstm", "diagonal_bilstm", "multiscale_pixelrnn"} <= set(ALL)


@pytest.mark.parametrize("shape", CAUSAL_SHAPES)
@pytest.mark.parametrize("name", ALL)
def test_causality_by_gradients(name, shape):
    """Untrained model: sub-pixel k's logits have zero gradient w.r.t. every sub-pixel at or
    after k in the generation order, and a non-zero one w.r.t. its immediate predecessors
    (earlier channels of its pixel, the pixels to its left and above)."""
    model = build_tiny(name, shape, num_levels=4)
    rank = model.ordering()
    if name != "multiscale_pixelrnn":
        np.testing.assert_array_equal(rank.reshape(-1), np.arange(rank.size))
    jac = dependence(model)  # (K, K) raster indices; row: output, column: input
    r = rank.reshape(-1)
    future = r[None, :] >= r[:, None]  # input at or after the output in generation order
    leaks = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
             for k, m in np.argwhere(future & (jac != 0))]
    assert not leaks, f"{name}: outputs see their own or later sub-pixels: {leaks[:5]}"
    ignored = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
               for k, m in np.argwhere(immediate_predecessors(model) & (jac == 0))]
    assert not ignored, f"{name}: (output, input) pairs with no dependence: {ignored[:5]}"


def _all_binary_images(shape):
    n = int(np.prod(shape))
    bits = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int32)
    return bits.reshape((-1,) + shape)


@pytest.mark.parametrize("shape", [(3, 3, 1), (2, 2, 3)])
@pytest.mark.parametrize("name", ALL)
def test_exact_normalization(name, shape):
    """sum over every binary image of the shape of p(x) == 1 (2^9 and 2^12 images)."""
    model = build_tiny(name, shape, num_levels=2)
    images = _all_binary_images(shape)
    log_p = np.concatenate([model.log_prob(b).numpy().astype(np.float64)
                            for b in np.array_split(images, max(1, len(images) // 1024))])
    total = np.exp(log_p).sum()
    assert abs(total - 1.0) < 1e-5, f"{name} {shape}: probabilities sum to {total!r}"
    # Not trivially uniform: the random network does assign different probabilities.
    assert log_p.std() > 1e-3


@pytest.mark.parametrize("name", ALL)
def test_keras_save_load_round_trip(name, tmp_path):
    model = build_tiny(name, (4, 4, 3), num_levels=8)
    images = np.random.default_rng(1).integers(0, 8, size=(3, 4, 4, 3))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(model(images).numpy(), loaded(images).numpy())
    np.testing.assert_array_equal(model.log_prob(images).numpy(),
                                  loaded.log_prob(images).numpy())


@pytest.mark.parametrize("name", ALL)
def test_tf_checkpoint_of_the_model_alone_restores_every_weight(name, tmp_path):
    """tf.train.Checkpoint(model=...) (what the trainer writes and the CLIs restore) must reach
    every variable, not only those an optimizer also references."""
    model = build_tiny(name, (4, 4, 3), num_levels=8, seed=0)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    other = build_tiny(name, (4, 4, 3), num_levels=8, seed=1)
    tf.train.Checkpoint(model=other).restore(path).assert_existing_objects_matched()
    images = np.random.default_rng(2).integers(0, 8, size=(2, 4, 4, 3))
    np.testing.assert_array_equal(model(images).numpy(), other(images).numpy())


# The models that take labels or conditioning vectors; every other one refuses them (checked).
CONDITIONAL = ("gated_pixel_cnn", "pixel_cnn_pp", "pixel_snail")


@pytest.mark.parametrize("conditioning", ["none", "labels", "vectors"])
@pytest.mark.parametrize("name", ALL)
def test_every_trainable_weight_gets_a_gradient(name, conditioning):
    """No dead weight: the NLL's gradient is non-zero for every trainable variable (a weight
    nobody reads, e.g. a gate of a stack no later layer uses, trains nothing and slows fit).
    8x8, so that PixelCNN++'s lowest resolution still has a row above its first row."""
    overrides = {"labels": dict(num_classes=3), "vectors": dict(conditioning_dim=2)}.get(
        conditioning, {})
    if overrides and name not in CONDITIONAL:
        with pytest.raises((TypeError, ValueError), match="num_classes|conditioning_dim"):
            models.build(name, **tiny_config(name, (8, 8, 3), 4), **overrides)
        return
    keras.utils.set_random_seed(0)
    model = models.build(name, **tiny_config(name, (8, 8, 3), 4), **overrides)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 4, (3, 8, 8, 3)).astype(np.int32)
    given = {"labels": np.array([0, 1, 2], np.int32),
             "vectors": rng.normal(size=(3, 2)).astype(np.float32)}.get(conditioning)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(images, given))
    grads = tape.gradient(loss, model.trainable_variables)
    dead = [v.path for v, g in zip(model.trainable_variables, grads)
            if g is None or not np.any(tf.convert_to_tensor(g).numpy())]
    assert model.trainable_variables and not dead, f"{name}: weights with no gradient: {dead}"
