"""PixelRNNNetwork: Table 1 of the paper, from a scaled image to per-sub-pixel logits."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.conv_residual_block import ConvResidualBlock
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.masking import take_group
from pixelrnn_tf.layers.position_cache import commit
from pixelrnn_tf.layers.recurrent_residual_block import RecurrentResidualBlock

BLOCK_KINDS = ("pixel_cnn", "row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelRNNNetwork(keras.layers.Layer):
    """7 x 7 mask-A conv (2h) -> `num_layers` residual blocks -> two (ReLU, 1 x 1 mask-B conv).

    The first output layer takes the learnable layer-to-output skip connections: a 1 x 1
    mask-B convolution of the ReLU of every block's output (concatenated, so one matmul),
    or of the last block's output only when `skip=False`. The last layer has
    `num_channels * num_levels` features, channel c's logits forming colour group c, so
    the R -> G -> B conditioning holds up to the softmax.

    Args:
        num_channels: image channels C (also the number of colour groups).
        num_levels: values per sub-pixel (256, or 2 for binary images).
        block: "pixel_cnn", "row_lstm" or "diagonal_bilstm".
        num_layers: residual blocks.
        units: h (blocks carry 2h features).
        output_units: features of the first output layer (1024 CIFAR/ImageNet, 32 MNIST).
        kernel_size: 3 x 3 PixelCNN convolution / 1 x k Row LSTM convolutions.
        residual, skip: the paper's residual and layer-to-output connections.
        conditioning_features: if > 0, `call(x, conditioning)` biases every block with a
            1 x 1 unmasked convolution of the conditioning map (Multi-Scale PixelRNN).

    Input: (B, H, W, C) floats. Output: logits (B, H, W, C, num_levels).
    """

    def __init__(self, num_channels, num_levels, block="pixel_cnn", num_layers=2, units=8,
                 output_units=32, kernel_size=3, residual=True, skip=True,
                 conditioning_features=0, **kwargs):
        super().__init__(**kwargs)
        if block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {block!r}.")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        self.num_channels = int(num_channels)
        self.num_levels = int(num_levels)
        self.block = block
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.output_units = int(output_units)
        self.kernel_size = int(kernel_size)
        self.residual = bool(residual)
        self.skip = bool(skip)
        self.conditioning_features = int(conditioning_features)

    def build(self, input_shape):
        c, h, g = self.num_channels, self.units, self.num_channels
        if int(input_shape[-1]) != c:
            raise ValueError(f"{self.name} expects {c} image channels, got {input_shape[-1]}.")
        prefix = tuple(input_shape[:-1])
        self.input_conv = MaskedConv2D(2 * h, 7, "A", g, name="input_conv",
                                       dtype=self.dtype_policy)
        self.input_conv.build(input_shape)
        self.blocks = []
        for i in range(self.num_layers):
            if self.block == "pixel_cnn":
                blk = ConvResidualBlock(h, self.kernel_size, g, self.residual,
                                        self.conditioning_features, name=f"block_{i}",
                                        dtype=self.dtype_policy)
            else:
                blk = RecurrentResidualBlock(h, self.block, self.kernel_size, g, self.residual,
                                             self.conditioning_features, name=f"block_{i}",
                                             dtype=self.dtype_policy)
            blk.build(prefix + (2 * h,))
            # Also an attribute of its own: tf.train.Checkpoint does not look inside the
            # Keras-tracked list, and would otherwise save these weights only through an
            # optimizer that references them.
            setattr(self, f"block_{i}", blk)
            self.blocks.append(blk)
        skip_blocks = self.num_layers if self.skip else 1
        self.output_conv_1 = MaskedConv2D(self.output_units, 1, "B", g, in_blocks=skip_blocks,
                                          name="output_conv_1", dtype=self.dtype_policy)
        self.output_conv_1.build(prefix + (2 * h * skip_blocks,))
        self.output_conv_2 = MaskedConv2D(c * self.num_levels, 1, "B", g, name="output_conv_2",
                                          dtype=self.dtype_policy)
        self.output_conv_2.build(prefix + (self.output_units,))

    def call(self, inputs, conditioning=None):
        x = self.input_conv(inputs)  # (B, H, W, 2h)
        outputs = []
        for blk in self.blocks:
            x = blk(x, conditioning) if self.conditioning_features else blk(x)
            outputs.append(x)
        top = tf.concat(outputs, axis=-1) if self.skip else x  # (B, H, W, 2h * L)
        y = self.output_conv_1(tf.nn.relu(top))
        # Logits in float32 under a mixed policy: the log-softmax, the likelihood and the
        # sampler's draw read them.
        y = tf.cast(self.output_conv_2(tf.nn.relu(y)), tf.float32)  # (B, H, W, C * levels)
        shape = tf.shape(inputs)
        return tf.reshape(y, [shape[0], shape[1], shape[2], self.num_channels, self.num_levels])

    # -- One position (incremental sampling): every block's step in turn; a block's cache
    # layout and weights are known in its own file only. Tested against call() in
    # tests/test_steps.py and, through the samplers, against the naive sampler.
    INPUT_KERNEL = 7  # the first layer reads a 7 x 7 patch of the (padded) image

    def step_rows(self):
        """Rows the step caches must keep (`Grid(rows=...)`): the current one and those the
        blocks read up (k // 2 for the k x k PixelCNN convolution, one for the LSTMs, whose
        state-to-state reads the row above). Grid.table refuses a ring too short."""
        return 1 + (self.kernel_size // 2 if self.block == "pixel_cnn" else 1)

    def step_cache(self, grid, batch, dtype):
        return [blk.step_cache(grid, batch, dtype) for blk in self.blocks]

    def step_begin_row(self, caches, grid, i):
        return [blk.step_begin_row(c, grid, i) for blk, c in zip(self.blocks, caches)]

    def step_conditioning(self, conditioning):
        """Per-block bias maps of a (B, H, W, F) conditioning map, computed once."""
        return [blk.step_conditioning(conditioning) for blk in self.blocks]

    def step_past(self, caches, grid, patch, i, j, conditioning=None, weights=None):
        """What earlier positions contribute at (i, j), per layer. `patch`: the first layer's
        (B, k, k, C) input around (i, j), k = INPUT_KERNEL (the scaled image, zeros outside
        it: `step_patch`); `conditioning`: the output of `step_conditioning`, or None;
        `weights`: `step_weights()`, computed outside the sampling loop. The past does not
        change while the channels of (i, j) are drawn: compute it once per pixel."""
        weights = self.step_weights() if weights is None else weights
        p = i * grid.w + j
        past = [self.input_conv.step_past_from_patch(patch, weights["input"][1])]
        for n, (blk, cache) in enumerate(zip(self.blocks, caches)):
            cond = None if conditioning is None else conditioning[n][:, i, j]
            past.append(blk.step_past(cache, grid, p, cond, weights["blocks"][n]))
        return past

    def step_patch(self, images, i, j, scale, stride=1):
        """The (B, k, k, C) patch of `step_past` around (i, j) of `images[:, ::stride,
        ::stride]` (images (B, H, W, C)), each value through `scale` and zeros outside the
        image (the padding of `call`). Gathered rows and columns (clipped, then zeroed
        outside): not a pad (nor a strided view) of the whole image at every pixel (a copy
        of the batch), nor a slice of a padded image with loop-index bounds (under XLA,
        inside the sampling loop, `padded[:, i:i + k]` compiled to a slice of dynamic size:
        every logit off)."""
        k = self.INPUT_KERNEL
        h, w = [-(-tf.shape(images)[n] // stride) for n in (1, 2)]  # the strided view's
        rows, cols = i - k // 2 + tf.range(k), j - k // 2 + tf.range(k)
        patch = tf.gather(images, tf.clip_by_value(rows, 0, h - 1) * stride,
                          axis=1)  # (B, k, W, C)
        patch = scale(tf.gather(patch, tf.clip_by_value(cols, 0, w - 1) * stride, axis=2))
        inside = (((rows >= 0) & (rows < h))[:, None]
                  & ((cols >= 0) & (cols < w))[None, :])  # (k, k)
        return tf.where(inside[None, :, :, None], patch, tf.zeros_like(patch))

    def step_at(self, past, pixel):
        """Logits (B, C, L) at the position given its (scaled) pixel (B, C), and per block the
        values to cache there. Channel c's logits do not read channels >= c of `pixel`."""
        weights, carry, logits = self.step_weights(), (), []
        for g in range(self.num_channels):
            channel_logits, carry = self.step_channel(past, weights, pixel, g, carry)
            logits.append(channel_logits)
        return tf.stack(logits, 1), self.step_values(carry)

    # A channel at a time, which is how a sampler draws: channel g's logits need, at every
    # layer, only colour group g at the current pixel (groups < g were computed for the
    # earlier channels), so the current pixel's work is done once per pixel, not C times.
    def step_weights(self):
        """Every layer's step weights (kernel taps sliced, masked and ordered as the steps
        read them): compute once per sampling run, outside the loop. Under XLA a slice of a
        kernel inside the loop is a copy of it at every step, and a gather of block-
        interleaved gate features per colour group cost more than the matmuls at batch 256."""
        return {"input": (self.input_conv.step_group_weights(),
                          self.input_conv.step_patch_weights()),
                "blocks": [blk.step_weights() for blk in self.blocks],
                "output": (self.output_conv_1.step_group_weights(),
                           self.output_conv_2.step_group_weights())}

    def step_channel(self, past, weights, pixel, g, carry):
        """Logits (B, L) of channel g at the position from its (scaled) pixel (B, C) (only
        channels < g are read) and `carry`, what channels < g computed here (() at g = 0).
        Returns (logits, carry)."""
        n = self.num_layers
        outs, blk_carry, tops, mids = carry or ([[] for _ in range(n + 1)], [()] * n, [], [])
        outs, blk_carry = [list(o) for o in outs], list(blk_carry)
        channels = [pixel[:, k:k + 1] for k in range(self.num_channels)]
        x = (take_group(past[0], self.input_conv.output_groups()[g])
             + self.input_conv.step_group(weights["input"][0], channels, g,
                                          bias=False))  # (B, |g|)
        outs[0].append(x)
        for layer, blk in enumerate(self.blocks):
            y, blk_carry[layer] = blk.step_group(past[layer + 1], weights["blocks"][layer],
                                                 outs[layer], g, blk_carry[layer])
            outs[layer + 1].append(y)
        # Group g of the skip concatenation: every block's group g, block-major.
        top = tf.concat([o[g] for o in outs[1:]], -1) if self.skip else outs[n][g]
        tops = tops + [tf.nn.relu(top)]
        w_out_1, w_out_2 = weights["output"]
        mids = mids + [tf.nn.relu(self.output_conv_1.step_group(w_out_1, tops, g))]
        logits = self.output_conv_2.step_group(w_out_2, mids, g)  # (B, L)
        return tf.cast(logits, tf.float32), (outs, blk_carry, tops, mids)

    def step_values(self, carry):
        """Per block, the values to cache at the position once every channel is drawn."""
        outs, blk_carry, _, _ = carry
        return [blk.step_values(c, x) for blk, c, x in zip(self.blocks, blk_carry, outs)]

    def step_commit(self, caches, grid, i, j, values):
        """Write each block's values at (i, j) into its caches."""
        slot = grid.slot(i, j)
        return [commit(c, slot, v) for c, v in zip(caches, values)]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_channels, self.num_levels)

    def get_config(self):
        config = super().get_config()
        config.update(num_channels=self.num_channels, num_levels=self.num_levels,
                      block=self.block, num_layers=self.num_layers, units=self.units,
                      output_units=self.output_units, kernel_size=self.kernel_size,
                      residual=self.residual, skip=self.skip,
                      conditioning_features=self.conditioning_features)
        return config
