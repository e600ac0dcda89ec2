"""Naive (one full network pass per sub-pixel) sampling and completion.

The noise of sub-pixel k is drawn from a stateless RNG keyed by (seed, k) and turned into a
sample by Gumbel-max, so the result depends only on (seed, position): any other sampler that
walks the same order with the same keys must produce the same images.
"""

import numpy as np
import tensorflow as tf


def gumbel_noise(seed, position, batch, num_levels):
    """Gumbel(0, 1) noise (batch, num_levels) depending only on (seed, position)."""
    u = tf.random.stateless_uniform([batch, num_levels], seed=tf.stack([
        tf.cast(seed, tf.int64), tf.cast(position, tf.int64)]), minval=1e-20, maxval=1.0)
    return -tf.math.log(-tf.math.log(u))


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
    batch = tf.shape(images)[0]
    rows = tf.range(batch)

    def body(t, x):
        position = order[t]
        i, j, ch = position // (w * c), (position // c) % w, position % c
        logits = model.position_logits(x, i, j, ch, conditioning)  # (B, L)
        choice = tf.argmax(logits + gumbel_noise(seed, position, batch, model.num_levels),
                           axis=-1, output_type=tf.int32)
        value = tf.where(known_mask[:, i, j], x[:, i, j, ch], choice)
        index = tf.stack([rows, tf.fill([batch], i), tf.fill([batch], j), tf.fill([batch], ch)],
                         axis=1)
        return t + 1, tf.tensor_scatter_nd_update(x, index, value)

    steps = h * w * c if num_steps is None else num_steps
    _, out = tf.while_loop(lambda t, _: t < steps, body,
                           (tf.constant(0), tf.cast(images, tf.int32)))
    return out


def complete(model, images, known_mask, seed=0, conditioning=None):
    """Sample the unknown pixels of `images` (B, H, W, C) given `known_mask` (B, H, W).

    Unknown sub-pixels are sampled one at a time in the model's generation order (raster then
    R, G, B for single-scale models), each from the model's conditional given the current
    image. When every known pixel comes before every unknown one (e.g. the top rows are known)
    this is exact sampling from p(unknown | known). For other masks each pixel is sampled given
    only the pixels before it, so known pixels AFTER it do not influence it (they are inputs
    to later conditionals only): an approximation, not the true posterior.
    """
    images = model.validate(images)
    known = np.asarray(known_mask).astype(bool)
    if known.shape != tuple(images.shape[:3]):
        raise ValueError(f"known_mask must have shape {tuple(images.shape[:3])}, "
                         f"got {known.shape}.")
    conditioning = model.check_conditioning(conditioning)
    if conditioning is not None and conditioning.shape[0] != images.shape[0]:
        raise ValueError(f"conditioning has {conditioning.shape[0]} rows for "
                         f"{images.shape[0]} images.")
    fn = tf.function(lambda x, k, s, *cond: graph_complete(model, x, k, s, *cond))
    out = fn(tf.cast(images, tf.int32), tf.constant(known), tf.constant(seed, tf.int64),
             *([] if conditioning is None else [conditioning]))
    return out.numpy().astype(np.uint8)


def sample(model, num_samples, seed=0, conditioning=None):
    """`num_samples` images (N, H, W, C) uint8 from the model (given `conditioning`, one row
    per sample, for a conditional model)."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
    zeros = np.zeros((num_samples,) + model.image_shape, np.int32)
    return complete(model, zeros, np.zeros(zeros.shape[:3], bool), seed, conditioning)


def image_grid(images, num_levels, columns=None, pad=1):
    """(N, H, W, C) images of `num_levels` levels -> one uint8 grid (rows, cols, 1 or 3)."""
    images = np.asarray(images, np.float32) * (255.0 / (num_levels - 1))
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 128, np.float32)
    for k in range(n):
        r, q = divmod(k, columns)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h,
             pad + q * (w + pad):pad + q * (w + pad) + w] = images[k]
    return np.clip(np.round(grid), 0, 255).astype(np.uint8)


def save_png(grid, path, scale=4):
    from PIL import Image

    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    img = img.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    img.save(path)
    return path


def graph_complete(model, images, known_mask, seed, conditioning=None):
    """The sampler used by exports and CLIs: a cached one (pure TF; same signature and
    output as `naive_complete`) when the model has one, else the naive one."""
    from pixelrnn_tf import cached_sampling

    cached = getattr(model, "cached_complete", None)
    if cached is not None:
        return cached(images, known_mask, seed, conditioning)
    if cached_sampling.supports(model):
        return cached_sampling.cached_complete(model, images, known_mask, seed)
    return naive_complete(model, images, known_mask, seed, conditioning=conditioning)


def completion_grid(originals, known_rows, completions, num_levels):
    """Rows of [original | occluded | completions...] as one grid array."""
    n, k = len(originals), completions.shape[1]
    occluded = originals.astype(np.float32).copy()
    occluded[:, known_rows:] = (num_levels - 1) / 2.0
    tiles = np.concatenate([originals[:, None], occluded[:, None], completions], axis=1)
    return image_grid(tiles.reshape((n * (k + 2),) + originals.shape[1:]), num_levels,
                      columns=k + 2)
