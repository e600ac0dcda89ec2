"""Discretized logistic mixture likelihood over whole pixels (PixelCNN++, Salimans et al. 2017).

A pixel x = (x_0, ..., x_{C-1}), each sub-pixel one of L levels 0..L-1 mapped to [-1, 1]
(bin width 2 / (L - 1)), has

    p(x) = sum_k pi_k prod_c P_logistic(bin of x_c | mean_{k,c}(x_<c), s_{k,c})

where mean_{k,c} is mu_{k,c} plus a linear function of the earlier sub-pixels of the SAME
pixel (for RGB: mean_G = mu_G + alpha r, mean_B = mu_B + beta r + gamma g, Eq. 3 of the
paper). Value 0 gets the whole left tail (CDF of its upper edge), value L-1 the whole right
tail (1 - CDF of its lower edge).

The zoo's machinery (samplers, completion, the causality and normalization tests, exports)
works on per-sub-pixel tables (B, H, W, C, L). `conditional_log_prob_table` gives the EXACT
per-sub-pixel conditional of the whole-pixel mixture:

    log p(x_c = l | x_<c, params) = log sum_k w_k^(c) P(bin l | mean_{k,c}(x_<c), s_{k,c}),
    w_k^(c) ∝ pi_k prod_{c' < c} P(x_c' | k, x_<c')      (the posterior over components),

so the sum over c of the observed entries is exactly log p(pixel). `pixel_log_prob` computes
those observed entries only (the training hot path). Everything is in float32 and stable in
log space: no NaN or Inf, in values or gradients, for any finite parameters.

Parameter layout of the network's P = `num_parameters(K, C)` features per pixel:
    [K mixture logits | C*K means (channel-major) | C*K log-scales | C(C-1)/2*K coefficients]
For C = 3 that is K * (1 + 3C) = 10K (the paper's); for C = 1, 3K (no coefficients). The
coefficients of channel c on channels c' < c come in the order (1, 0), (2, 0), (2, 1), ...,
i.e. (alpha, beta, gamma) for RGB.
"""

import math
from typing import NamedTuple

import tensorflow as tf

# The paper's code clamps log-scales from below (scale >= e^-7 ~ 9e-4, a ninth of a 256-level
# bin): a sharper logistic gains nothing and makes the loss badly conditioned.
MIN_LOG_SCALE = -7.0


def num_coefficients(channels):
    """Coefficients of the linear dependence of each channel's mean on the earlier ones."""
    return channels * (channels - 1) // 2


def num_parameters(num_mixtures, channels):
    """P, the network output features per pixel for K = num_mixtures and C channels."""
    return num_mixtures * (1 + 2 * channels + num_coefficients(channels))


class MixtureParameters(NamedTuple):
    """The mixture of every pixel; `...` are the leading axes, e.g. (B, H, W)."""
    logit_weights: tf.Tensor  # (..., K) unnormalized log pi_k
    means: tf.Tensor  # (..., C, K) mu_{k,c} before the linear dependence on earlier channels
    log_scales: tf.Tensor  # (..., C, K) log s_{k,c}, >= MIN_LOG_SCALE
    coefficients: tf.Tensor  # (..., C(C-1)/2, K) in (-1, 1) (tanh)


def split_parameters(params, channels, num_mixtures):
    """Network output (..., P) -> MixtureParameters (float32)."""
    k, c, n = num_mixtures, channels, num_coefficients(channels)
    params = tf.cast(params, tf.float32)
    if params.shape[-1] is not None and params.shape[-1] != num_parameters(k, c):
        raise ValueError(f"Expected {num_parameters(k, c)} mixture parameters (K={k}, C={c}), "
                         f"got {params.shape[-1]}.")
    lead = tf.shape(params)[:-1]
    logits, means, log_scales, coefficients = tf.split(params, [k, c * k, c * k, n * k], -1)

    def per_channel(t, rows):
        return tf.reshape(t, tf.concat([lead, [rows, k]], 0))  # (..., rows, K)

    return MixtureParameters(
        logits, per_channel(means, c),
        tf.maximum(per_channel(log_scales, c), MIN_LOG_SCALE),
        tf.tanh(per_channel(coefficients, n)))


