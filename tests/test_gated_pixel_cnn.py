"""Gated PixelCNN: causality, no blind spot, exact normalization per label, conditioning
errors, cached sampler == naive sampler, save/load."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from pixelrnn_tf import sampling
from tests.helpers import dependence, immediate_predecessors

TINY = dict(num_layers=2, units=12, output_units=24, num_classes=3)


def _build(shape, levels, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return models.build("gated_pixel_cnn", image_shape=shape, num_levels=levels,
                        **dict(TINY, **overrides))


class _WithConditioning:
    """The model with fixed conditioning, called like an unconditional one (for helpers)."""

    def __init__(self, model, conditioning):
        self.model, self.conditioning = model, np.asarray(conditioning)
        self.image_shape, self.num_levels = model.image_shape, model.num_levels

    def __call__(self, images, training=None):
        batch = tf.shape(images)[0]
        rows = tf.repeat(tf.constant(self.conditioning)[None], batch, axis=0)
        return self.model(images, rows, training=training)

    def ordering(self):
        return self.model.ordering()


def _future(shape):
    k = int(np.prod(shape))
    return np.arange(k)[None, :] >= np.arange(k)[:, None]  # (output, input), raster order


@pytest.mark.parametrize("shape, overrides", [((4, 4, 3), {}), ((4, 5, 1), {}),
                                              ((4, 4, 3), dict(kernel_size=5)),
                                              ((4, 4, 3), dict(num_classes=0,
                                                               conditioning_dim=4))])
def test_causality_by_gradients(shape, overrides):
    """No output sees its own or a later sub-pixel; every output sees its immediate
    predecessors (earlier channels of its pixel, the pixel to the left and the one above)."""
    model = _build(shape, 4, **overrides)
    cond = np.float32([0.5, -1.0, 2.0, 0.3]) if model.conditioning_dim else np.int32(2)
    wrapped = _WithConditioning(model, cond)
    jac = dependence(wrapped)
    leaks = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
             for k, m in np.argwhere(_future(shape) & (jac != 0))]
    assert not leaks, f"outputs see their own or later sub-pixels: {leaks[:5]}"
    ignored = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
               for k, m in np.argwhere(immediate_predecessors(wrapped) & (jac == 0))]
    assert not ignored, f"(output, input) pairs with no dependence: {ignored[:5]}"


class _Training(_WithConditioning):
    """Called with training=True: a new dropout mask per call."""

    def __call__(self, images):
        return super().__call__(images, training=True)


def test_causal_with_dropout_in_training():
    """Dropout (training only) zeroes features element-wise: it may cut a dependence, never
    add one. Over a few calls (new masks) no output sees its own or a later sub-pixel."""
    shape = (4, 4, 3)
    model = _build(shape, 4, dropout_rate=0.5)
    jac = dependence(_Training(model, np.int32(1)), num_images=4)
    assert (jac != 0).any()
    leaks = np.argwhere(_future(shape) & (jac != 0))
    assert not len(leaks), f"outputs see their own or later sub-pixels: {leaks[:5]}"


def test_dropout_only_in_training():
    """dropout_rate > 0: model(..., training=True) and the training loss draw a new mask per
    call; inference (training False or unset: evaluation, sampling, export) is deterministic;
    dropout_rate 0 ignores training."""
    images = np.random.default_rng(0).integers(0, 4, size=(2, 4, 4, 3))
    labels = np.int32([0, 2])
    model = _build((4, 4, 3), 4, dropout_rate=0.5)
    inference = model(images, labels).numpy()
    np.testing.assert_array_equal(model(images, labels, training=False).numpy(), inference)
    np.testing.assert_array_equal(model(images, labels).numpy(), inference)
    train_a = model(images, labels, training=True).numpy()
    train_b = model(images, labels, training=True).numpy()
    assert np.abs(train_a - inference).max() > 1e-3
    assert np.abs(train_a - train_b).max() > 1e-3
    loss = model.log_prob_unchecked(images, labels).numpy()
    assert np.abs(model.log_prob_unchecked(images, labels, training=True).numpy()
                  - loss).max() > 1e-3
    plain = _build((4, 4, 3), 4)
    np.testing.assert_array_equal(plain(images, labels, training=True).numpy(),
                                  plain(images, labels).numpy())
    # Same weights with and without dropout (a run may switch it on: --init_from).
    assert [v.shape for v in model.weights] == [v.shape for v in plain.weights]
    with pytest.raises(ValueError, match=r"dropout_rate must be in \[0, 1\), got 1.0"):
        _build((4, 4, 3), 4, dropout_rate=1.0)


def test_no_blind_spot_unlike_pixel_cnn():
    """5 x 5 x 3, 4 layers of 3 x 3: every sub-pixel depends on EVERY earlier one (the
    earlier pixels in raster order and the earlier channels of its pixel). The PixelCNN of
    the same depth misses some (its blind spot: e.g. the far right of the row above)."""
    shape, layers = (5, 5, 3), 4
    earlier = ~_future(shape)
    gated = dependence(_WithConditioning(_build(shape, 4, num_layers=layers), np.int32(1)))
    missing = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
               for k, m in np.argwhere(earlier & (gated == 0))]
    assert not missing, f"Gated PixelCNN blind spot: {missing[:5]}"
    assert not (~earlier & (gated != 0)).any()
    keras.utils.set_random_seed(0)
    pixel_cnn = models.build("pixel_cnn", image_shape=shape, num_levels=4, num_layers=layers,
                             units=12, output_units=24)
    blind = earlier & (dependence(pixel_cnn) == 0)
    assert blind.any(), "pixel_cnn unexpectedly has no blind spot"
    # Output (1, 0, 0) cannot see (0, 4, *): a 7 x 7 first layer reaches 3 columns right.
    assert blind[np.ravel_multi_index((1, 0, 0), shape),
                 np.ravel_multi_index((0, 4, 0), shape)]


def _all_binary_images(shape):
    bits = np.array(list(itertools.product([0, 1], repeat=int(np.prod(shape)))), np.int32)
    return bits.reshape((-1,) + shape)


def _total_probability(model, images, conditioning):
    rows = np.repeat(np.asarray(conditioning)[None], len(images), axis=0)
    log_p = model.log_prob(images, rows).numpy().astype(np.float64)
    return np.exp(log_p).sum(), log_p


def test_exact_normalization_per_label():
    """sum over all 2^9 binary 3 x 3 images of p(x | y) == 1 for each label, and the labels
    give different distributions."""
    shape = (3, 3, 1)
    model = _build(shape, 2)
    images = _all_binary_images(shape)
    log_ps = []
    for label in (0, 2):
        total, log_p = _total_probability(model, images, np.int32(label))
        assert abs(total - 1.0) < 1e-5, f"label {label}: probabilities sum to {total!r}"
        assert log_p.std() > 1e-3
        log_ps.append(log_p)
    assert np.abs(log_ps[0] - log_ps[1]).max() > 1e-3, "labels do not change p(x)"


def test_exact_normalization_given_a_conditioning_vector():
    shape = (3, 3, 1)
    model = _build(shape, 2, num_classes=0, conditioning_dim=4)
    images = _all_binary_images(shape)
    totals = [_total_probability(model, images, np.float32(v)) for v in
              ([1.0, 0.0, -2.0, 0.5], [0.0, 3.0, 1.0, -1.0])]
    for total, _ in totals:
        assert abs(total - 1.0) < 1e-5, f"probabilities sum to {total!r}"
    assert np.abs(totals[0][1] - totals[1][1]).max() > 1e-3


def test_conditioning_errors():
    model = _build((3, 3, 3), 4)
    images = np.zeros((2, 3, 3, 3), np.int32)
    with pytest.raises(ValueError, match="is conditional: pass conditioning=int labels"):
        model(images)
    with pytest.raises(ValueError, match="is conditional"):
        model.log_prob(images)
    with pytest.raises(ValueError, match=r"must be in \[0, 3\), got min 0 and max 3"):
        model.log_prob(images, np.int32([0, 3]))
    with pytest.raises(ValueError, match=r"must be in \[0, 3\), got min -1"):
        model(images, np.int32([-1, 0]))
    with pytest.raises(ValueError, match="dtype float32"):
        model(images, np.float32([0.0, 1.0]))
    with pytest.raises(ValueError, match="got shape"):
        model(images, np.int32([[0], [1]]))
    with pytest.raises(ValueError, match="is conditional"):
        model.cached_complete(images, np.zeros((2, 3, 3), bool), 0)
    with pytest.raises(ValueError, match="is conditional"):
        sampling.sample(model, 2)
    vector_model = _build((3, 3, 3), 4, num_classes=0, conditioning_dim=4)
    with pytest.raises(ValueError, match=r"float vectors \(batch, 4\), got shape \(2, 3\)"):
        vector_model(images, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="got dtype int32"):
        vector_model(images, np.zeros((2, 4), np.int32))
    unconditional = _build((3, 3, 3), 4, num_classes=0)
    with pytest.raises(ValueError, match="is unconditional"):
        unconditional(images, np.int32([0, 1]))
    with pytest.raises(ValueError, match="not both"):
        _build((3, 3, 3), 4, conditioning_dim=4)


def _sharpen(model, factor=4.0):
    """Scale the last layer so the untrained model is far from uniform."""
    model.output_conv_2.kernel.assign(model.output_conv_2.kernel * factor)


def _complete_both(model, images, known, seed, conditioning):
    args = (tf.constant(images, tf.int32), tf.constant(known), tf.constant(seed, tf.int64),
            tf.constant(conditioning))
    naive = tf.function(lambda x, k, s, c: sampling.naive_complete(model, x, k, s,
                                                                   conditioning=c))
    cached = tf.function(lambda x, k, s, c: sampling.graph_complete(model, x, k, s, c))
    return naive(*args).numpy(), cached(*args).numpy()


@pytest.mark.parametrize("shape, levels, overrides", [
    ((4, 5, 3), 4, {}), ((5, 4, 1), 2, {}), ((4, 5, 3), 4, dict(num_layers=3, kernel_size=5)),
    ((4, 5, 3), 4, dict(num_classes=0, conditioning_dim=4)),
    ((4, 5, 3), 4, dict(dropout_rate=0.5))])  # sampling is inference: no dropout in either
def test_cached_sampler_equals_naive_sampler(shape, levels, overrides, monkeypatch):
    model = _build(shape, levels, **overrides)
    _sharpen(model)
    batch = 3
    rng = np.random.default_rng(0)
    cond = (rng.normal(size=(batch, 4)).astype(np.float32) if model.conditioning_dim
            else np.int32([0, 2, 1]))
    # The naive sampler's per-step call (one full pass): the cached sampler must not use it.
    full_passes = []
    original = model.logits
    monkeypatch.setattr(model, "logits",
                        lambda *a, **k: full_passes.append(1) or original(*a, **k))

    empty = np.zeros((batch,) + shape, np.int32)
    naive, cached = _complete_both(model, empty, np.zeros((batch,) + shape[:2], bool), 7, cond)
    assert full_passes, "the naive sampler did not run the network"
    full_passes.clear()
    cached_only = tf.function(lambda x, k, s, c: model.cached_complete(x, k, s, c))
    again = cached_only(tf.constant(empty), tf.zeros((batch,) + shape[:2], tf.bool),
                        tf.constant(7, tf.int64), tf.constant(cond)).numpy()
    assert not full_passes, "the cached sampler ran a full network pass"
    np.testing.assert_array_equal(cached, naive)
    np.testing.assert_array_equal(again, naive)
    assert len(np.unique(naive.reshape(batch, -1), axis=0)) > 1  # samples differ per row

    images = rng.integers(0, levels, size=(batch,) + shape)
    known = rng.random((batch,) + shape[:2]) < 0.4
    naive, cached = _complete_both(model, images, known, 11, cond)
    np.testing.assert_array_equal(cached, naive)
    np.testing.assert_array_equal(cached[known], images[known])
    assert (cached[~known] != images[~known]).any()


def test_cached_sampler_in_a_saved_model(tmp_path):
    model = _build((3, 4, 3), 4)
    _sharpen(model)
    module = tf.Module()
    # Its variables only: saving the Keras model itself would trace its unconditional call.
    module.weights = list(model.weights)
    module.complete = tf.function(
        lambda x, k, s, c: model.cached_complete(x, k, s, c),
        input_signature=[tf.TensorSpec([None, 3, 4, 3], tf.int32),
                         tf.TensorSpec([None, 3, 4], tf.bool), tf.TensorSpec([], tf.int64),
                         tf.TensorSpec([None], tf.int32)])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    args = (tf.zeros([2, 3, 4, 3], tf.int32), tf.zeros([2, 3, 4], tf.bool),
            tf.constant(5, tf.int64), tf.constant([1, 2]))
    expected = sampling.naive_complete(model, *args[:3], conditioning=args[3]).numpy()
    np.testing.assert_array_equal(loaded.complete(*args).numpy(), expected)


def test_keras_save_load_round_trip(tmp_path):
    model = _build((4, 4, 3), 8)
    images = np.random.default_rng(1).integers(0, 8, size=(3, 4, 4, 3))
    labels = np.int32([0, 1, 2])
    path = tmp_path / "gated.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(model(images, labels).numpy(), loaded(images, labels).numpy())
    np.testing.assert_array_equal(model.log_prob(images, labels).numpy(),
                                  loaded.log_prob(images, labels).numpy())
    # Not vacuous: another initialization gives other logits.
    other = _build((4, 4, 3), 8, seed=1)
    assert not np.array_equal(model(images, labels).numpy(), other(images, labels).numpy())


def test_tf_checkpoint_restores_every_weight(tmp_path):
    model = _build((4, 4, 3), 8, seed=0)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    other = _build((4, 4, 3), 8, seed=1)
    tf.train.Checkpoint(model=other).restore(path).assert_existing_objects_matched()
    images = np.random.default_rng(2).integers(0, 8, size=(2, 4, 4, 3))
    labels = np.int32([1, 2])
    np.testing.assert_array_equal(model(images, labels).numpy(),
                                  other(images, labels).numpy())


@pytest.mark.parametrize("overrides, what", [({}, "labels"),
                                             (dict(num_classes=0, conditioning_dim=4),
                                              "conditioning")])
def test_conditional_export_signatures(tmp_path, overrides, what):
    """The exported log_prob, sample and complete signatures take labels (or conditioning
    vectors) and agree with the Keras model; a missing or out-of-range label is refused."""
    from export import export_saved_model

    model = _build((3, 4, 3), 4, **overrides)
    _sharpen(model)
    path = export_saved_model.export(model, str(tmp_path / "zoo"))
    loaded = tf.saved_model.load(path)
    rng = np.random.default_rng(5)
    images = rng.integers(0, 4, size=(3, 3, 4, 3)).astype(np.uint8)
    cond = (rng.normal(size=(3, 4)).astype(np.float32) if model.conditioning_dim
            else np.int32([0, 2, 1]))
    for name in ("log_prob", "sample", "complete"):
        assert what in loaded.signatures[name].structured_input_signature[1], name
    got = loaded.signatures["log_prob"](images=tf.constant(images),
                                        **{what: tf.constant(cond)})["log_prob"].numpy()
    np.testing.assert_allclose(got, model.log_prob(images.astype(np.int32), cond).numpy(),
                               rtol=1e-5, atol=1e-5)
    other = cond[::-1].copy()
    changed = loaded.signatures["log_prob"](images=tf.constant(images),
                                            **{what: tf.constant(other)})["log_prob"].numpy()
    assert np.abs(changed - got).max() > 1e-4, "the conditioning input is ignored"
    samples = loaded.signatures["sample"](seed=tf.constant(4, tf.int64),
                                          **{what: tf.constant(cond)})["images"].numpy()
    expected = sampling.naive_complete(model, tf.zeros((3, 3, 4, 3), tf.int32),
                                       tf.zeros((3, 3, 4), tf.bool), tf.constant(4, tf.int64),
                                       conditioning=tf.constant(cond)).numpy()
    np.testing.assert_array_equal(samples, expected)
    known = np.zeros((3, 3, 4), np.uint8)
    known[:, :2] = 1
    done = loaded.signatures["complete"](images=tf.constant(images), known_mask=tf.constant(known),
                                         seed=tf.constant(4, tf.int64),
                                         **{what: tf.constant(cond)})["images"].numpy()
    np.testing.assert_array_equal(done[:, :2], images[:, :2])
    if what == "labels":
        with pytest.raises(tf.errors.InvalidArgumentError, match="labels"):
            loaded.signatures["log_prob"](images=tf.constant(images),
                                          labels=tf.constant([0, 3, 1], tf.int32))
