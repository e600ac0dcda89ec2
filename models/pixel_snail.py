"""PixelSNAIL (Chen, Mishra, Rohaninejad, Abbeel 2018): blocks of gated residual shifted
convolutions, each followed by causal self-attention over all earlier pixels, and the
discretized logistic mixture head of PixelCNN++."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf.layers.causal_attention import (CausalAttention, check_sizes,
                                                 position_features)
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.gated_resnet_block import NONLINEARITIES, GatedResNetBlock
from pixelrnn_tf.layers.shifts import down_shift, right_shift, stream_input_at
from pixelrnn_tf.mixture_model import LogisticMixtureModel, MixtureStage


@registry.register("pixel_snail")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelSNAIL(LogisticMixtureModel):
    """PixelSNAIL as in the paper's code (neocxi/pixelsnail-public, h12_noup_smallkey, the
    CIFAR-10 model):

    The input is the image scaled to [-1, 1] plus a channel of ones (so the zero padding of
    the shifted convolutions differs from a black pixel). One stream, PixelCNN++'s ul:
      ul = down_shift(DownShiftedConv2D 1x3 (x)) + right_shift(DownRightShiftedConv2D 2x1 (x))
    whose (i, j) sees the row above and the pixel to the left. Then `num_blocks` blocks of
      - `num_resnet` GatedResNetBlocks with 2 x 2 down-right-shifted convolutions;
      - CausalAttention: keys (`key_size`) and values (`value_size`) from [image, ul,
        position], queries from [ul, position], each through a 1 x 1 gated residual block;
        pixel t attends to the pixels s < t only;
      - a 1 x 1 GatedResNetBlock of ul with the attention output as auxiliary input (the
        gated combination: ul + a * sigmoid(b), so the output is added to the stream).
    Then elu and a 1 x 1 convolution to the parameters of a `num_mixtures` discretized
    logistic mixture per pixel (pixelrnn_tf.logistic_mixture, via LogisticMixtureModel: the
    per-sub-pixel table, the direct log-prob, the one-pass-per-pixel sampler).

    There is no vertical u stream ("noup"): the down-right-shifted convolutions alone have a
    blind spot above and to the right, which the attention, seeing every earlier pixel,
    removes. Causality: the stream at (i, j) sees pixels before (i, j) in raster order; the
    image enters the attention's keys and values at its own position, which the strict mask
    keeps from that position's query; the channels of pixel (i, j) enter only through the
    mixture (channel c's conditional uses the channels < c).

    Dropout (`dropout_rate`) on the residual path of every gated block (those inside the
    attention too), in training only. `nonlinearity` of the gated blocks: "elu" (the paper's
    code's default, which its CIFAR-10 command keeps) or "concat_elu" (PixelCNN++'s).
    Conditional on class labels (`num_classes`) or a float vector (`conditioning_dim`),
    projected into every gate (as the paper's code's `h`). No weight normalization (see
    GatedResNetBlock).
    """

    # Its constructor defaults are the paper's CIFAR-10 size (46M parameters).
    SMALL_CONFIG = dict(num_blocks=2, num_resnet=1, units=32, value_size=32, num_mixtures=5)

    def __init__(self, image_shape, num_levels, num_blocks=12, num_resnet=4, units=256,
                 key_size=16, value_size=128, num_heads=1, num_mixtures=10, dropout_rate=0.5,
                 nonlinearity="elu", num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, num_mixtures=num_mixtures,
                         dropout_rate=dropout_rate, num_classes=num_classes,
                         conditioning_dim=conditioning_dim, **kwargs)
        if min(num_blocks, num_resnet, units) < 1:
            raise ValueError(f"num_blocks, num_resnet and units must be >= 1, got "
                             f"{num_blocks}, {num_resnet} and {units}.")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got "
                             f"{nonlinearity!r}.")
        self.num_blocks = int(num_blocks)
        self.num_resnet = int(num_resnet)
        self.units = int(units)
        self.key_size = int(key_size)
        self.value_size = int(value_size)
        self.num_heads = int(num_heads)
        self.nonlinearity = nonlinearity
        check_sizes(self.key_size, self.value_size, self.num_heads)

    def _attention(self, name):
        return CausalAttention(self.key_size, self.value_size, self.num_heads,
                               dropout_rate=self.dropout_rate,
                               conditioning_dim=self.conditioning_vector_size,
                               nonlinearity=self.nonlinearity, name=name,
                               dtype=self.dtype_policy)

    def build(self, input_shape=None):
        (h, w, c), f = self.image_shape, self.units
        grid = (None, h, w)

        def gated(name, kernel_size=(2, 2), aux_features=0):
            layer = GatedResNetBlock("down_right_shifted", kernel_size=kernel_size,
                                     dropout_rate=self.dropout_rate,
                                     conditioning_dim=self.conditioning_vector_size,
                                     nonlinearity=self.nonlinearity, name=name,
                                     dtype=self.dtype_policy)
            shape = grid + (f,)
            return self._track(layer, [shape, grid + (aux_features,)] if aux_features
                               else shape)

        self.ul_input_above = self._track(DownShiftedConv2D(f, (1, 3), name="ul_input_above",
                                                            dtype=self.dtype_policy),
                                          grid + (c + 1,))
        self.ul_input_left = self._track(DownRightShiftedConv2D(f, (2, 1), name="ul_input_left",
                                                                dtype=self.dtype_policy),
                                         grid + (c + 1,))
        # blocks[b]: ([num_resnet gated blocks], attention, gated combination)
        self.blocks = []
        for b in range(self.num_blocks):
            resnets = [gated(f"block_{b}_resnet_{r}") for r in range(self.num_resnet)]
            attention = self._track(self._attention(f"block_{b}_attention"),
                                    [grid + (f,), grid + (c,)])
            combine = gated(f"block_{b}_combine", (1, 1), self.value_size)
            self.blocks.append((resnets, attention, combine))
        self._build_output_head(f)

    def mixture_parameters(self, scaled, conditioning=None, training=None):
        """Scaled images (B, H, W, C) -> mixture parameters (B, H, W, P); those at (i, j)
        depend only on the pixels before (i, j) in raster order. `conditioning` is checked."""
        vector = self.embed(conditioning)
        run = lambda layer, x: layer(x, conditioning=vector, training=training)  # noqa: E731
        scaled = tf.cast(scaled, self.compute_dtype)
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        ul = down_shift(self.ul_input_above(x)) + right_shift(self.ul_input_left(x))  # (.., F)
        for resnets, attention, combine in self.blocks:
            for block in resnets:
                ul = run(block, ul)
            attended = run(attention, [ul, scaled])  # (B, H, W, value_size)
            ul = run(combine, [ul, attended])  # (B, H, W, F)
        return self.output_head(ul)  # (B, H, W, P)

    def sampling_stages(self, conditioning=None):
        """Incremental: convolution caches and the attention's keys and values (see
        PixelSNAILStage)."""
        return [PixelSNAILStage(self, conditioning)]

    def get_config(self):
        config = super().get_config()
        config.update(num_blocks=self.num_blocks, num_resnet=self.num_resnet, units=self.units,
                      key_size=self.key_size, value_size=self.value_size,
                      num_heads=self.num_heads, nonlinearity=self.nonlinearity)
        return config


class PixelSNAILStage(MixtureStage):
    """PixelSNAIL's incremental sampling stage: a pixel at a time, each gated block from its
    convolutions' caches (2 rows; the row above's taps once per row, `begin_row`), each
    attention from the keys and values of the pixels before (one appended per pixel, once
    the pixel is drawn: they see the pixel itself), so pixel t costs O(t) attention and
    O(1) convolution work, not a pass over the image."""

    full_pass_per_pixel = False

    def __init__(self, model, conditioning):
        super().__init__(model, conditioning)
        self.vector = model.embed(conditioning)
        h, w, _ = model.image_shape
        # The positions' features as `call` computes them, one row per pixel.
        self.positions = tf.reshape(position_features(h, w, model.compute_dtype), [h * w, 2])

    def initial_state(self, images, known_mask):
        m, batch = self.model, tf.shape(images)[0]
        (h, w, _), dtype = m.image_shape, m.compute_dtype
        return [([block.step_cache(batch, w, dtype) for block in resnets],
                 attention.step_cache(batch, h * w, dtype))
                for resnets, attention, _ in m.blocks]

    def begin_row(self, state, images, t, i):
        """The convolutions' rows above (zeros at row 0), once per row."""
        return [([block.step_begin_row(c, i) for block, c in zip(resnets, caches)], kv)
                for (resnets, _, _), (caches, kv) in zip(self.model.blocks, state)]

    def begin_pixel(self, state, images, t, i, j):
        m, vector = self.model, self.vector
        scaled = tf.cast(m.scale(images), m.compute_dtype)
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        ul = stream_input_at(m.ul_input_above, m.ul_input_left, x, i, j)  # (B, F)
        new_state, queries = [], []
        for (resnets, attention, combine), (caches, keys_values) in zip(m.blocks, state):
            caches = list(caches)
            for r, block in enumerate(resnets):
                caches[r], ul = block.step_pixel(caches[r], i, j, ul, conditioning=vector)
            queries.append(ul)  # the attention's input here: its key / value need the pixel
            attended = attention.step_query(keys_values, t, ul, self.positions[t], vector)
            _, ul = combine.step_pixel((), i, j, ul, attended, conditioning=vector)
            new_state.append((caches, keys_values))
        return new_state, (m.output_head(ul), queries)

    def channel_logits(self, pixel_state, images, i, j, channel):
        params, queries = pixel_state
        logits, _ = super().channel_logits(params, images, i, j, channel)
        return logits, pixel_state

    def end_pixel(self, state, pixel_state, images, t, i, j):
        m, (_, queries) = self.model, pixel_state
        pixel = tf.cast(m.scale(images[:, i, j]), m.compute_dtype)  # (B, C), now drawn
        return [(caches, attention.step_commit(keys_values, t, x, pixel, self.positions[t],
                                               self.vector))
                for (_, attention, _), (caches, keys_values), x
                in zip(m.blocks, state, queries)]