def conditional_means(mixture, x):
    """Means (..., C, K) of every channel given the observed earlier channels x (..., C) in
    [-1, 1] of the same pixel: mu_c + sum_{c' < c} coefficient_{c, c'} x_c'."""
    channels = mixture.means.shape[-2]
    x = tf.cast(x, tf.float32)
    means, p = [mixture.means[..., 0, :]], 0
    for c in range(1, channels):
        m = mixture.means[..., c, :]
        for earlier in range(c):
            m = m + mixture.coefficients[..., p, :] * x[..., earlier, None]
            p += 1
        means.append(m)
    return tf.stack(means, axis=-2)  # (..., C, K)


def _log1mexp_of_exp(log_d):
    """log(1 - exp(-d)) for d = exp(log_d) > 0, accurate and with finite gradients for any
    finite log_d (Maechler 2012: expm1 below d = ln 2, log1p above; for d -> 0 the series
    log d - d / 2, since d itself may underflow). Double `where`: the branches a position
    does not take get harmless inputs, so their gradients (inf * 0) cannot become NaN."""
    # e^20 wide bins: 1 - exp(-d) == 1 in float32; the cap keeps exp(log_d) finite.
    log_d = tf.minimum(log_d, 20.0)
    d = tf.exp(log_d)
    tiny = log_d < -10.0  # d < 4.5e-5: the series' error O(d^2) is below float32 precision
    small = d < math.log(2.0)
    d_small = tf.where(small & ~tiny, d, 1.0)
    d_large = tf.where(small, 1.0, d)
    return tf.where(tiny, log_d - 0.5 * d,
                    tf.where(small, tf.math.log(-tf.math.expm1(-d_small)),
                             tf.math.log1p(-tf.exp(-d_large))))


def bin_log_prob(x, mean, log_scale, num_levels):
    """log P(the bin of x) under a logistic(mean, e^log_scale) discretized to `num_levels`
    bins of [-1, 1]; x, mean, log_scale broadcast. x is a level mapped to [-1, 1] (snapped to
    the nearest level, so it has no gradient: the likelihood of a discrete value).

    Bin l spans [e_l - h, e_l + h], h = 1 / (L - 1); a = (lower edge - mean) / s,
    b = (upper edge - mean) / s:
      - value 0:     log sigmoid(b)           (the whole left tail)
      - value L - 1: log(1 - sigmoid(a))      (the whole right tail)
      - otherwise:   log(sigmoid(b) - sigmoid(a))
                   = log sigmoid(b) + log sigmoid(-a) + log(1 - exp(-(b - a)))
    using sigmoid(b) - sigmoid(a) = sigmoid(b) sigmoid(-a) (1 - e^(a - b)). Every term is
    computed without cancellation (softplus forms, and b - a = bin width / s from log_scale
    directly), so this is exact to float32 precision in both tails and for any scale. The
    paper's code instead subtracts the two CDFs and, when the difference is below 1e-5
    (underflow), falls back to log pdf(x) + log(bin width); that fallback is not needed
    here because nothing underflows in log space.

    The edges are computed from the level index by one formula, (2l + 1) h - 1, so the upper
    edge of bin l and the lower edge of bin l + 1 are the same float: the bins then tile the
    line exactly and the L probabilities sum to 1 to float32 precision even at s = e^-7
    (with edges x +- h rounded separately, a sharp logistic between two bins loses ~1e-5).
    """
    half = 1.0 / (num_levels - 1)
    x = tf.cast(x, tf.float32)
    mean = tf.cast(mean, tf.float32)
    log_scale = tf.cast(log_scale, tf.float32)
    level = tf.stop_gradient(tf.round((x + 1.0) * (0.5 * (num_levels - 1))))
    inv_scale = tf.exp(-log_scale)
    upper = inv_scale * (((2.0 * level + 1.0) * half - 1.0) - mean)  # b
    lower = inv_scale * (((2.0 * level - 1.0) * half - 1.0) - mean)  # a
    log_cdf_upper = -tf.nn.softplus(-upper)  # log sigmoid(b)
    log_sf_lower = -tf.nn.softplus(lower)  # log(1 - sigmoid(a)) = log sigmoid(-a)
    interior = log_cdf_upper + log_sf_lower + _log1mexp_of_exp(
        math.log(2.0 * half) - log_scale)  # log(b - a) = log(bin width) - log s
    return tf.where(level < 0.5, log_cdf_upper,
                    tf.where(level > num_levels - 1.5, log_sf_lower, interior))


