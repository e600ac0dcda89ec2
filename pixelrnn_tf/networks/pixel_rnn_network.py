"""PixelRNNNetwork: Table 1 of the paper, from a scaled image to per-sub-pixel logits."""

import keras
import tensorflow as tf

from pixelrnn_tf.layers.conv_residual_block import ConvResidualBlock
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
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

    def step_past(self, caches, grid, padded, i, j, conditioning=None):
        """What earlier positions contribute at (i, j), per layer. `padded`: the scaled image
        padded by INPUT_KERNEL // 2 on both sides of H and W; `conditioning`: the output of
        `step_conditioning`, or None. The past does not change while the channels of (i, j)
        are drawn: compute it once per pixel."""
        p, k = i * grid.w + j, self.INPUT_KERNEL
        past = [self.input_conv.step_past_from_patch(padded[:, i:i + k, j:j + k])]
        for n, (blk, cache) in enumerate(zip(self.blocks, caches)):
            cond = None if conditioning is None else conditioning[n][:, i, j]
            past.append(blk.step_past(cache, grid, p, cond))
        return past

    def step_at(self, past, pixel):
        """Logits (B, C, L) at the position given its (scaled) pixel (B, C), and per block the
        values to cache there. Channel c's logits do not read channels >= c of `pixel`."""
        x = past[0] + self.input_conv.step_centre(pixel)  # (B, 2h)
        outputs, values = [], []
        for blk, blk_past in zip(self.blocks, past[1:]):
            x, vals = blk.step_at(blk_past, x)
            outputs.append(x)
            values.append(vals)
        top = tf.concat(outputs, -1) if self.skip else x
        y = self.output_conv_2.step_dense(tf.nn.relu(
            self.output_conv_1.step_dense(tf.nn.relu(top))))
        return tf.reshape(tf.cast(y, tf.float32), [-1, self.num_channels, self.num_levels]), values

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
