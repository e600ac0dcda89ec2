"""Generic sampling stages (see `driver`): the naive one, and one that steps a network built
of layers that own their one-position step (PixelRNNNetwork's step API)."""

import numpy as np
import tensorflow as tf

from pixelrnn_tf.layers.position_cache import Grid
from pixelrnn_tf.sampling.driver import raster_pixels, update_if

_NO_STATE = ()


class NaiveStage:
    """One full network pass per sub-pixel, in the model's order: the default of the
    sampling contract (same images as `naive.naive_complete`). Assumes, as every model here,
    that the channels of a pixel are consecutive in the model's order."""

    full_pass_per_pixel = True  # C passes, in fact

    def __init__(self, model, conditioning=None):
        self.model, self.conditioning = model, conditioning
        rank = model.ordering()[..., 0]
        order = np.argsort(rank.reshape(-1))
        w = model.image_shape[1]
        self.pixels = np.stack([order // w, order % w], axis=1).astype(np.int32)

    def initial_state(self, images, known_mask):
        return tf.constant(0)

    def begin_pixel(self, state, images, t, i, j):
        return state, tf.constant(0)

    def channel_logits(self, pixel_state, images, i, j, channel):
        return self.model.position_logits(images, i, j, channel, self.conditioning), pixel_state

    def end_pixel(self, state, pixel_state, images, t, i, j):
        return state


class NetworkStage:
    """Steps `network` (PixelRNNNetwork's step API) over the pixels of stride `stride`.

    scale: pixel values -> network inputs; conditioning_map(images) -> the (B, H, W, F) map
    the network is conditioned on (computed once, from the image as the earlier stages left
    it), or None.
    """

    full_pass_per_pixel = False

    def __init__(self, network, scale, image_shape, stride=1, conditioning_map=None):
        h, w, _ = image_shape
        self.network, self.scale, self.stride = network, scale, stride
        self.conditioning_map = conditioning_map
        self.grid = Grid(-(-h // stride), -(-w // stride), network.step_rows())
        self.pixels = raster_pixels(h, w, stride)

    def initial_state(self, images, known_mask):
        caches = self.network.step_cache(self.grid, tf.shape(images)[0],
                                         self.network.compute_dtype)
        biases = (self.network.step_conditioning(self.conditioning_map(images))
                  if self.conditioning_map is not None else [])
        self._weights = []  # (graph, weights): see _step_weights
        self._step_weights()
        return caches, biases

    def _step_weights(self):
        """The network's step weights, computed once per traced function (before the loop:
        the loop body captures them) and reused by the graphs nested in it. The codec calls
        initial_state and the pixel steps in separate functions: each computes its own."""
        graph = tf.compat.v1.get_default_graph()
        if tf.executing_eagerly():
            return self.network.step_weights()
        enclosing, g = set(), graph
        while g is not None:
            enclosing.add(g)
            g = getattr(g, "outer_graph", None)
        for owner, weights in getattr(self, "_weights", []):
            if owner in enclosing:
                return weights
        weights = self.network.step_weights()
        self._weights = getattr(self, "_weights", []) + [(graph, weights)]
        return weights

    def begin_row(self, state, images, t, i):
        caches, biases = state
        a = t // self.grid.w  # the grid row
        caches = update_if(a > 0, lambda c: self.network.step_begin_row(c, self.grid, a),
                           caches)
        return caches, biases

    def begin_pixel(self, state, images, t, i, j):
        caches, biases = state
        a, b = t // self.grid.w, t % self.grid.w  # grid coordinates
        patch = self.network.step_patch(images, a, b, self.scale, self.stride)
        past = self.network.step_past(caches, self.grid, patch, a, b, biases or None,
                                      self._step_weights())
        return (caches, biases), (past, ())

    def channel_logits(self, pixel_state, images, i, j, channel):
        # One colour group per channel: the earlier channels' groups are in the carry.
        past, carry = pixel_state
        logits, carry = self.network.step_channel(past, self._step_weights(),
                                                  self.scale(images[:, i, j]), channel, carry)
        return logits, (past, carry)

    def end_pixel(self, state, pixel_state, images, t, i, j):
        caches, biases = state
        # The values of the last channel's pass do not depend on the last channel (causality).
        _, carry = pixel_state
        a, b = t // self.grid.w, t % self.grid.w
        values = self.network.step_values(carry)
        return self.network.step_commit(caches, self.grid, a, b, values), biases
