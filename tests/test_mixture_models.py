"""The logistic-mixture models (PixelCNN++ and PixelSNAIL, both LogisticMixtureModel): the
model-level checks they share, each run for both (formerly repeated in
tests/test_pixel_cnn_pp.py and tests/test_pixel_snail.py, which keep the model-specific
tests: the mixture likelihood and the shifted layers, the attention, the samplers, the paper
configs' sizes). Each model is built by its own file's `_build` (its tiny config, dropout 0.5).

Per model: causality with no blind spot (untrained, so any path shows) on the shapes of
both former suites, the direct log-prob == the table (and position_logits), dropout in
training only, no NaN/Inf at extreme images with sharpened weights, exact normalization per
label of the class-conditional model; the incremental (cached) sampler: its mixture
parameters at every pixel equal the full pass's, it gives the naive sampler's images (odd
shapes, completion, labels, conditioning vectors), and negative controls with one cache read
a row off."""

import dataclasses
import itertools
from typing import Callable

import numpy as np
import pytest
import tensorflow as tf

from pixelrnn_tf import sampling
from pixelrnn_tf.sampling import driver
from pixelrnn_tf.layers.causal_attention import CausalAttention
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from tests import test_pixel_cnn_pp, test_pixel_snail
from tests.helpers import dependence, immediate_predecessors


def _no_extra(model):
    pass


def _sharpen_output(model):
    model.output_kernel.assign(model.output_kernel * 50.0)  # far from the initialization


def _sharpen_attention_and_output(model):
    """The attention's query and key projections scaled 1e3 (logits ~1e6 and more)."""
    attention = model.block_0_attention
    for weight in (attention.query_kernel, attention.key_value_kernel):
        weight.assign(weight * 1e3)
    _sharpen_output(model)


def _attention_sees_the_label(model):
    assert model.block_0_attention.conditioning_dim == 3  # the attention's gates see it too


@dataclasses.dataclass
class MixtureModel:
    build: Callable  # (shape, levels, seed=0, **overrides) -> an untrained model
    sharpen: Callable  # weights far from the initialization, for the extremes test
    check_conditional: Callable = _no_extra  # model-specific checks of a num_classes=3 model


MODELS = {
    "pixel_cnn_pp": MixtureModel(test_pixel_cnn_pp._build, _sharpen_output),
    "pixel_snail": MixtureModel(test_pixel_snail._build, _sharpen_attention_and_output,
                                _attention_sees_the_label),
}

# The former suites' shapes: PixelCNN++'s odd sizes with two downsamplings, PixelSNAIL's.
CAUSAL_SHAPES = [(5, 7, 3), (6, 3, 1), (4, 6, 1), (3, 5, 3)]


@pytest.fixture(params=sorted(MODELS))
def mixture(request):
    return MODELS[request.param]


def _future(shape):
    k = int(np.prod(shape))
    return np.arange(k)[None, :] >= np.arange(k)[:, None]  # (output, input), raster order


def _all_binary_images(shape):
    bits = np.array(list(itertools.product([0, 1], repeat=int(np.prod(shape)))), np.int32)
    return bits.reshape((-1,) + shape)


