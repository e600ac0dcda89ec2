"""Cached (incremental) sampling: each sub-pixel costs one network evaluation at ONE position.

Every layer keeps a cache of the values it has already computed at earlier positions (a
TensorArray of (B, F) vectors, one slot per pixel, written once when the pixel is final):

- PixelCNN block: the ReLU'd input of its k x k convolution; the convolution at (i, j) reads
  its past taps from the cache (as in Ramachandran et al. 2017, but per position).
- Row LSTM block: its inputs of the current row (the masked 1 x k input-to-state taps) and
  the hidden / cell state of every position, so the state-to-state 1 x k convolution of row
  i - 1 is a gather of k cached vectors.
- Diagonal BiLSTM block: the left-to-right state is updated per pixel from the cached states
  above and to the left; the right-to-left direction, which row i only sees shifted down,
  is computed once per completed row from cached input-to-state pre-activations.
- Multi-Scale: the small image first with the unconditional network, then the conditional
  network, whose conditioning map is computed once.

The value sampled for sub-pixel k is argmax(logits + Gumbel noise keyed by (seed, k)), as in
`sampling.naive_complete`, so both samplers give the same images for the same seed.
"""

import numpy as np
import tensorflow as tf

from pixelrnn_tf.layers.row_lstm import lstm_gates
from pixelrnn_tf.sampling import gumbel_noise


def _past_taps(kernel_size):
    """Offsets (di, dj) of the kernel taps strictly before the centre in raster order."""
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    return [(a - ch, b - cw) for a in range(kh) for b in range(kw)
            if a < ch or (a == ch and b < cw)]


class _Slots:
    """Index arithmetic of the per-position caches: slot i * W + j, then special slots."""

    def __init__(self, height, width):
        self.h, self.w = height, width
        self.zero = height * width  # always zeros: outside the image / not a dependency
        self.init = height * width + 1  # learned initial state (Row LSTM), else zeros
        self.size = height * width + 2

    def table(self, offsets, outside=None):
        """(H*W, len(offsets)) slot of position p + offset, or `outside` (default: zero)."""
        outside = self.zero if outside is None else outside
        t = np.full((self.h * self.w, len(offsets)), self.zero, np.int32)
        for i in range(self.h):
            for j in range(self.w):
                for n, (di, dj) in enumerate(offsets):
                    a, b = i + di, j + dj
                    if 0 <= b < self.w and 0 <= a < self.h:
                        t[i * self.w + j, n] = a * self.w + b
                    elif a == -1 and 0 <= b < self.w:
                        t[i * self.w + j, n] = outside
        return tf.constant(t)


def _new_cache(slots, batch, features, dtype, init=None):
    ta = tf.TensorArray(dtype, size=slots.size, element_shape=tf.TensorShape([None, features]),
                        clear_after_read=False)
    ta = ta.write(slots.zero, tf.zeros([batch, features], dtype))
    init_value = tf.zeros([batch, features], dtype) if init is None else \
        tf.broadcast_to(tf.cast(init, dtype), [batch, features])
    return ta.write(slots.init, init_value)


def _dense(x, layer):
    """A 1 x 1 (masked) convolution at one position: (B, F) -> (B, F')."""
    kernel = layer.masked_kernel() if hasattr(layer, "masked_kernel") else layer.kernel
    y = tf.matmul(x, kernel[0, 0])
    return y + layer.bias if layer.bias is not None else y


def _past_conv(layer, cache, index):
    """The taps of a masked conv before the centre, from the cache: (B, F'), with bias."""
    kernel = layer.masked_kernel()
    ch, cw = kernel.shape[0] // 2, kernel.shape[1] // 2
    taps = _past_taps(tuple(kernel.shape[:2]))
    past = cache.gather(index)  # (taps, B, F)
    k = tf.stack([kernel[ch + di, cw + dj] for di, dj in taps])  # (taps, F, F')
    return tf.einsum("tbf,tfg->bg", past, k) + layer.bias


