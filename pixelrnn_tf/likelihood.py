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


def validate_conditioning(conditioning, model_name, num_classes, conditioning_dim, dtype):
    """Checks the conditioning input of a model and returns it as a tensor (None if the model
    is unconditional): int32 labels (B,) in [0, num_classes), or float vectors
    (B, conditioning_dim)."""
    if not (num_classes or conditioning_dim):
        if conditioning is not None:
            raise ValueError(f"Model {model_name!r} is unconditional; it takes no labels or "
                             "conditioning.")
        return None
    what = (f"int labels (batch,) in [0, {num_classes})" if num_classes
            else f"float vectors (batch, {conditioning_dim})")
    if conditioning is None:
        raise ValueError(f"Model {model_name!r} is conditional: pass conditioning={what}.")
    conditioning = tf.convert_to_tensor(conditioning)
    if conditioning_dim:
        if not conditioning.dtype.is_floating:
            raise ValueError(f"conditioning of {model_name!r} must be {what}, got dtype "
                             f"{conditioning.dtype.name}.")
        if conditioning.shape.rank is not None and (
                conditioning.shape.rank != 2
                or conditioning.shape[-1] not in (None, conditioning_dim)):
            raise ValueError(f"conditioning of {model_name!r} must be {what}, got shape "
                             f"{tuple(conditioning.shape)}.")
        return tf.cast(conditioning, dtype)
    if not conditioning.dtype.is_integer:
        raise ValueError(f"labels of {model_name!r} must be {what}, got dtype "
                         f"{conditioning.dtype.name}.")
    if conditioning.shape.rank is not None and conditioning.shape.rank != 1:
        raise ValueError(f"labels of {model_name!r} must be {what}, got shape "
                         f"{tuple(conditioning.shape)}.")
    labels = tf.cast(conditioning, tf.int32)
    if tf.executing_eagerly():
        values = labels.numpy()
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"labels of {model_name!r} must be in [0, {num_classes}), got min "
                             f"{values.min()} and max {values.max()}.")
        return labels
    checks = [tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
              tf.debugging.assert_less(labels, num_classes,
                                       message=f"labels must be < num_classes={num_classes}")]
    with tf.control_dependencies(checks):
        return tf.identity(labels)


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