@pytest.mark.parametrize("shape", CAUSAL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_causal_and_sees_every_earlier_sub_pixel(mixture, shape):
    """No leak, and (untrained, so any path shows) every output sees every EARLIER
    sub-pixel: PixelCNN++'s shifted streams have no blind spot at these sizes; PixelSNAIL's
    down-right-shifted stream alone has one above and to the right, which the attention
    covers (tests/test_pixel_snail.py has the control without it)."""
    model = mixture.build(shape, 4)
    jac = dependence(model)
    future = _future(shape)
    leaks = np.argwhere(future & (jac != 0))
    assert not len(leaks), [(np.unravel_index(a, shape), np.unravel_index(b, shape))
                            for a, b in leaks[:5]]
    assert not (immediate_predecessors(model) & (jac == 0)).any()
    missing = np.argwhere(~future & (jac == 0))
    assert not len(missing), [(np.unravel_index(a, shape), np.unravel_index(b, shape))
                              for a, b in missing[:5]]


def test_direct_log_prob_equals_the_table(mixture):
    model = mixture.build((4, 5, 3), 256)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 4, 5, 3))
    images[0, 0, 0] = [0, 255, 0]
    table = model(images).numpy()  # (B, H, W, C, L)
    assert table.shape == (2, 4, 5, 3, 256)
    observed = np.take_along_axis(table, images[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(model.pixel_log_prob(images).numpy(), observed, atol=1e-5)
    np.testing.assert_allclose(np.exp(table.astype(np.float64)).sum(-1), 1.0, atol=1e-5)
    # position_logits (the naive sampler's call) is the same table, one pixel at a time
    # (up to rounding: the kernels of a (B, P) and a (B, H, W, P) table may differ in ULPs).
    # Its one-channel table (what the cached stages draw from), for an int or a tensor
    # channel (the naive sampler's).
    for i, j, c in [(0, 0, 0), (2, 3, 1), (3, 4, 2)]:
        for channel in (c, tf.constant(c)):
            np.testing.assert_allclose(model.position_logits(images, i, j, channel).numpy(),
                                       table[:, i, j, c], rtol=1e-6, atol=1e-6)


def test_dropout_only_in_training(mixture):
    images = np.random.default_rng(0).integers(0, 8, size=(2, 4, 4, 3))
    model = mixture.build((4, 4, 3), 8, dropout_rate=0.5)
    inference = model(images).numpy()
    np.testing.assert_array_equal(model(images, training=False).numpy(), inference)
    np.testing.assert_array_equal(model(images).numpy(), inference)  # deterministic
    train_a = model(images, training=True).numpy()
    train_b = model(images, training=True).numpy()
    assert np.abs(train_a - inference).max() > 1e-3
    assert np.abs(train_a - train_b).max() > 1e-3  # a new mask per call
    loss = model.pixel_log_prob_unchecked(images).numpy()
    np.testing.assert_array_equal(model.pixel_log_prob_unchecked(images, training=False),
                                  loss)
    assert np.abs(model.pixel_log_prob_unchecked(images, training=True).numpy()
                  - loss).max() > 1e-3
    # Without dropout, training=True changes nothing.
    plain = mixture.build((4, 4, 3), 8, dropout_rate=0.0)
    np.testing.assert_array_equal(plain(images, training=True).numpy(), plain(images).numpy())


def test_model_has_no_nan_or_inf_at_extreme_images(mixture):
    """All-0 / all-255 images with sharpened weights (the output x 50; PixelSNAIL's attention
    query and key projections x 1e3 too): log-probs and every gradient finite."""
    model = mixture.build((3, 4, 3), 256)
    mixture.sharpen(model)
    images = np.stack([np.zeros((3, 4, 3), np.int32), np.full((3, 4, 3), 255, np.int32)])
    with tf.GradientTape() as tape:
        log_p = model.log_prob(images)
        loss = -tf.reduce_sum(log_p)
    assert np.isfinite(log_p.numpy()).all()
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_class_conditional_exact_normalization_per_label(mixture):
    shape = (3, 3, 1)
    model = mixture.build(shape, 2, num_classes=3)
    mixture.check_conditional(model)
    images = _all_binary_images(shape)
    log_ps = []
    for label in (0, 2):
        log_p = model.log_prob(images, np.full(len(images), label, np.int32)).numpy()
        total = np.exp(log_p.astype(np.float64)).sum()
        assert abs(total - 1.0) < 1e-5, f"label {label}: probabilities sum to {total!r}"
        log_ps.append(log_p)
    assert np.abs(log_ps[0] - log_ps[1]).max() > 1e-3, "labels do not change p(x)"
    with pytest.raises(ValueError, match="is conditional"):
        model(images[:2])
    with pytest.raises(ValueError, match="not both"):
        mixture.build(shape, 2, num_classes=3, conditioning_dim=2)


# ---------------------------------------------------------------- the incremental sampler

def _conditioning(model, batch, rng):
    if model.num_classes:
        return tf.constant(np.arange(batch) % model.num_classes, tf.int32)
    if model.conditioning_dim:
        return tf.constant(rng.normal(size=(batch, model.conditioning_dim)), tf.float32)
    return None


def _stepped_parameters(model, images, conditioning=None):
    """The cached stage walked over `images` by the driver with every pixel known (teacher
    forcing): the mixture parameters it computes at every pixel (B, H, W, P), in one graph."""
    stage = model.sampling_stages(model.check_conditioning(conditioning))[0]
    h, w, _ = model.image_shape

    @tf.function
    def walk(images):
        known = tf.ones(tf.shape(images)[:3], tf.bool)
        walked, params = driver.walk(
            stage, model.image_shape, images, known, tf.constant(0, tf.int64),
            probe=lambda pixel_state: pixel_state[0] if isinstance(pixel_state, tuple)
            else pixel_state)  # (P, B, D)
        tf.debugging.assert_equal(walked, images)
        return tf.reshape(tf.transpose(params, [1, 0, 2]), [tf.shape(images)[0], h, w, -1])

    return walk(tf.constant(images, tf.int32)).numpy()


def _random_weights(model, seed=0):
    """Untrained but far from the initialization's symmetries (non-zero biases)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))


STEP_CASES = [("pixel_cnn_pp", (5, 7, 3), {}), ("pixel_cnn_pp", (9, 6, 1), dict(num_classes=3)),
              ("pixel_cnn_pp", (3, 3, 1), dict(num_resnet=2, conditioning_dim=2)),
              ("pixel_snail", (5, 7, 3), dict(num_heads=2)),
              ("pixel_snail", (3, 3, 1), dict(num_classes=3))]


def _built(name, shape, overrides, levels=4):
    model = MODELS[name].build(shape, levels, **overrides)
    batch, rng = 2, np.random.default_rng(1)
    images = tf.constant(rng.integers(0, levels, (batch,) + shape), tf.int32)
    conditioning = _conditioning(model, batch, rng)
    model(images, conditioning)
    _random_weights(model)
    return model, images, conditioning


@pytest.mark.parametrize("name, shape, overrides", STEP_CASES,
                         ids=[f"{n}-{'x'.join(map(str, s))}" for n, s, _ in STEP_CASES])
def test_cached_stage_computes_the_full_pass_parameters_at_every_pixel(name, shape, overrides):
    model, images, conditioning = _built(name, shape, overrides)
    full = model.mixture_parameters(model.scale(images),
                                    model.check_conditioning(conditioning)).numpy()
    np.testing.assert_allclose(_stepped_parameters(model, images, conditioning), full,
                               rtol=1e-4, atol=1e-4 * np.abs(full).max())


# Unconditional samplers at (4, 5, 3) and (5, 4, 1): tests/test_sampling.py, for every model.
SAMPLE_CASES = [("pixel_cnn_pp", (5, 7, 3), 4, dict(num_classes=3)),
                ("pixel_cnn_pp", (3, 3, 1), 2, dict(conditioning_dim=2)),
                ("pixel_snail", (5, 7, 3), 4, dict(conditioning_dim=2)),
                ("pixel_snail", (3, 3, 1), 2, dict(num_classes=3))]


@pytest.mark.parametrize("name, shape, levels, overrides", SAMPLE_CASES,
                         ids=[f"{n}-{'x'.join(map(str, s))}-{'-'.join(o) or 'plain'}"
                              for n, s, _, o in SAMPLE_CASES])
def test_cached_sampler_gives_the_naive_images(name, shape, levels, overrides):
    model = MODELS[name].build(shape, levels, **overrides)
    model(np.zeros((1,) + shape, np.int32), _conditioning(model, 1, np.random.default_rng(0)))
    model.output_kernel.assign(model.output_kernel * 4.0)  # far from uniform
    batch, rng = 3, np.random.default_rng(0)
    conditioning = _conditioning(model, batch, rng)
    extra = [] if conditioning is None else [conditioning]
    naive = tf.function(lambda x, k, s, *c: sampling.naive_complete(
        model, x, k, s, conditioning=c[0] if c else None))
    cached = tf.function(lambda x, k, s, *c: model.cached_complete(x, k, s, *c))
    for seed, known_fraction in ((7, 0.0), (11, 0.4)):
        images = rng.integers(0, levels, size=(batch,) + shape).astype(np.int32)
        known = rng.random((batch,) + shape[:2]) < known_fraction
        args = (tf.constant(images), tf.constant(known), tf.constant(seed, tf.int64), *extra)
        want, got = naive(*args).numpy(), cached(*args).numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got[known], images[known])
        assert len(np.unique(got.reshape(batch, -1), axis=0)) > 1


def _window_a_row_up(self, cache, r, q, above=None, taps=None):
    (kh, kw), (sh, sw) = self.kernel_size, self.strides
    if above is not None:  # the pixel's own row read from the row above
        window = tf.gather(tf.gather(cache, (r * sh - 1) % kh), q * sw + tf.range(kw))
        return tf.gather(above, q) + self.bias + tf.einsum("wbf,wfo->bo", window,
                                                           self.kernel[kh - 1])
    slots = (r * sh - kh + tf.range(kh)) % kh  # one row too high
    window = tf.gather(tf.gather(cache, slots), q * sw + tf.range(kw), axis=1)
    return tf.einsum("hwbf,hwfo->bo", window, self.kernel) + self.bias


def _rows_above_not_updated(original):
    def step_begin_row(self, cache, i):
        return cache  # every row's taps above stay those of the first row (zeros)
    return step_begin_row


def _row_cache_never_moves(original):
    def step_row(self, cache, x, aux=None, conditioning=None):
        _, out = original(self, cache, x, aux, conditioning)
        return cache, out  # the rows above stay those of the first row
    return step_row


def _attention_includes_its_own_slot(original):
    def step_query(self, cache, t, x, position, conditioning=None):
        return original(self, cache, t + 1, x, position, conditioning)
    return step_query


CONTROLS = {
    "pixel_window_a_row_up": ("pixel_cnn_pp", DownShiftedConv2D, "step_window",
                              lambda original: _window_a_row_up),
    "vertical_rows_stale": ("pixel_cnn_pp", GatedResNetBlock, "step_row", _row_cache_never_moves),
    "snail_window_a_row_up": ("pixel_snail", DownShiftedConv2D, "step_window",
                              lambda original: _window_a_row_up),
    "pixel_rows_above_stale": ("pixel_cnn_pp", GatedResNetBlock, "step_begin_row",
                               _rows_above_not_updated),
    "snail_rows_above_stale": ("pixel_snail", GatedResNetBlock, "step_begin_row",
                               _rows_above_not_updated),
    "attention_one_slot_late": ("pixel_snail", CausalAttention, "step_query",
                                _attention_includes_its_own_slot),
}


@pytest.mark.parametrize("control", sorted(CONTROLS))
def test_a_cache_off_by_one_is_caught(control, monkeypatch):
    """Negative controls: the parameter test above fails when one cache is off by a row
    (or the attention reads the slot of the pixel itself)."""
    name, cls, method, broken = CONTROLS[control]
    model, images, conditioning = _built(name, (5, 7, 3), {})
    full = model.mixture_parameters(model.scale(images)).numpy()
    monkeypatch.setattr(cls, method, broken(getattr(cls, method)))
    stepped = _stepped_parameters(model, images)
    assert not np.allclose(stepped, full, rtol=1e-4, atol=1e-4 * np.abs(full).max())
