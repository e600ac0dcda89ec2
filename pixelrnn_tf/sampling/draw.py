"""The one draw step every sampler shares: Gumbel-max with noise keyed by (seed, position).

The noise of sub-pixel k (its raster index (i * W + j) * C + c) comes from a stateless RNG
keyed by (seed, k), so an image depends only on the seed and the conditionals: any sampler
that walks the model's order with the same keys produces the same images.
"""

import tensorflow as tf


def gumbel_noise(seed, position, batch, num_levels):
    """Gumbel(0, 1) noise (batch, num_levels) depending only on (seed, position)."""
    u = tf.random.stateless_uniform([batch, num_levels], seed=tf.stack([
        tf.cast(seed, tf.int64), tf.cast(position, tf.int64)]), minval=1e-20, maxval=1.0)
    return -tf.math.log(-tf.math.log(u))


def raster_key(image_shape, i, j, channel):
    """The noise key of sub-pixel (i, j, channel): its raster index."""
    _, w, c = image_shape
    return (i * w + j) * c + channel


def draw(image, logits, seed, key, known_mask, i, j, channel):
    """Sub-pixel (i, j, channel) of int32 `image` (B, H, W, C) set to argmax(logits + Gumbel
    noise keyed by (seed, key)), or kept where `known_mask` (B, H, W) is set."""
    batch = tf.shape(image)[0]
    levels = logits.shape[-1] if logits.shape[-1] is not None else tf.shape(logits)[-1]
    choice = tf.argmax(logits + gumbel_noise(seed, key, batch, levels), axis=-1,
                       output_type=tf.int32)
    value = tf.where(known_mask[:, i, j], image[:, i, j, channel], choice)
    index = tf.stack([tf.range(batch), tf.fill([batch], i), tf.fill([batch], j),
                      tf.fill([batch], channel)], axis=1)
    return tf.tensor_scatter_nd_update(image, index, value)
