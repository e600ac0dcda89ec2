"""DownShiftedConv2D: a convolution whose output at row i sees input rows <= i only."""

import keras
import tensorflow as tf


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}.")
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DownShiftedConv2D(keras.layers.Layer):
    """PixelCNN++'s down_shifted_conv2d (Salimans et al. 2017): a kh x kw kernel over rows
    i - kh + 1 .. i and the kw columns centred on j (zero padding above, left and right), so
    output row i depends on input rows <= i and on no later row. Followed by `down_shift`
    (or fed from an already shifted map), it gives the "vertical" stream that sees only the
    rows above.

    With strides s the output is ceil(H / s) x ceil(W / s) (any H, W >= 1): output row r
    sees input rows <= s r.

    No weight normalization (the paper's weight norm with data-dependent initialization is
    left out; the zoo's models all use plain weights).

    Args:
        filters: output features.
        kernel_size: (kh, kw), kw odd (centred on the current column); the paper uses (2, 3).
        strides: int or pair; 2 for the paper's downsampling layers.
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.

    Input (B, H, W, F) -> output (B, ceil(H / s), ceil(W / s), filters).
    """

    def __init__(self, filters, kernel_size=(2, 3), strides=1,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.check_kernel_size()

    def check_kernel_size(self):
        if self.kernel_size[1] % 2 == 0:
            raise ValueError(f"{type(self).__name__}: the kernel width must be odd (centred "
                             f"on the current column), got {self.kernel_size}.")

    def padding(self):
        """[[top, bottom], [left, right]] zero padding before the VALID convolution."""
        kh, kw = self.kernel_size
        return [[kh - 1, 0], [(kw - 1) // 2, (kw - 1) // 2]]

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (int(input_shape[-1]), self.filters),
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=self.bias_initializer)

    def pad(self, inputs):
        """The zero padding of `call` (B, H, W, F) -> (B, H + kh - 1, W + kw - 1, F)."""
        return tf.pad(inputs, [[0, 0]] + self.padding() + [[0, 0]])

    def call(self, inputs):
        return tf.nn.conv2d(self.pad(inputs), self.kernel, self.strides, "VALID") + self.bias

    # One-position steps (incremental sampling). Windows are in the padded coordinates of
    # `call`: output (r, q) reads padded rows s r .. s r + kh - 1 and columns s q .. + kw - 1.

    def step_window_of(self, window):
        """The output of one (kh, kw) input window (B, kh, kw, F) -> (B, filters)."""
        return tf.einsum("bhwf,hwfo->bo", window, self.kernel) + self.bias

    def step_output(self, padded, r, q):
        """The output (B, filters) at (r, q) of the whole padded input (`pad(inputs)`)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        # Gathers, not slices with tensor bounds: the window keeps a static size (XLA).
        rows = tf.gather(padded, r * sh + tf.range(kh), axis=1)
        return self.step_window_of(tf.gather(rows, q * sw + tf.range(kw), axis=2))

    def step_row(self, rows):
        """The output row whose window rows are `rows` (B, kh, W, F), the last kh input rows
        (zeros above the image) -> (B, ceil(W / sw), filters); the vertical stream of
        PixelCNN++ is stepped a row at a time (its row i needs no pixel of row i)."""
        (left, right) = self.padding()[1]
        padded = tf.pad(rows, [[0, 0], [0, 0], [left, right], [0, 0]])
        out = tf.nn.conv2d(padded, self.kernel, (1, self.strides[1]), "VALID")  # (B, 1, W', o)
        return out[:, 0] + self.bias

    def step_cache(self, batch, width, features, dtype):
        """The cache of a pixel-at-a-time step: the last kh input rows, padded like `call`,
        (kh, W + left + right, B, F) with row r in slot r mod kh (batch inside, so one
        scatter index writes a pixel); zeros = outside the image."""
        kh = self.kernel_size[0]
        (left, right) = self.padding()[1]
        return tf.zeros([kh, width + left + right, batch, features], dtype)

    def step_write(self, cache, i, j, value):
        """`cache` with the input (B, F) at (i, j) written in."""
        slot = tf.stack([i % self.kernel_size[0], j + self.padding()[1][0]])
        return tf.tensor_scatter_nd_update(cache, slot[None], value[None])

    def step_taps(self):
        """The kernel's taps, taps[a][b] (F, filters): slice them once, outside the sampling
        loop, and pass them to `step_window` / `step_above`. Under XLA a slice of the kernel
        inside the loop is a copy of those weights at every step (XLA does not hoist it):
        PixelSNAIL's blocks copied half their weights at every pixel."""
        kh, kw = self.kernel_size
        return tuple(tuple(self.kernel[a, b] for b in range(kw)) for a in range(kh))

    def step_window(self, cache, r, q, above=None, taps=None):
        """The output (B, filters) at (r, q) from the cache (its whole window must be written:
        for the down-right-shifted kernel, up to the input at (s r, s q)). above: row r's
        `step_above`, so that only the window's last row is read here; taps: `step_taps()`
        (default: sliced here)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if above is not None:
            taps = self.step_taps() if taps is None else taps
            row = tf.gather(cache, (r * sh) % kh)  # the window's last row (W + pad, B, F)
            window = tf.gather(row, q * sw + tf.range(kw))  # (kw, B, F)
            out = tf.gather(above, q) + self.bias  # (B, filters)
            for b in range(kw):  # matmuls, not an einsum: no transposes under XLA
                out = out + tf.matmul(window[b], taps[kh - 1][b])
            return out
        slots = (r * sh - kh + 1 + tf.range(kh)) % kh  # the window's rows, top first
        rows = tf.gather(cache, slots)  # (kh, W + pad, B, F)
        window = tf.gather(rows, q * sw + tf.range(kw), axis=1)  # (kh, kw, B, F)
        return tf.einsum("hwbf,hwfo->bo", window, self.kernel) + self.bias

    def step_above(self, cache, r, taps=None):
        """What the window rows above the last contribute to every output of row r, (W', B,
        filters) without the bias, from a cache holding those rows (the inputs up to row
        s r - 1). Computed once per output row (matmuls over the whole row, efficient) so
        that a pixel step (`step_window(..., above)`) reads its own row only: half the
        weights of a 2 x 2 kernel per pixel. taps: `step_taps()` (default: sliced here)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        taps = self.step_taps() if taps is None else taps
        w_out = (int(cache.shape[1]) - kw) // sw + 1
        total = tf.zeros([w_out, tf.shape(cache)[2], self.filters], cache.dtype)
        for a in range(kh - 1):
            row = tf.gather(cache, (r * sh - kh + 1 + a) % kh)  # (W + pad, B, F)
            for b in range(kw):
                columns = row[b:b + sw * (w_out - 1) + 1:sw]  # (W', B, F)
                total = total + tf.einsum("wbf,fo->wbo", columns, taps[a][b])
        return total

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        sh, sw = self.strides
        return (input_shape[0], None if h is None else -(-h // sh),
                None if w is None else -(-w // sw), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
