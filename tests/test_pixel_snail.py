"""PixelSNAIL: the causal attention (the masked softmax against a reference, the fully masked
first position finite and zero in values and gradients even at extreme inputs, strict
causality by gradients with negative controls that leak), the model (the control: a blind
spot without the attention) and the paper config's size.

tests/test_mixture_models.py has the model checks PixelSNAIL shares with PixelCNN++, run for
both (no blind spot thanks to the attention, the direct log-prob == the table, dropout,
conditioning, extremes). The shared suites cover the rest for every registered model:
tests/test_conformance.py (causality, exact normalization, .keras save/load, tf.train
checkpoint restore) and tests/test_sampling.py (cached sampler == naive sampler, sample
frequencies)."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models import configs
from pixelrnn_tf.layers import causal_attention
from pixelrnn_tf.layers.causal_attention import CausalAttention, attention_weights, causal_mask
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from tests.helpers import dependence

TINY = dict(num_blocks=1, num_resnet=1, units=8, key_size=4, value_size=8, num_mixtures=2,
            dropout_rate=0.5)


def _build(shape, levels, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return models.build("pixel_snail", image_shape=shape, num_levels=levels,
                        **dict(TINY, **overrides))


def _attention(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return CausalAttention(**dict(dict(key_size=4, value_size=4), **kwargs))


# ---------------------------------------------------------------- the masked softmax

def _reference_weights(q, k):
    """float64 numpy: row t is the softmax of q_t . k_s / sqrt(d) over s < t, zeros
    elsewhere; row 0 all zeros."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    logits = np.einsum("...td,...sd->...ts", q, k) / np.sqrt(q.shape[-1])
    t = logits.shape[-1]
    out = np.zeros_like(logits)
    for row in range(1, t):
        z = logits[..., row, :row]
        z = np.exp(z - z.max(-1, keepdims=True))
        out[..., row, :row] = z / z.sum(-1, keepdims=True)
    return out


def test_attention_weights_are_the_masked_softmax(rng):
    t = 7
    q = rng.normal(size=(2, 3, t, 5)).astype(np.float32) * 2
    k = rng.normal(size=(2, 3, t, 5)).astype(np.float32) * 2
    mask = causal_mask(t)
    np.testing.assert_array_equal(mask.numpy(), np.tril(np.ones((t, t), bool), -1))
    weights = attention_weights(q, k, mask).numpy()
    np.testing.assert_allclose(weights, _reference_weights(q, k), atol=1e-6)
    # Exactly what the mask says: zero at and after the diagonal, row 0 all zeros (not NaN,
    # not uniform), every other row a distribution.
    assert (weights[..., ~mask.numpy()] == 0).all()
    assert (weights[..., 0, :] == 0).all()
    np.testing.assert_allclose(weights[..., 1:, :].sum(-1), 1.0, atol=1e-6)
    assert (weights[..., 1, 0] == 1).all()  # position 1 has exactly one key


def _finite_values_and_gradients(fn, *inputs):
    """fn(*variables) -> (value, [gradients of a random projection of it]) as numpy."""
    variables = [tf.Variable(np.asarray(x, np.float32)) for x in inputs]
    with tf.GradientTape() as tape:
        value = fn(*variables)
        projection = tf.random.stateless_normal(tf.shape(value), [1, 2])
        objective = tf.reduce_sum(value * projection)
    grads = tape.gradient(objective, variables)
    return value.numpy(), [g.numpy() for g in grads]


EXTREMES = {  # (query scale, key scale, signed): logits of every magnitude and sign
    "zero": (0.0, 0.0, True),
    "moderate": (1.0, 1.0, True),
    "huge positive logits": (1e6, 1e6, False),  # every q . k ~ +1e12
    "huge negative logits": (1e6, -1e6, False),  # every q . k ~ -1e12: below any fill value
    "mixed huge": (1e7, 1e7, True),  # q . k ~ +-1e14
}


@pytest.mark.parametrize("case", sorted(EXTREMES))
def test_first_position_is_zero_and_finite_at_extremes(case, rng):
    """Values and gradients finite everywhere (position 0, whose row is fully masked,
    included), position 0's output exactly 0 and every other row still a distribution,
    for logits up to +-1e14."""
    q_scale, k_scale, signed = EXTREMES[case]
    t, d = 6, 4

    def draw(scale):
        base = rng.normal(size=(2, 1, t, d))
        return (base if signed else np.abs(base) + 0.5) * scale

    q, k, v = draw(q_scale), draw(k_scale), rng.normal(size=(2, 1, t, 3))
    mask = causal_mask(t)

    def attend(q, k, v):
        return tf.matmul(attention_weights(q, k, mask), v)  # (B, 1, T, 3)

    out, grads = _finite_values_and_gradients(attend, q, k, v)
    assert np.isfinite(out).all()
    assert all(np.isfinite(g).all() for g in grads), case
    assert (out[:, :, 0] == 0).all()
    weights = attention_weights(q.astype(np.float32), k.astype(np.float32), mask).numpy()
    np.testing.assert_allclose(weights[..., 1:, :].sum(-1), 1.0, atol=1e-5)
    assert (weights[..., ~mask.numpy()] == 0).all()
    # Position 0's value has no effect on anything but later positions, and the gradient
    # reaching position 0's query is exactly 0 (its row attends to nothing).
    assert (grads[0][:, :, 0] == 0).all()


