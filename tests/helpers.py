"""Shared test helpers: exact Jacobians of per-sub-pixel logits w.r.t. the input image; the
served version of each zoo model."""

import os

import numpy as np
import tensorflow as tf


def logit_jacobian(model, image):
    """|d logits / d x| summed over levels, shape (K, K) with K = H*W*C in raster order.

    One backward pass: the image is repeated K times and copy k's gradient is taken of a random
    projection of output k's logits only, so row k is the gradient of sub-pixel k's logits.
    Copies do not interact (no layer mixes the batch), and a random projection over levels
    cannot cancel a real dependence except on a set of measure zero.
    """
    h, w, c = model.image_shape
    k = h * w * c
    x = tf.Variable(np.repeat(image[None].astype(np.float32), k, axis=0))
    rng = np.random.default_rng(0)
    select = np.eye(k, dtype=np.float32).reshape(k, h, w, c)[..., None]
    weights = select * rng.uniform(0.5, 1.5, size=(k, 1, 1, 1, model.num_levels)).astype(np.float32)
    with tf.GradientTape() as tape:
        logits = model(x)  # (K, H, W, C, L)
        objective = tf.reduce_sum(logits * weights)
    grad = tape.gradient(objective, x).numpy().reshape(k, k)
    return np.abs(grad)


def dependence(model, num_images=3, seed=0):
    """Max over a few random inputs of |d logits_k / d x_m|: (K, K), raster order.

    A ReLU network can have a zero gradient at one input where it depends on x_m elsewhere
    (all units on the path inactive), so a dependence is a non-zero gradient at ANY input;
    a leak is a non-zero gradient at any input too.
    """
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, model.num_levels - 1, size=(num_images,) + model.image_shape)
    return np.max([logit_jacobian(model, image) for image in images], axis=0)


def in_order(jacobian, rank):
    """Permute a raster-order Jacobian into the model's generation order."""
    order = np.argsort(rank.reshape(-1))
    return jacobian[np.ix_(order, order)]


def immediate_predecessors(model):
    """Boolean (K, K): m is an immediate predecessor of k (raster indices).

    The earlier channels of the same pixel, and every channel of the pixel to the left and of
    the pixel above, on the grid the sub-pixel is generated on (stride 2 for the small image
    of a Multi-Scale model), when they come earlier in the model's order.
    """
    h, w, c = model.image_shape
    rank = model.ordering()
    small = getattr(model, "small_shape", None) is not None
    pred = np.zeros((h, w, c, h, w, c), bool)
    for i in range(h):
        for j in range(w):
            stride = 2 if small and i % 2 == 0 and j % 2 == 0 else 1
            for ch in range(c):
                pred[i, j, ch, i, j, :ch] = True
                if j - stride >= 0:
                    pred[i, j, ch, i, j - stride, :] = True
                if i - stride >= 0:
                    pred[i, j, ch, i - stride, j, :] = True
    pred = pred.reshape(h * w * c, h * w * c)
    r = rank.reshape(-1)
    return pred & (r[None, :] < r[:, None])


def newest_versions(version_dirs):
    """The highest version of each model: what TF Serving serves and `from_preset` loads."""
    newest = {}
    for v in version_dirs:
        name, number = os.path.dirname(v), int(os.path.basename(v))
        if number > newest.get(name, (-1, None))[0]:
            newest[name] = (number, v)
    return sorted(v for _, v in newest.values())
