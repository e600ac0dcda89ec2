"""The naive sampler: one full network pass per sub-pixel. The reference every model's
incremental sampler is tested against (same seed -> identical images)."""

import numpy as np
import tensorflow as tf

from pixelrnn_tf.sampling.draw import draw


def naive_complete(model, images, known_mask, seed, num_steps=None, conditioning=None):
    """Pure-TF graph: fill the unknown sub-pixels one at a time, one full pass each.

    images: int32 (B, H, W, C); known_mask: bool (B, H, W); seed: int64 scalar;
    conditioning: labels or vectors (B, ...) for a conditional model, else None. Walks the
    model's generation order with a tf.while_loop; sub-pixel k's value is
    argmax(logits_k + Gumbel noise keyed by (seed, k)), or its known value.
    num_steps: stop after this many sub-pixels (benchmarks time a prefix).
    """
    h, w, c = model.image_shape
    order = tf.constant(np.argsort(model.ordering().reshape(-1)), tf.int32)

    def body(t, x):
        position = order[t]  # the raster index of the sub-pixel, also its noise key
        i, j, ch = position // (w * c), (position // c) % w, position % c
        logits = model.position_logits(x, i, j, ch, conditioning)  # (B, L)
        return t + 1, draw(x, logits, seed, position, known_mask, i, j, ch)

    steps = h * w * c if num_steps is None else num_steps
    _, out = tf.while_loop(lambda t, _: t < steps, body,
                           (tf.constant(0), tf.cast(images, tf.int32)))
    return out