def test_naive_softmax_control_produces_nan_at_the_first_position(rng):
    """Negative control for the test above: the usual masked softmax (-inf on masked
    entries, as in public ports) is NaN on the fully masked first row, which the same
    finiteness checks would catch."""
    t = 5
    q, k, v = (rng.normal(size=(1, t, 4)) for _ in range(3))
    mask = causal_mask(t)

    def naive(q, k, v):
        logits = tf.matmul(q, k, transpose_b=True) / 2.0
        logits = tf.where(mask, logits, tf.constant(-np.inf, tf.float32))
        return tf.matmul(tf.nn.softmax(logits, axis=-1), v)

    out, grads = _finite_values_and_gradients(naive, q, k, v)
    assert np.isnan(out[:, 0]).all()
    assert not all(np.isfinite(g).all() for g in grads)


def test_finite_fill_control_loses_rows_of_very_negative_logits(rng):
    """Negative control for the "huge negative logits" case: the paper's code subtracts 1e10
    from masked logits and divides by (sum + 1e-6); with every logit ~ -1e12 the row maximum
    is then a masked entry and the allowed weights all underflow to 0 (rows sum to 0, not
    1), which the sum-to-1 check above catches."""
    t = 5
    q = (np.abs(rng.normal(size=(1, t, 4))) + 0.5) * 1e6
    k = -(np.abs(rng.normal(size=(1, t, 4))) + 0.5) * 1e6
    mask = tf.cast(causal_mask(t), tf.float32)
    logits = tf.matmul(q.astype(np.float32), k.astype(np.float32), transpose_b=True)
    logits = logits - (1.0 - mask) * 1e10
    exp = tf.exp(logits - tf.reduce_max(logits, -1, keepdims=True)) * mask
    weights = (exp / (tf.reduce_sum(exp, -1, keepdims=True) + 1e-6)).numpy()
    assert np.abs(weights[..., 1:, :].sum(-1) - 1.0).max() > 0.5


# ---------------------------------------------------------------- the layer

def _layer_dependence(layer, x_shape, image_shape, seed=0):
    """|d out_t / d x_s| and |d out_t / d image_s| summed over features, each (T, T) over
    the raster positions t (output), s (input); max over a few random inputs."""
    rng = np.random.default_rng(seed)
    dep_x = dep_image = 0
    for _ in range(3):
        x = tf.Variable(rng.normal(size=(1,) + x_shape).astype(np.float32))
        image = tf.Variable(rng.uniform(-1, 1, size=(1,) + image_shape).astype(np.float32))
        with tf.GradientTape(persistent=True) as tape:
            out = layer([x, image])  # (1, H, W, V)
        t = x_shape[0] * x_shape[1]
        jac_x = tape.jacobian(out, x).numpy().reshape(t, -1, t, x_shape[-1])
        jac_image = tape.jacobian(out, image).numpy().reshape(t, -1, t, image_shape[-1])
        dep_x = np.maximum(dep_x, np.abs(jac_x).sum(axis=(1, 3)))
        dep_image = np.maximum(dep_image, np.abs(jac_image).sum(axis=(1, 3)))
    return dep_x, dep_image


@pytest.mark.parametrize("num_heads", [1, 2])
def test_attention_layer_is_strictly_causal(num_heads):
    """Over the flattened 3 x 4 positions: output t depends on the image at positions < t
    only (strictly: not its own), and on the block input x at positions <= t (the query at
    t); and (untrained, dense) on those."""
    x_shape, image_shape = (3, 4, 3), (3, 4, 2)
    layer = _attention(num_heads=num_heads)
    dep_x, dep_image = _layer_dependence(layer, x_shape, image_shape)
    t = 12
    strictly_before = np.tril(np.ones((t, t), bool), -1)
    at_or_before = np.tril(np.ones((t, t), bool))
    assert not dep_image[~strictly_before].any(), np.argwhere(dep_image * ~strictly_before)
    assert not dep_x[~at_or_before].any(), np.argwhere(dep_x * ~at_or_before)
    assert (dep_image[strictly_before] > 0).all()
    assert (dep_x[strictly_before] > 0).all()  # through the keys and values
    # Through the query: from position 2 on (position 1 has a single key, weight 1 whatever
    # the query), and position 0 depends on nothing.
    assert (np.diag(dep_x)[2:] > 0).all() and np.diag(dep_x)[1] == 0
    assert not dep_x[0].any() and not dep_image[0].any()


