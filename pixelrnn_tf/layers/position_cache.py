"""Per-position caches for the layers' one-position steps (incremental sampling).

A layer's step at pixel (i, j) reads what the layer computed at earlier positions from a
cache: a TensorArray of (B, F) vectors with one slot per pixel of the last `rows` rows (slot
(i mod rows) * W + j, so a ring: row i overwrites row i - rows), written when the pixel is
final, plus two special slots (always-zero, and a learned initial state). A ring of 2 rows
holds what a step that reads one row up needs, at 2 / H of the memory of a slot per pixel
(the Diagonal BiLSTM at the CIFAR-10 size and batch 256 needed 11 GB with one per pixel).
`Grid` does the slot arithmetic; each layer builds its own index tables from it, so a layer's
weight layout and its cache layout are known in its own file only.
"""

import numpy as np
import tensorflow as tf


class Grid:
    """The (height, width) grid a network is stepped on, and its cache slots.

    rows: the rows the caches keep (default: all). A step may read `rows - 1` rows up: the
    tables refuse offsets further up, so a ring too short fails loudly, not by reading a
    row that was overwritten.
    """

    def __init__(self, height, width, rows=None):
        self.h, self.w = int(height), int(width)
        self.rows = self.h if rows is None else max(1, min(int(rows), self.h))
        n = self.rows * self.w
        self.zero = n  # always zeros: outside the image / not a dependency
        self.init = n + 1  # a learned initial state (Row LSTM), else zeros
        self.size = n + 2

    def slot(self, i, j):
        """The cache slot of pixel (i, j) (ints or int tensors)."""
        return (i % self.rows) * self.w + j

    def table(self, offsets, outside=None):
        """(H*W, len(offsets)) slot of position p + offset, or `outside` (default: the zero
        slot) for an offset into the row above the image."""
        outside = self.zero if outside is None else outside
        too_far = [di for di, _ in offsets if -di >= self.rows] if self.rows < self.h else []
        if too_far:
            raise ValueError(f"A step reads {-min(too_far)} rows up, but the caches keep "
                             f"{self.rows} rows: build the Grid with rows > {-min(too_far)}.")
        t = np.full((self.h * self.w, len(offsets)), self.zero, np.int32)
        for i in range(self.h):
            for j in range(self.w):
                for n, (di, dj) in enumerate(offsets):
                    a, b = i + di, j + dj
                    if 0 <= b < self.w and 0 <= a < self.h:
                        t[i * self.w + j, n] = self.slot(a, b)
                    elif a == -1 and 0 <= b < self.w:
                        t[i * self.w + j, n] = outside
        return tf.constant(t)

    def new_cache(self, batch, features, dtype, init=None):
        """An empty cache of (B, features) vectors; `init` (features,) fills the init slot."""
        ta = tf.TensorArray(dtype, size=self.size,
                            element_shape=tf.TensorShape([None, features]),
                            clear_after_read=False)
        ta = ta.write(self.zero, tf.zeros([batch, features], dtype))
        init_value = tf.zeros([batch, features], dtype) if init is None else \
            tf.broadcast_to(tf.cast(init, dtype), [batch, features])
        return ta.write(self.init, init_value)


def commit(caches, slot, values):
    """Write `values` at `slot` into the first len(values) caches; the rest pass through
    (caches a layer fills elsewhere, e.g. the Diagonal BiLSTM's right-to-left states)."""
    return [ta.write(slot, v) for ta, v in zip(caches, values)] + list(caches[len(values):])


def past_taps(kernel_size):
    """Offsets (di, dj) of the kernel taps strictly before the centre in raster order."""
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    return [(a - ch, b - cw) for a in range(kh) for b in range(kw)
            if a < ch or (a == ch and b < cw)]
