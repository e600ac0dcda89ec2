"""The generic incremental driver: walks a model's sampling stages one pixel at a time.

The sampling contract (`AutoregressiveModel.sampling_stages(conditioning)`): a model answers
with a list of stages, walked in order, that together generate every sub-pixel in the model's
order. A stage has
  - `pixels`: (P, 2) numpy array of the (i, j) it generates, in order (C channels each);
  - `initial_state(images, known_mask)`: its loop state (caches), from the image so far;
  - `begin_pixel(state, images, t, i, j)` -> (state, pixel_state): what the earlier positions
    contribute at the t-th pixel (i, j), computed once per pixel;
  - `channel_logits(pixel_state, images, i, j, channel)` -> (logits (B, L), pixel_state): the
    conditional of one channel given the channels drawn before it;
  - `end_pixel(state, pixel_state, images, t, i, j)` -> state: the pixel is final, cache it.
  - `full_pass_per_pixel`: True when a pixel costs a full network pass (what a benchmark
    times on a prefix), False for an incremental stage;
  - optionally `begin_row(state, images, t, i)` -> state: called before the first pixel (the
    t-th) of every row i of `pixels` (a run of pixels with the same i): the work a row does
    once (a vertical stream's row, the rows above of a convolution), in a loop over rows
    around the loop over the row's pixels, so that no per-pixel conditional carries the
    caches (under XLA a conditional at every pixel copied them: 3.6x slower with tf.cond,
    13x with a 0-or-1-trip loop, for PixelSNAIL-size blocks in a micro-benchmark).
The driver draws each sub-pixel with the one shared draw step (noise keyed by the sub-pixel's
raster index), so every stage list gives the naive sampler's images for the same seed. After
a stage, the pixels it walked count as known for the next one (Multi-Scale: the small image).
"""

import numpy as np
import tensorflow as tf
# The one way to tell, while tracing, that a function is compiled with XLA (jit_compile).
from tensorflow.python.ops import control_flow_util

from pixelrnn_tf.sampling.draw import draw, raster_key


def walk(stage, image_shape, images, known_mask, seed, num_pixels=None, probe=None):
    """Run one stage over its pixels; returns the completed images (int32).

    probe: optional fn(pixel_state) -> tensor, recorded at every pixel after `begin_pixel`;
    then returns (images, records (P, ...)). With every pixel known this is teacher forcing:
    tests compare what a stage computes at each pixel to the full network pass."""
    c = image_shape[-1]
    pixels = tf.constant(np.asarray(stage.pixels, np.int32))
    state = stage.initial_state(images, known_mask)
    stop = len(stage.pixels) if num_pixels is None else min(num_pixels, len(stage.pixels))
    # Loop state: (images, stage state, records); records is a dummy 0 without a probe.
    records = (tf.TensorArray(tf.float32, size=stop, element_shape=None)
               if probe is not None else tf.constant(0))

    def body(t, images, state, records):
        i, j = pixels[t, 0], pixels[t, 1]
        state, pixel_state = stage.begin_pixel(state, images, t, i, j)
        if probe is not None:
            records = records.write(t, probe(pixel_state))
        for ch in range(c):
            logits, pixel_state = stage.channel_logits(pixel_state, images, i, j, ch)
            images = draw(images, logits, seed, raster_key(image_shape, i, j, ch), known_mask,
                          i, j, ch)
        return t + 1, images, stage.end_pixel(state, pixel_state, images, t, i, j), records

    if not hasattr(stage, "begin_row"):
        _, images, _, records = tf.while_loop(lambda t, *_: t < stop, body,
                                              (tf.constant(0), images, state, records))
    else:
        rows = np.asarray(stage.pixels)[:, 0]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # each row's first pixel
        bounds = tf.constant(np.r_[starts, len(rows)].astype(np.int32))

        def row_body(r, images, state, records):
            first, end = bounds[r], tf.minimum(bounds[r + 1], stop)
            state = stage.begin_row(state, images, first, pixels[first, 0])
            _, images, state, records = tf.while_loop(lambda t, *_: t < end, body,
                                                      (first, images, state, records))
            return r + 1, images, state, records

        _, images, _, records = tf.while_loop(
            lambda r, *_: r < int(np.sum(starts < stop)), row_body,
            (tf.constant(0), images, state, records))
    return images if probe is None else (images, records.stack())


def complete(stages, image_shape, images, known_mask, seed, num_pixels=None):
    """Walk `stages` in order (pure TF). num_pixels: stop after this many pixels of the first
    stage (benchmarks time a prefix)."""
    h, w, c = image_shape
    # Served signatures may pass tensors of unknown static shape; the stages' loop state
    # needs static shapes, so pin (and check) the image shape here.
    images = tf.ensure_shape(tf.cast(images, tf.int32), [None, h, w, c])
    known_mask = tf.ensure_shape(tf.cast(known_mask, tf.bool), [None, h, w])
    seed = tf.cast(seed, tf.int64)
    for n, stage in enumerate(stages):
        images = walk(stage, image_shape, images, known_mask, seed, num_pixels)
        if num_pixels is not None:
            break
        if n + 1 < len(stages):
            walked = np.zeros((h, w), bool)
            walked[tuple(np.asarray(stage.pixels).T)] = True
            known_mask = tf.logical_or(known_mask, tf.constant(walked)[None])
    return images


def raster_pixels(height, width, stride=1):
    """(P, 2) pixels of the grid of `stride` in raster order."""
    return np.array([(i, j) for i in range(0, height, stride) for j in range(0, width, stride)],
                    np.int32).reshape(-1, 2)


def update_if(pred, fn, state):
    """fn(state) if `pred` else state, for a loop state of large caches. Under XLA a loop of
    0 or 1 trips rather than `tf.cond`: XLA copied every cache a cond's pass-through branch
    returned, at every pixel (40% of PixelCNN++'s XLA sampling time), and a loop updates its
    state in place. Outside XLA `tf.cond`, which passes tensors by reference (the nested
    loop doubled PixelCNN++'s plain time at batch 1). Same values either way."""
    if control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()):
        _, state = tf.while_loop(lambda k, _: k < tf.cast(pred, tf.int32),
                                 lambda k, s: (k + 1, fn(s)), (tf.constant(0), state),
                                 maximum_iterations=1)
        return state
    return tf.cond(pred, lambda: fn(state), lambda: state)
