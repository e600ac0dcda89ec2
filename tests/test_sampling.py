"""Cached sampling == naive sampling, exactly, for every registered network; and the
samples follow the model's own probabilities (chi-square)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import models
from pixelrnn_tf import sampling
from tests.conftest import build_tiny

ALL = models.names()


def _run(fn, model, images, known, seed, jit_compile=False):
    f = tf.function(lambda x, k, s: fn(model, x, k, s), jit_compile=jit_compile)
    return f(tf.constant(images, tf.int32), tf.constant(known),
             tf.constant(seed, tf.int64)).numpy()


def _cached_complete(model, images, known, seed):
    """The model's incremental sampler: the driver over its sampling stages."""
    return model.cached_complete(images, known, seed)


def _sharpen(model, factor=4.0):
    """Scale the last layer so the untrained model is far from uniform."""
    nets = [getattr(model, n) for n in ("network", "small_network", "conditional_network")
            if hasattr(model, n)]
    if hasattr(model, "output_conv_2"):  # models without a PixelRNNNetwork (Gated PixelCNN)
        nets.append(model)
    for net in nets:
        net.output_conv_2.kernel.assign(net.output_conv_2.kernel * factor)
    if hasattr(model, "output_kernel"):  # PixelCNN++: the 1 x 1 conv to the mixture parameters
        model.output_kernel.assign(model.output_kernel * factor)


@pytest.mark.parametrize("shape, levels", [((4, 5, 3), 4), ((5, 4, 1), 2)])
@pytest.mark.parametrize("name", ALL)
def test_cached_sampler_equals_naive_sampler(name, shape, levels):
    model = build_tiny(name, shape, levels)
    _sharpen(model)
    rng = np.random.default_rng(0)
    batch = 3
    empty = np.zeros((batch,) + shape, np.int32)
    none_known = np.zeros((batch,) + shape[:2], bool)
    naive = _run(sampling.naive_complete, model, empty, none_known, 7)
    cached = _run(_cached_complete, model, empty, none_known, 7)
    np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(naive.reshape(batch, -1), axis=0)) > 1  # samples differ per row
    # Completion with an arbitrary known mask, different per batch element.
    images = rng.integers(0, levels, size=(batch,) + shape)
    known = rng.random((batch,) + shape[:2]) < 0.4
    naive = _run(sampling.naive_complete, model, images, known, 11)
    cached = _run(_cached_complete, model, images, known, 11)
    np.testing.assert_array_equal(cached, naive)
    np.testing.assert_array_equal(cached[known], images[known])


@pytest.mark.parametrize("name", ALL)
def test_cached_sampler_under_xla_equals_naive_sampler_under_xla(name):
    """The cached samplers under jit_compile (the benchmarks' "cached XLA", which steps some
    caches through driver.update_if's loop rather than tf.cond) give the naive sampler's
    images under jit_compile."""
    # (XLA's stateless RNG gives other noise than the TF kernels for the same seed, so these
    # images differ from the plain-mode ones: compare compiled with compiled.)
    shape, levels, batch = (4, 5, 3), 4, 3
    model = build_tiny(name, shape, levels)
    _sharpen(model)
    rng = np.random.default_rng(1)
    images = rng.integers(0, levels, size=(batch,) + shape)
    known = rng.random((batch,) + shape[:2]) < 0.3
    naive = _run(sampling.naive_complete, model, images, known, 5, jit_compile=True)
    xla = _run(_cached_complete, model, images, known, 5, jit_compile=True)
    np.testing.assert_array_equal(xla, naive)
    np.testing.assert_array_equal(xla[known], images[known])
    assert len(np.unique(naive.reshape(batch, -1), axis=0)) > 1


def test_update_if_is_a_cond_in_and_out_of_xla():
    from pixelrnn_tf.sampling.driver import update_if

    def f(pred, state):
        return update_if(pred, lambda s: [s[0] * 2.0, s[1] + 1], state)

    state = [tf.range(4.0), tf.constant(3)]
    for jit in (False, True):
        run = tf.function(f, jit_compile=jit)
        doubled, three_plus = run(tf.constant(True), state)
        np.testing.assert_array_equal(doubled, [0.0, 2.0, 4.0, 6.0])
        assert int(three_plus) == 4
        same, three = run(tf.constant(False), state)
        np.testing.assert_array_equal(same, [0.0, 1.0, 2.0, 3.0])
        assert int(three) == 3