def _centre(layer):
    kernel = layer.masked_kernel()
    return kernel[kernel.shape[0] // 2, kernel.shape[1] // 2]


class NetworkStepper:
    """Evaluates a PixelRNNNetwork at one position (i, j) from per-layer caches."""

    def __init__(self, network, height, width, conditioning=None):
        self.net = network
        self.slots = _Slots(height, width)
        self.h, self.w = height, width
        self.kind = network.block
        self.conditioning = conditioning  # per-block (B, H, W, F) bias maps, or None
        k = network.kernel_size
        if self.kind == "pixel_cnn":
            self.conv_index = self.slots.table(_past_taps((k, k)))
        elif self.kind == "row_lstm":
            self.left_index = self.slots.table([(0, d) for d in range(-(k // 2), 0)])
            self.above_index = self.slots.table([(-1, d) for d in range(-(k // 2), k // 2 + 1)],
                                                outside=self.slots.init)
            self.cell_index = self.slots.table([(-1, 0)], outside=self.slots.init)
        else:
            self.up_index = self.slots.table([(-1, 0)])
            self.left_index = self.slots.table([(0, -1)])

    # -- caches ---------------------------------------------------------------------------
    def initial_caches(self, batch, dtype):
        caches = []
        for blk in self.net.blocks:
            u = blk.units
            if self.kind == "pixel_cnn":
                caches.append([_new_cache(self.slots, batch, u, dtype)])
            elif self.kind == "row_lstm":
                caches.append([_new_cache(self.slots, batch, 2 * u, dtype),
                               _new_cache(self.slots, batch, u, dtype, blk.lstm.initial_h),
                               _new_cache(self.slots, batch, u, dtype, blk.lstm.initial_c)])
            else:
                caches.append([_new_cache(self.slots, batch, u, dtype),  # h left-to-right
                               _new_cache(self.slots, batch, u, dtype),  # c left-to-right
                               _new_cache(self.slots, batch, 4 * u, dtype),  # z right-to-left
                               _new_cache(self.slots, batch, u, dtype)])  # h right-to-left
        return caches

    def start_row(self, caches, i):
        """Diagonal BiLSTM: the right-to-left states of row i - 1, now that it is complete."""
        if self.kind != "diagonal_bilstm":
            return caches
        new = []
        for blk, (hl, cl, zr, hr) in zip(self.net.blocks, caches):
            kss = blk.lstm.state_to_state_kernel[1]  # (2h, 4h)
            row = i - 1
            batch = tf.shape(zr.read(self.slots.zero))[0]
            zeros = tf.zeros([batch, blk.units], zr.dtype)

            def body(j, h_next, c_next, hr):
                slot = row * self.w + j
                above_slot = tf.where(row > 0, slot - self.w, self.slots.zero)
                pre = zr.read(slot) + tf.matmul(
                    tf.concat([hr.read(above_slot), h_next], -1), kss)
                h, c = lstm_gates(pre, c_next)
                return j - 1, h, c, hr.write(slot, h)

            _, _, _, hr = tf.while_loop(lambda j, *_: j >= 0, body,
                                        (tf.constant(self.w - 1), zeros, zeros, hr))
            new.append([hl, cl, zr, hr])
        return new

    def commit(self, caches, i, j, values):
        """Write each block's values at (i, j); caches without a value (the right-to-left
        states, written by start_row) are passed through."""
        slot = i * self.w + j
        return [[ta.write(slot, v) for ta, v in zip(cs, vs)] + cs[len(vs):]
                for cs, vs in zip(caches, values)]

    # -- one position -----------------------------------------------------------------------
    # The contributions of earlier positions do not change while the channels of (i, j) are
    # sampled: `past_at` computes them once per pixel, `logits_at` adds the centre taps.
    def past_at(self, caches, scaled_pad, i, j):
        net, p = self.net, i * self.w + j
        patch = scaled_pad[:, i:i + 7, j:j + 7]  # (B, 7, 7, C)
        kernel = net.input_conv.masked_kernel()
        # Zero the centre tap: it is the only one that changes between channel passes.
        not_centre = np.ones((7, 7, 1, 1), np.float32)
        not_centre[3, 3] = 0.0
        past = [tf.einsum("bhwc,hwcf->bf", patch, kernel * not_centre) + net.input_conv.bias]
        for n, (blk, cache) in enumerate(zip(net.blocks, caches)):
            cond = None if self.conditioning is None else self.conditioning[n][:, i, j]
            past.append(getattr(self, f"_{self.kind}_past")(blk, cache, p, cond))
        return past

    def logits_at(self, past, centre_pixel):
        """Logits (B, C, L) at (i, j) given the (scaled) current pixel (B, C), and the
        per-layer values to cache there."""
        net = self.net
        x = past[0] + tf.matmul(centre_pixel, _centre(net.input_conv))  # (B, 2h)
        outputs, values = [], []
        for blk, blk_past in zip(net.blocks, past[1:]):
            y, vals = getattr(self, f"_{self.kind}")(blk, blk_past, x)
            x = x + y if blk.residual else y
            outputs.append(x)
            values.append(vals)
        top = tf.concat(outputs, -1) if net.skip else x
        y = _dense(tf.nn.relu(_dense(tf.nn.relu(top), net.output_conv_1)), net.output_conv_2)
        return tf.reshape(y, [-1, net.num_channels, net.num_levels]), values

    def _pixel_cnn_past(self, blk, cache, p, cond):
        past = _past_conv(blk.conv, cache[0], self.conv_index[p])
        return past if cond is None else past + cond

    def _pixel_cnn(self, blk, past, x):
        r = tf.nn.relu(_dense(tf.nn.relu(x), blk.reduce))  # (B, h): what the k x k conv reads
        y = past + tf.matmul(r, _centre(blk.conv))
        return _dense(tf.nn.relu(y), blk.expand), [r]

    def _row_lstm_past(self, blk, cache, p, cond):
        a_cache, h_cache, c_cache = cache
        lstm = blk.lstm
        z = _past_conv(lstm.input_to_state, a_cache, self.left_index[p])  # (B, 4h)
        above = h_cache.gather(self.above_index[p])  # (k, B, h): row i - 1
        z += tf.einsum("kbh,khg->bg", above, lstm.state_to_state_kernel)
        if cond is not None:
            z += cond
        return z, c_cache.read(self.cell_index[p][0])

    def _row_lstm(self, blk, past, x):
        z, c_prev = past
        h, c = lstm_gates(z + tf.matmul(x, _centre(blk.lstm.input_to_state)), c_prev)
        return _dense(h, blk.expand), [x, h, c]

    def _diagonal_bilstm_past(self, blk, cache, p, cond):
        hl, cl, _, hr = cache
        lstm, u = blk.lstm, blk.units
        left = self.left_index[p][0]
        z_ss = tf.matmul(tf.concat([hl.read(self.up_index[p][0]), hl.read(left)], -1),
                         lstm.state_to_state_kernel[0])  # (B, 4h)
        bias = lstm.input_to_state.bias if cond is None else lstm.input_to_state.bias + cond
        # The right-to-left map of row i - 1, computed in start_row, shifted down to row i.
        above = tf.where(p >= self.w, p - self.w, self.slots.zero)
        return z_ss, bias, cl.read(left), hr.read(above)

    def _diagonal_bilstm(self, blk, past, x):
        z_ss, bias, c_left, h_right = past
        u = blk.units
        z = tf.matmul(x, _centre(blk.lstm.input_to_state)) + bias  # (B, 8h)
        h, c = lstm_gates(z[:, :4 * u] + z_ss, c_left)
        return _dense(h + h_right, blk.expand), [h, c, z[:, 4 * u:]]


def _sample_grid(stepper, model, scale, image, known, seed, positions, position_of):
    """Walk `positions` (raster order of the grid the stepper runs on), sampling unknowns.

    image: int32 (B, H, W, C) of the grid; known: bool (B, H, W); position_of(i, j, c): the
    sub-pixel's key for the noise. Returns the completed image.
    """
    h, w, c = image.shape[1], image.shape[2], image.shape[3]
    batch = tf.shape(image)[0]
    dtype = model.compute_dtype
    caches = stepper.initial_caches(batch, dtype)
    rows = tf.range(batch)

    def body(t, image, caches):
        i, j = t // w, t % w
        caches = tf.cond(tf.logical_and(j == 0, i > 0),
                         lambda: stepper.start_row(caches, i), lambda: caches)
        scaled_pad = tf.pad(scale(image), [[0, 0], [3, 3], [3, 3], [0, 0]])
        past = stepper.past_at(caches, scaled_pad, i, j)
        values = None
        for ch in range(c):
            logits, values = stepper.logits_at(past, scale(image[:, i, j]))
            noise = gumbel_noise(seed, position_of(i, j, ch), batch, model.num_levels)
            choice = tf.argmax(logits[:, ch] + noise, axis=-1, output_type=tf.int32)
            value = tf.where(known[:, i, j], image[:, i, j, ch], choice)
            index = tf.stack([rows, tf.fill([batch], i), tf.fill([batch], j),
                              tf.fill([batch], ch)], axis=1)
            image = tf.tensor_scatter_nd_update(image, index, value)
        # The last pass's values do not depend on the last channel (causality): final.
        return t + 1, image, stepper.commit(caches, i, j, values)

    _, image, _ = tf.while_loop(lambda t, *_: t < positions, body,
                                (tf.constant(0), image, caches))
    return image


def supports(model):
    """The PixelRNN-paper models (PixelRNNNetwork inside); others bring their own sampler."""
    from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork

    return isinstance(getattr(model, "network", None), PixelRNNNetwork) or isinstance(
        getattr(model, "conditional_network", None), PixelRNNNetwork)


def cached_complete(model, images, known_mask, seed):
    """Pure-TF cached version of `sampling.naive_complete` (same arguments, same output)."""
    h, w, c = model.image_shape
    images = tf.cast(images, tf.int32)
    seed = tf.cast(seed, tf.int64)
    raster = lambda i, j, ch: (i * w + j) * c + ch  # noqa: E731
    if hasattr(model, "network"):
        stepper = NetworkStepper(model.network, h, w)
        return _sample_grid(stepper, model, model.scale, images, known_mask, seed, h * w, raster)
    # Multi-Scale: the small image x[::2, ::2] with the unconditional network ...
    sh, sw, _ = model.small_shape
    small = _sample_grid(NetworkStepper(model.small_network, sh, sw), model, model.scale,
                         images[:, ::2, ::2], known_mask[:, ::2, ::2], seed, sh * sw,
                         lambda i, j, ch: raster(2 * i, 2 * j, ch))
    # ... written back into the big image, where those pixels are now known ...
    batch = tf.shape(images)[0]
    up = tf.pad(small[:, :, None, :, None], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]])
    up = tf.reshape(up, [batch, 2 * sh, 2 * sw, c])[:, :h, :w]
    mask = np.zeros((h, w), bool)
    mask[::2, ::2] = True
    mask_t = tf.constant(mask)
    images = tf.where(mask_t[None, :, :, None], up, images)
    known = tf.logical_or(known_mask, mask_t[None])
    # ... then the conditional network, whose per-block biases are computed once.
    cond_map = model.upsampler(model.scale(small))
    biases = [blk.lstm.conditioning_conv(cond_map) if hasattr(blk, "lstm")
              else blk.conditioning_conv(cond_map) for blk in model.conditional_network.blocks]
    stepper = NetworkStepper(model.conditional_network, h, w, conditioning=biases)
    return _sample_grid(stepper, model, model.scale, images, known, seed, h * w, raster)