@pytest.mark.parametrize("mask, leak", [
    (lambda t: tf.ones((t, t), bool), "future"),  # no mask at all
    (lambda t: tf.range(t)[None, :] <= tf.range(t)[:, None], "itself"),  # not strict
])
def test_causality_check_catches_a_leaking_mask(monkeypatch, mask, leak):
    """Negative controls: the same layer with an unmasked (or non-strict) attention makes the
    check above fail: output t then sees the image at t (its own pixel) and after."""
    monkeypatch.setattr(causal_attention, "causal_mask", mask)
    _, dep_image = _layer_dependence(_attention(), (3, 4, 3), (3, 4, 2))
    assert np.diag(dep_image).all()  # every position sees its own pixel
    future = np.triu(np.ones((12, 12), bool), 1)
    assert dep_image[future].any() == (leak == "future")


def test_attention_dropout_only_in_training(rng):
    layer = _attention(dropout_rate=0.5)
    inputs = [rng.normal(size=(2, 3, 3, 4)).astype(np.float32),
              rng.uniform(-1, 1, size=(2, 3, 3, 1)).astype(np.float32)]
    inference = layer(inputs).numpy()
    np.testing.assert_array_equal(layer(inputs, training=False).numpy(), inference)
    assert np.abs(layer(inputs, training=True).numpy() - inference).max() > 1e-4
    np.testing.assert_array_equal(inference[:, 0, 0], 0.0)
    np.testing.assert_array_equal(layer(inputs, training=True).numpy()[:, 0, 0], 0.0)


def test_layer_configs_round_trip_and_errors():
    for layer in (CausalAttention(8, 16, num_heads=4, dropout_rate=0.2, conditioning_dim=3,
                                  nonlinearity="concat_elu"),
                  GatedResNetBlock("down_right_shifted", (1, 1), nonlinearity="elu")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="divisible by num_heads"):
        CausalAttention(6, 8, num_heads=4)
    with pytest.raises(ValueError, match="must be >= 1"):
        CausalAttention(0, 8)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        GatedResNetBlock(nonlinearity="relu")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        _build((3, 3, 1), 4, num_heads=3)


# ---------------------------------------------------------------- the model

def _future(shape):
    k = int(np.prod(shape))
    return np.arange(k)[None, :] >= np.arange(k)[:, None]  # (output, input), raster order


def test_without_attention_the_stream_has_a_blind_spot(monkeypatch):
    """Control for tests/test_mixture_models.py's test_causal_and_sees_every_earlier_sub_pixel:
    with an attention that may attend to nothing, the same check finds earlier pixels the
    model cannot see (e.g. two rows up, to the right)."""
    monkeypatch.setattr(causal_attention, "causal_mask",
                        lambda t: tf.zeros((t, t), bool))
    shape = (4, 6, 1)
    jac = dependence(_build(shape, 4))
    missing = {(np.unravel_index(a, shape)[:2], np.unravel_index(b, shape)[:2])
               for a, b in np.argwhere(~_future(shape) & (jac == 0))}
    assert ((3, 0), (0, 5)) in missing  # bottom-left does not see top-right


def test_paper_config_parameter_count(capsys):
    """Built, not trained: the count matches the architecture's formula (no weight norm, so
    no per-filter gains; elu, so the gated blocks' first convolutions see F features)."""
    config = configs.get("cifar10_pixel_snail")
    model = configs.build("cifar10_pixel_snail")
    n, r, f, c, k, v, mix = 12, 4, 256, 3, 16, 128, 10
    assert (model.num_blocks, model.num_resnet, model.units, model.key_size, model.value_size,
            model.num_mixtures, model.dropout_rate, model.nonlinearity) == (
        n, r, f, k, v, mix, 0.5, "elu")

    def gated(features, kernel=1, aux=0):  # conv_1 F -> F, conv_2 F -> 2F, aux A -> F
        return kernel * (features * features + 2 * features * features) + 3 * features \
            + aux * features

    content, query = c + f + 2, f + 2  # [image, ul, position] and [ul, position]
    attention = (gated(content) + content * (k + v) + (k + v)
                 + gated(query) + query * k + k)
    block = r * gated(f, kernel=4) + attention + gated(f, aux=v)
    expected = ((1 * 3 + 2 * 1) * (c + 1) * f + 2 * f  # the two input convolutions
                + n * block
                + f * 10 * mix + 10 * mix)  # the 1 x 1 output to 100 mixture parameters
    params = model.count_params()
    with capsys.disabled():
        print(f"\n[params] cifar10_pixel_snail: {params:,} parameters (expected "
              f"{expected:,}); train: {config.train}")
    assert params == expected
    # About 46M: the 48 gated 2 x 2 residual blocks (12 F^2 each) are ~82% of it.
    assert 45e6 < params < 47e6