@pytest.mark.parametrize("levels", [2, 5, 7, 256])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_inverse_cdf_picks_the_level_whose_interval_holds_u(levels, jit_compile):
    """The two-level search gives numpy's float64 inverse CDF, but for u within float32
    rounding of an interval's end; levels of zero probability (exp underflows) are never
    drawn, not even at u = 0 or the largest u below 1."""
    rng = np.random.default_rng(levels)
    logits = rng.normal(0, 3, (64, levels)).astype(np.float32)
    logits[::4, 0] = -1e4  # zero probability: first level, ...
    logits[1::4, -1] = -1e4  # ... last level
    if levels > 2:
        logits[2::4, levels // 2] = -1e4  # ... a middle one
    u = rng.random(64).astype(np.float32)
    u[:2], u[2:4] = 0.0, np.nextafter(np.float32(1), np.float32(0))
    got = tf.function(sampling.inverse_cdf, jit_compile=jit_compile)(
        tf.constant(logits), tf.constant(u)).numpy()
    # The same draws when the level count is known only at run time.
    unknown = tf.function(sampling.inverse_cdf, input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32)])
    np.testing.assert_array_equal(unknown(tf.constant(logits), tf.constant(u)), got)
    p = np.exp(logits.astype(np.float64) - logits.max(-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(-1, keepdims=True), -1)
    want = np.minimum((cdf <= u[:, None].astype(np.float64)).sum(-1), levels - 1)
    near_an_end = np.abs(cdf - u[:, None]).min(-1) < 1e-5
    assert not near_an_end[4:].all()
    np.testing.assert_array_equal(got[~near_an_end], want[~near_an_end])
    assert (logits[np.arange(64), got] > -1e3).all(), "a zero-probability level was drawn"


@pytest.mark.parametrize("levels", [5, 17])  # one block of 3 short; 5 blocks of 5, the last 2
def test_draw_follows_softmax(levels):
    """Over many keys, the draw's frequencies are softmax(logits) (within 5 sigma)."""
    logits = tf.constant(np.random.default_rng(levels).normal(0, 1.5, (1, levels)), tf.float32)
    n = 20000
    # The noise of each key as the samplers get it, in one graph (eagerly: minutes).
    u = tf.function(lambda: tf.map_fn(lambda k: sampling.uniform_noise(
        tf.constant(3, tf.int64), k, 1)[0], tf.range(n), fn_output_signature=tf.float32))()
    draws = sampling.inverse_cdf(tf.tile(logits, [n, 1]), u).numpy()
    p = tf.nn.softmax(logits)[0].numpy()
    freq = np.bincount(draws, minlength=levels) / n
    assert draws.max() < levels
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_sampling_is_a_function_of_the_seed():
    model = build_tiny("row_lstm", (3, 3, 1), 4)
    a, b = sampling.sample(model, 8, seed=1), sampling.sample(model, 8, seed=1)
    c = sampling.sample(model, 8, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.shape == (8, 3, 3, 1) and a.max() < 4


# chi-square critical value for 15 degrees of freedom at p = 0.001 (16 binary 2x2 images).
CHI2_15_P001 = 37.70


@pytest.mark.parametrize("name", ALL)
def test_sample_frequencies_match_probabilities(name):
    shape = (2, 2, 1)
    model = build_tiny(name, shape, 2)
    _sharpen(model, 8.0)
    images = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, *shape)
    probs = np.exp(model.log_prob(images).numpy().astype(np.float64))
    assert abs(probs.sum() - 1) < 1e-5 and probs.max() > 1.5 * probs.min()
    n = 4000
    samples = sampling.sample(model, n, seed=3).reshape(n, 4)
    codes = samples @ (2 ** np.arange(3, -1, -1))
    counts = np.bincount(codes, minlength=16)
    expected = n * probs
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < CHI2_15_P001, f"chi2 = {chi2:.1f}; counts {counts}, expected {expected.round()}"


def test_chi_square_check_rejects_a_wrong_sampler():
    """Negative control: samples of another model fail the same check."""
    shape = (2, 2, 1)
    model, other = build_tiny("pixel_cnn", shape, 2, seed=0), build_tiny("pixel_cnn", shape, 2, 1)
    _sharpen(model, 3.0)
    _sharpen(other, 3.0)
    images = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, *shape)
    probs = np.exp(model.log_prob(images).numpy().astype(np.float64))
    samples = sampling.sample(other, 4000, seed=3).reshape(4000, 4)
    counts = np.bincount(samples @ (2 ** np.arange(3, -1, -1)), minlength=16)
    chi2 = ((counts - 4000 * probs) ** 2 / (4000 * probs)).sum()
    assert chi2 > CHI2_15_P001


def test_bad_sampling_arguments():
    model = build_tiny("pixel_cnn", (2, 2, 1), 2)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        sampling.sample(model, 0)
    with pytest.raises(ValueError, match="known_mask must have shape"):
        sampling.complete(model, np.zeros((2, 2, 2, 1), np.uint8), np.zeros((2, 3, 3), bool))


@pytest.mark.parametrize("name", ALL)
def test_every_model_answers_the_sampling_contract(name):
    # The stages cover every pixel once per stage grid, and declare their cost.
    model = build_tiny(name, (3, 4, 1), 2)
    stages = model.sampling_stages()
    assert stages and all(isinstance(s.full_pass_per_pixel, bool) for s in stages)
    covered = np.zeros((3, 4), bool)
    for stage in stages:
        pixels = np.asarray(stage.pixels)
        assert len({tuple(p) for p in pixels}) == len(pixels)  # no pixel twice in a stage
        covered[tuple(pixels.T)] = True
    assert covered.all()
    # The naive default is what the other stages are tested against, and is a stage too.
    from pixelrnn_tf.sampling.stages import NaiveStage

    naive = NaiveStage(model)
    got = model.cached_complete(tf.zeros((2, 3, 4, 1), tf.int32), tf.zeros((2, 3, 4), bool), 5)
    want = sampling.driver.complete([naive], model.image_shape, tf.zeros((2, 3, 4, 1), tf.int32),
                                    tf.zeros((2, 3, 4), bool), 5)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    reference = sampling.naive_complete(model, tf.zeros((2, 3, 4, 1), tf.int32),
                                        tf.zeros((2, 3, 4), bool), tf.constant(5, tf.int64))
    np.testing.assert_array_equal(want.numpy(), reference.numpy())
