"""Exact discrete likelihoods: per-sub-pixel log-probabilities, log p(x) in nats, bits/dim."""

import math

import numpy as np
import tensorflow as tf


def validate_images(images, image_shape, num_levels, name="images"):
    """Checks a batch of integer images (B, H, W, C) in [0, num_levels) and returns a tensor.

    Dtype, rank and static shape are checked in Python (ValueError). Values are checked with
    numpy when eager (ValueError) and with tf.debugging ops inside a graph (InvalidArgument),
    so a served signature rejects bad input with a message that names the problem.
    """
    images = tf.convert_to_tensor(images)
    if not (images.dtype.is_integer or images.dtype == tf.bool):
        raise ValueError(f"{name} must have an integer dtype (pixel values 0..{num_levels - 1}),"
                         f" got {images.dtype.name}.")
    expected = (None,) + tuple(image_shape)
    if images.shape.rank is not None and images.shape.rank != 4:
        raise ValueError(f"{name} must have rank 4 (batch, height, width, channels), got rank "
                         f"{images.shape.rank} with shape {images.shape}.")
    static = images.shape.as_list() if images.shape.rank is not None else None
    if static is not None:
        for axis, (got, want) in enumerate(zip(static[1:], image_shape), start=1):
            if got is not None and got != want:
                raise ValueError(f"{name} must have shape (batch, {', '.join(map(str, image_shape))}),"
                                 f" got {tuple(static)}.")
    if images.dtype == tf.bool:
        images = tf.cast(images, tf.int32)
    if tf.executing_eagerly():
        values = images.numpy()
        if values.size and (values.min() < 0 or values.max() >= num_levels):
            raise ValueError(f"{name} values must be in [0, {num_levels}), got min {values.min()}"
                             f" and max {values.max()}.")
        return images
    # Sequenced, so each check runs only on input that passed the previous ones and the
    # first failure is the one reported.
    with tf.control_dependencies([tf.debugging.assert_equal(
            tf.rank(images), 4, message=f"{name} must have rank 4 (batch, height, width, "
                                        "channels)")]):
        padded = tf.concat([tf.shape(images), tf.zeros([4], tf.int32)], 0)[1:4]
        shape_ok = tf.debugging.assert_equal(
            padded, tf.constant(image_shape, tf.int32),
            message=f"{name} must have shape (batch,) + {expected[1:]}")
    with tf.control_dependencies([shape_ok]):
        wide = tf.cast(images, tf.int64)  # uint8 cannot hold num_levels = 256
        range_ok = [
            tf.debugging.assert_non_negative(wide, message=f"{name} values must be >= 0"),
            tf.debugging.assert_less(wide, tf.constant(num_levels, tf.int64),
                                     message=f"{name} values must be < num_levels={num_levels}"),
        ]
    with tf.control_dependencies(range_ok):
        return tf.ensure_shape(tf.identity(images), expected)


def pixel_log_prob_from_logits(logits, images):
    """log p(x_ijc | context) from logits (B, H, W, C, L) and integer images (B, H, W, C)."""
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    index = tf.cast(images, tf.int32)[..., None]
    return tf.squeeze(tf.gather(log_probs, index, axis=-1, batch_dims=4), -1)


def image_log_prob(pixel_log_prob):
    """log p(x) in nats per image: (B, H, W, C) -> (B,)."""
    return tf.reduce_sum(pixel_log_prob, axis=[1, 2, 3])


def bits_per_dim(log_prob, num_dims):
    """-log p(x) / (H W C ln 2)."""
    return -log_prob / (num_dims * math.log(2.0))


def raster_order(image_shape):
    """Rank of each sub-pixel (H, W, C) in raster-then-R,G,B order."""
    return np.arange(int(np.prod(image_shape))).reshape(image_shape)
