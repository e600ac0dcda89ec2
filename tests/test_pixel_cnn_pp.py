"""PixelCNN++: the discretized logistic mixture (exact normalization of the per-sub-pixel
table, agreement with a float64 numpy reference and with the direct log-prob, no NaN/Inf at
extremes), the shifted layers' causality, the model (the generic one-pass-per-pixel stage, the
paper config's size; the cached sampler is tested in tests/test_mixture_models.py).

The model checks PixelCNN++ shares with PixelSNAIL (causality with no blind spot on odd
sizes, the direct log-prob == the table, dropout, no NaN/Inf at extreme images, exact
normalization per label) are in tests/test_mixture_models.py, run for both models."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models import configs
from pixelrnn_tf import logistic_mixture as lm
from pixelrnn_tf import sampling
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_right_shifted_conv_transpose2d import (
    DownRightShiftedConvTranspose2D)
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock

TINY = dict(num_resnet=1, units=8, num_mixtures=2, dropout_rate=0.5)


def _build(shape, levels, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return models.build("pixel_cnn_pp", image_shape=shape, num_levels=levels,
                        **dict(TINY, **overrides))


def _random_parameters(rng, n, k, c, sharp=False):
    """(n, P) raw network outputs; `sharp`: log-scales down to (and below) the -7 clamp."""
    p = lm.num_parameters(k, c)
    params = rng.normal(size=(n, p))
    params[:, :k] *= 3.0  # mixture logits
    params[:, k:k + c * k] = rng.uniform(-1.3, 1.3, size=(n, c * k))  # means
    low = -9.0 if sharp else -3.0
    params[:, k + c * k:k + 2 * c * k] = rng.uniform(low, 1.0, size=(n, c * k))  # log-scales
    return params.astype(np.float32)


def _scaled(pixels, levels):
    return (np.asarray(pixels, np.float64) * (2.0 / (levels - 1)) - 1.0).astype(np.float32)


# ---------------------------------------------------------------- float64 numpy reference

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _reference_pixel_prob(params, pixel, k, levels):
    """p(pixel) of the paper's mixture, written out independently in float64:
    sum_k pi_k prod_c (CDF(upper edge) - CDF(lower edge)), value 0 taking the whole left
    tail and value L-1 the whole right tail; for RGB the means of G and B are
    mu_g + alpha r and mu_b + beta r + gamma g (Eq. 3 of the paper)."""
    p = np.asarray(params, np.float64)
    c = len(pixel)
    logits = p[:k]
    mu = p[k:k + c * k].reshape(c, k)
    log_s = np.maximum(p[k + c * k:k + 2 * c * k].reshape(c, k), -7.0)
    coef = np.tanh(p[k + 2 * c * k:].reshape(-1, k))
    x = np.asarray(pixel, np.float64) * (2.0 / (levels - 1)) - 1.0
    pi = np.exp(logits - logits.max())
    pi /= pi.sum()
    half = 1.0 / (levels - 1)
    total = 0.0
    for m in range(k):
        means = mu[:, m].copy()
        if c == 3:
            alpha, beta, gamma = coef[:, m]
            means[1] += alpha * x[0]
            means[2] += beta * x[0] + gamma * x[1]
        prob = pi[m]
        for ch in range(c):
            s = np.exp(log_s[ch, m])
            upper = 1.0 if pixel[ch] == levels - 1 else _sigmoid((x[ch] + half - means[ch]) / s)
            lower = 0.0 if pixel[ch] == 0 else _sigmoid((x[ch] - half - means[ch]) / s)
            prob *= upper - lower
        total += prob
    return total


# ---------------------------------------------------------------- the mixture

@pytest.mark.parametrize("levels, channels", [(256, 3), (4, 3), (256, 1), (2, 3)])
def test_table_is_normalized_for_every_sub_pixel(levels, channels, rng):
    """sum_l exp(table[c, l]) == 1 for every channel given any earlier channels: all L^C
    pixels when few (so every combination of earlier values), else random ones with the
    edge values; sharp and wide logistics."""
    k = 3
    if levels ** channels <= 64:
        pixels = np.array(list(itertools.product(range(levels), repeat=channels)))
    else:
        pixels = rng.integers(0, levels, size=(200, channels))
        pixels[:4] = [[0] * channels, [levels - 1] * channels, [0, levels - 1, 1][:channels],
                      [levels - 1, 0, levels - 2][:channels]]
    for sharp in (False, True):
        params = _random_parameters(rng, len(pixels), k, channels, sharp)
        table = lm.conditional_log_prob_table(params, _scaled(pixels, levels), k, levels)
        assert table.shape == (len(pixels), channels, levels)
        totals = np.exp(table.numpy().astype(np.float64)).sum(-1)
        assert np.abs(totals - 1.0).max() < 1e-5, totals


def test_one_pixel_enumeration_matches_the_float64_reference(rng):
    """1 x 1 x 3 pixel, L = 4: the product of the three conditionals of each of the 4^3
    pixels sums to 1 and equals the whole-pixel mixture probability of the numpy reference;
    the direct log-prob gives the same observed entries as the table."""
    levels, k = 4, 3
    pixels = np.array(list(itertools.product(range(levels), repeat=3)))  # (64, 3)
    for _ in range(3):
        params = np.repeat(_random_parameters(rng, 1, k, 3), len(pixels), axis=0)
        table = lm.conditional_log_prob_table(params, _scaled(pixels, levels), k,
                                              levels).numpy()  # (64, 3, 4)
        observed = np.take_along_axis(table, pixels[:, :, None], axis=-1)[..., 0]
        direct = lm.pixel_log_prob(params, _scaled(pixels, levels), k, levels).numpy()
        np.testing.assert_allclose(direct, observed, atol=2e-6)
        probs = np.exp(observed.astype(np.float64).sum(-1))
        assert abs(probs.sum() - 1.0) < 1e-5
        reference = np.array([_reference_pixel_prob(params[0], px, k, levels)
                              for px in pixels])
        assert abs(reference.sum() - 1.0) < 1e-12
        np.testing.assert_allclose(probs, reference, rtol=2e-5, atol=1e-9)
        assert probs.std() > 1e-3  # not trivially uniform


@pytest.mark.parametrize("channels", [3, 1])
def test_direct_log_prob_matches_table_and_reference_at_256_levels(channels, rng):
    levels, k = 256, 5
    pixels = rng.integers(0, levels, size=(300, channels))
    pixels[:2] = [[0] * channels, [levels - 1] * channels]
    params = _random_parameters(rng, len(pixels), k, channels)
    x = _scaled(pixels, levels)
    direct = lm.pixel_log_prob(params, x, k, levels).numpy()  # (N, C)
    table = lm.conditional_log_prob_table(params, x, k, levels).numpy()
    observed = np.take_along_axis(table, pixels[:, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(direct, observed, atol=1e-5)
    reference = np.log([_reference_pixel_prob(p, px, k, levels)
                        for p, px in zip(params, pixels)])
    np.testing.assert_allclose(direct.astype(np.float64).sum(-1), reference, atol=1e-4)


def test_channel_order_and_coefficients():
    """The conditional of G depends on R only through alpha (the first coefficient), that of
    R on nothing in the pixel, with one component whose coefficients are known."""
    k, levels = 1, 256
    params = np.zeros((2, lm.num_parameters(k, 3)), np.float32)
    params[:, 1 + 3 * k:1 + 6 * k] = -3.0  # sharp enough for the means to matter
    params[:, 1 + 6 * k:] = np.arctanh([0.5, 0.0, 0.0])  # alpha, beta, gamma
    pixels = np.array([[0, 128, 128], [255, 128, 128]])
    table = lm.conditional_log_prob_table(params, _scaled(pixels, levels), k, levels).numpy()
    np.testing.assert_array_equal(table[0, 0], table[1, 0])  # R: nothing before it
    np.testing.assert_allclose(table[0, 2], table[1, 2], atol=1e-6)  # B: beta = gamma = 0
    # G's mean moves by alpha * (1 - (-1)) = 1, i.e. 127.5 levels.
    shift = np.argmax(table[1, 1]) - np.argmax(table[0, 1])
    assert abs(shift - 127.5) <= 1, shift


def test_no_nan_or_inf_at_extremes():
    """Values and gradients finite for all-0 / all-255 / mixed pixels with log-scales below
    the clamp, at -7 and at +7, means far outside [-1, 1], huge mixture logits and saturated
    coefficients; the table stays normalized."""
    k, c, levels = 2, 3, 256
    rows = []
    for log_s, mean, logit, coef in itertools.product((-50.0, -7.0, 7.0), (-1e3, -1.0, 0.0,
                                                                          1e3),
                                                      (1e6, 0.0), (1e3, -1e3)):
        p = np.zeros(lm.num_parameters(k, c), np.float32)
        p[:k] = [logit, -logit]
        p[k:k + c * k] = mean
        p[k + c * k:k + 2 * c * k] = log_s
        p[k + 2 * c * k:] = coef
        rows.append(p)
    params = tf.Variable(np.repeat(np.stack(rows), 3, axis=0))
    pixels = np.tile(np.array([[0, 0, 0], [255, 255, 255], [0, 255, 128]]), (len(rows), 1))
    x = tf.Variable(_scaled(pixels, levels))
    with tf.GradientTape(persistent=True) as tape:
        table = lm.conditional_log_prob_table(params, x, k, levels)
        direct = lm.pixel_log_prob(params, x, k, levels)
        loss_table, loss_direct = tf.reduce_sum(table), tf.reduce_sum(direct)
    for value in (table, direct):
        assert np.isfinite(value.numpy()).all()
    for loss in (loss_table, loss_direct):
        for grad in tape.gradient(loss, [params, x]):
            assert grad is not None and np.isfinite(grad.numpy()).all()
    totals = np.exp(table.numpy().astype(np.float64)).sum(-1)
    assert np.abs(totals - 1.0).max() < 1e-5
    observed = np.take_along_axis(table.numpy(), pixels[:, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(direct.numpy(), observed, atol=1e-3, rtol=1e-5)


def test_parameter_count_and_errors():
    assert lm.num_parameters(10, 3) == 100  # the paper's 10 * nr_mix
    assert lm.num_parameters(10, 1) == 30
    with pytest.raises(ValueError, match="Expected 20 mixture parameters"):
        lm.pixel_log_prob(np.zeros((1, 21), np.float32), np.zeros((1, 3), np.float32), 2, 4)


# ---------------------------------------------------------------- layers

def _layer_jacobian(layer, shape, **call_kwargs):
    """|d out / d in| summed over features: (Ho, Wo, H, W)."""
    x = tf.Variable(np.random.default_rng(0).normal(size=(1,) + shape).astype(np.float32))
    with tf.GradientTape() as tape:
        y = layer(x, **call_kwargs)
    jac = tape.jacobian(y, x).numpy()  # (1, Ho, Wo, F', 1, H, W, F)
    return np.abs(jac).sum(axis=(0, 3, 4, 7)), y.shape


@pytest.mark.parametrize("shape", [(5, 7, 2), (4, 4, 2), (1, 3, 2)])
def test_shifted_convolutions_are_causal(shape):
    h, w = shape[:2]
    for layer_class, right in ((DownShiftedConv2D, False), (DownRightShiftedConv2D, True)):
        for strides in (1, 2):
            keras.utils.set_random_seed(0)
            layer = layer_class(3, strides=strides)
            jac, out_shape = _layer_jacobian(layer, shape)
            assert tuple(out_shape[1:3]) == (-(-h // strides), -(-w // strides))
            for r, q, i, j in np.argwhere(jac != 0):
                assert i <= strides * r, (layer_class.__name__, strides, r, q, i, j)
                if right:
                    assert j <= strides * q
            # Not vacuous: the output sees the input row it ends at.
            assert jac[-1, -1, strides * (out_shape[1] - 1)].any()


@pytest.mark.parametrize("size", [(3, 4), (2, 2), (1, 1)])
def test_shifted_transposed_convolutions_are_causal_and_crop(size):
    """Output (o, p) sees inputs (i, k) with 2 i <= o (and 2 k <= p, down-right)."""
    small = (-(-size[0] // 2), -(-size[1] // 2), 2)
    for layer_class, right in ((DownShiftedConvTranspose2D, False),
                               (DownRightShiftedConvTranspose2D, True)):
        keras.utils.set_random_seed(0)
        layer = layer_class(3)
        jac, out_shape = _layer_jacobian(layer, small, output_size=size)
        assert tuple(out_shape[1:3]) == size
        for o, p, i, k in np.argwhere(jac != 0):
            assert 2 * i <= o, (layer_class.__name__, o, p, i, k)
            if right:
                assert 2 * k <= p
        assert jac[:, :, 0].any()


def test_layer_configs_round_trip():
    layers = [DownShiftedConv2D(4, (1, 3), 2), DownRightShiftedConv2D(4, (2, 1)),
              DownShiftedConvTranspose2D(4), DownRightShiftedConvTranspose2D(4, (2, 2), 2),
              GatedResNetBlock("down_right_shifted", dropout_rate=0.3, conditioning_dim=5)]
    for layer in layers:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="kernel width must be odd"):
        DownShiftedConv2D(4, (2, 2))
    with pytest.raises(ValueError, match="conv_type"):
        GatedResNetBlock("up")


# ---------------------------------------------------------------- the model

def test_one_pass_per_pixel_stage_equals_naive_sampler():
    # The generic stage of a LogisticMixtureModel (one full pass per pixel), kept for
    # subclasses without a cache: still the naive sampler's images.
    from pixelrnn_tf.mixture_model import MixtureStage

    shape, levels = (2, 3, 3), 4
    model = _build(shape, levels)
    model.output_kernel.assign(model.output_kernel * 4.0)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, levels, (3,) + shape), tf.int32)
    known = tf.constant(rng.random((3,) + shape[:2]) < 0.4)
    seed = tf.constant(11, tf.int64)
    got = sampling.driver.complete([MixtureStage(model, None)], shape, images, known, seed)
    want = sampling.naive_complete(model, images, known, seed)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_prefix_of_pixels_equals_the_naive_prefix():
    # The benchmark times num_pixels pixels: the same images as num_pixels * C naive steps.
    shape, levels = (3, 4, 3), 4
    model = _build(shape, levels)
    images = tf.constant(np.random.default_rng(1).integers(0, levels, (2,) + shape), tf.int32)
    known, seed = tf.zeros((2,) + shape[:2], tf.bool), tf.constant(5, tf.int64)
    got = model.cached_complete(images, known, seed, num_pixels=5).numpy()
    want = sampling.naive_complete(model, images, known, seed, num_steps=5 * 3).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got.reshape(2, -1)[:, 15:],
                                  images.numpy().reshape(2, -1)[:, 15:])


def test_paper_config_parameter_count(capsys):
    """Built, not trained: the count matches the architecture's formula."""
    config = configs.get("cifar10_pixel_cnn_pp")
    model = configs.build("cifar10_pixel_cnn_pp")
    f, r, c, k = 160, 5, 3, 10
    assert (model.num_resnet, model.units, model.num_mixtures, model.dropout_rate) == (
        r, f, k, 0.5)
    u_block = 2 * 3 * 2 * f * f + f + 2 * 3 * 2 * f * 2 * f + 2 * f  # 2 x 3 convs
    ul_block = 2 * 2 * 2 * f * f + f + 2 * 2 * 2 * f * 2 * f + 2 * f  # 2 x 2 convs
    expected = (
        (2 * 3 + 1 * 3 + 2 * 1) * (c + 1) * f + 3 * f  # the three input convolutions
        + 3 * r * (u_block + ul_block + 2 * f * f)  # up pass; ul's aux is u
        + (3 * r + 2) * (u_block + 2 * f * f + ul_block + 2 * 2 * f * f)  # down pass
        + 2 * 2 * ((2 * 3 + 2 * 2) * f * f + 2 * f)  # 2 down- and 2 upsamplings
        + f * 10 * k + 10 * k)  # the 1 x 1 output to 100 mixture parameters
    params = model.count_params()
    with capsys.disabled():
        print(f"\n[params] cifar10_pixel_cnn_pp: {params:,} parameters (expected "
              f"{expected:,}); train: {config.train}")
    assert params == expected
