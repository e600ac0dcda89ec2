"""Sampling and completion for users (numpy in, numpy out), and image grids.

Every model samples through its own incremental stages (the sampling contract, `driver`);
`naive.naive_complete` is the reference they are tested against.
"""

import numpy as np
import tensorflow as tf


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
    """The sampler used by exports and CLIs (pure TF; same arguments and output as
    `naive.naive_complete`): the model's incremental sampling stages."""
    return model.cached_complete(images, known_mask, seed, conditioning)


def completion_grid(originals, known_rows, completions, num_levels):
    """Rows of [original | occluded | completions...] as one grid array."""
    n, k = len(originals), completions.shape[1]
    occluded = originals.astype(np.float32).copy()
    occluded[:, known_rows:] = (num_levels - 1) / 2.0
    tiles = np.concatenate([originals[:, None], occluded[:, None], completions], axis=1)
    return image_grid(tiles.reshape((n * (k + 2),) + originals.shape[1:]), num_levels,
                      columns=k + 2)