def _component_log_probs(mixture, x, num_levels):
    """log P(x_c | component k, x_<c) of the observed sub-pixels: (..., C, K)."""
    x = tf.cast(x, tf.float32)
    return bin_log_prob(x[..., None], conditional_means(mixture, x), mixture.log_scales,
                        num_levels)


def pixel_log_prob(params, x, num_mixtures, num_levels):
    """log p(x_c | x_<c of the pixel, params) of the OBSERVED sub-pixels x (..., C) in
    [-1, 1], (..., C); summed over C this is log p(pixel) of PixelCNN++.

    The observed entries of `conditional_log_prob_table`, without the L-wide table:
    log p(x_<=c) = logsumexp_k(log pi_k + sum_{c' <= c} log P(x_c' | k)), and channel c's
    conditional is log p(x_<=c) - log p(x_<c)."""
    x = tf.cast(x, tf.float32)
    mixture = split_parameters(params, x.shape[-1], num_mixtures)
    per_component = _component_log_probs(mixture, x, num_levels)  # (..., C, K)
    log_weights = tf.nn.log_softmax(mixture.logit_weights, axis=-1)  # (..., K)
    joint = log_weights[..., None, :] + tf.cumsum(per_component, axis=-2)  # (..., C, K)
    marginal = tf.reduce_logsumexp(joint, axis=-1)  # (..., C): log p(x_<=c)
    previous = tf.concat([tf.zeros_like(marginal[..., :1]), marginal[..., :-1]], axis=-1)
    return marginal - previous


def level_values(num_levels):
    """The L levels mapped to [-1, 1], (L,) float32."""
    return tf.range(num_levels, dtype=tf.float32) * (2.0 / (num_levels - 1)) - 1.0


def conditional_log_prob_table(params, x, num_mixtures, num_levels, channel=None):
    """log p(x_c = l | x_<c, params) for every channel c and level l: (..., C, L), normalized
    over l. The table of channel c uses the observed channels < c of x (..., C) in [-1, 1]
    (for the posterior over components and the means), never x_c or later channels.

    channel: an int c to compute channel c's table only, (..., L): a sampler draws one
    channel at a time, and the K x L level table is most of the work (C times less)."""
    x = tf.cast(x, tf.float32)
    mixture = split_parameters(params, x.shape[-1], num_mixtures)
    observed = _component_log_probs(mixture, x, num_levels)  # (..., C, K)
    log_weights = tf.nn.log_softmax(mixture.logit_weights, axis=-1)  # (..., K)
    means = conditional_means(mixture, x)  # (..., C, K)
    if channel is not None:
        # The full table's computation for channel c only (equal to its row up to rounding;
        # the naive sampler draws from this one too, so the samplers' images agree).
        # (tf.gather and expand_dims, not t[..., c, :, None]: in a graph that slice lost its
        # new axis at run time, though its static shape had it.)
        prior = log_weights + tf.reduce_sum(observed[..., :channel, :], axis=-2)
        posterior = tf.nn.log_softmax(prior, axis=-1)  # (..., K)
        every_level = bin_log_prob(
            level_values(num_levels), tf.expand_dims(tf.gather(means, channel, axis=-2), -1),
            tf.expand_dims(tf.gather(mixture.log_scales, channel, axis=-2), -1),
            num_levels)  # (..., K, L)
        return tf.reduce_logsumexp(posterior[..., None] + every_level, axis=-2)  # (..., L)
    # Posterior over components given the earlier channels: pi_k prod_{c' < c} P(x_c' | k).
    prior = log_weights[..., None, :] + tf.cumsum(observed, axis=-2, exclusive=True)
    posterior = tf.nn.log_softmax(prior, axis=-1)  # (..., C, K)
    every_level = bin_log_prob(level_values(num_levels), means[..., None],
                               mixture.log_scales[..., None], num_levels)  # (..., C, K, L)
    return tf.reduce_logsumexp(posterior[..., None] + every_level, axis=-2)  # (..., C, L)
