"""PixelCNN++ (Salimans et al. 2017): down / down-right shifted streams, gated ResNet blocks,
two downsamplings with short-cut connections, a discretized logistic mixture per pixel."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_right_shifted_conv_transpose2d import (
    DownRightShiftedConvTranspose2D)
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from pixelrnn_tf.layers.shifts import down_shift, right_shift
from pixelrnn_tf.mixture_model import LogisticMixtureModel

NUM_STAGES = 3  # resolutions H, H/2, H/4: two stride-2 downsamplings, as in the paper


def _half(size):
    """The size after a stride-2 shifted convolution: ceil, so odd and tiny sizes work."""
    return (size + 1) // 2


@registry.register("pixel_cnn_pp")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNNPlusPlus(LogisticMixtureModel):
    """PixelCNN++ as in the paper's code (openai/pixel-cnn, model_spec):

    The input is the image scaled to [-1, 1] plus a channel of ones (so the zero padding of the
    shifted convolutions differs from a black pixel). Two streams:
      u  = down_shift(DownShiftedConv2D 2x3 (x))                 sees the rows above;
      ul = down_shift(DownShiftedConv2D 1x3 (x))
           + right_shift(DownRightShiftedConv2D 2x1 (x))         sees the rows above and the
                                                                 pixels to the left.
    Up pass: three stages of `num_resnet` GatedResNetBlocks (ul's take u as auxiliary input),
    with a stride-2 shifted convolution of each stream between stages (H -> H/2 -> H/4, ceil).
    Down pass: the same stages in reverse (num_resnet, then num_resnet + 1 blocks at H/2 and
    H), with stride-2 shifted transposed convolutions cropped back to the up-pass sizes; every
    block takes the matching up-pass output as auxiliary input (u: u's; ul: [u, ul's]), which
    consumes every up-pass output once. Then elu and a 1 x 1 convolution to the parameters of
    a `num_mixtures` discretized logistic mixture per pixel (pixelrnn_tf.logistic_mixture;
    the likelihood, table, samplers and conditioning are LogisticMixtureModel's).

    Because the mixture is over whole pixels, the parameters at (i, j) see only earlier pixels,
    and channel c's conditional uses the observed channels < c of the pixel (through the
    mixture's coefficients and the posterior over components). `call` returns that exact
    conditional as the zoo's (B, H, W, C, L) table; the likelihood and the training loss use
    the cheaper direct computation (`pixel_log_prob_unchecked`).

    Dropout (`dropout_rate`, on every block's residual path) is active only when called with
    training=True (`model(images, training=True)` or
    `pixel_log_prob_unchecked(images, training=True)`).

    Conditional on class labels (`num_classes > 0`, fed one-hot) or on a float vector
    (`conditioning_dim > 0`), projected into every block's gate; at most one of the two.
    No weight normalization (see GatedResNetBlock).
    """

    # Its constructor defaults are the paper's CIFAR-10 size (53M parameters).
    SMALL_CONFIG = dict(num_resnet=1, units=32, num_mixtures=5)

    def __init__(self, image_shape, num_levels, num_resnet=5, units=160, num_mixtures=10,
                 dropout_rate=0.5, num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, num_mixtures=num_mixtures,
                         dropout_rate=dropout_rate, num_classes=num_classes,
                         conditioning_dim=conditioning_dim, **kwargs)
        if num_resnet < 1 or units < 1:
            raise ValueError(f"num_resnet and units must be >= 1, got {num_resnet} and "
                             f"{units}.")
        self.num_resnet = int(num_resnet)
        self.units = int(units)

    def stage_sizes(self):
        """(height, width) of the three stages."""
        sizes = [tuple(self.image_shape[:2])]
        for _ in range(NUM_STAGES - 1):
            sizes.append(tuple(_half(d) for d in sizes[-1]))
        return sizes

    def build(self, input_shape=None):
        c, f = self.image_shape[-1], self.units
        sizes = self.stage_sizes()
        dtype = self.dtype_policy  # every sublayer's

        def shape(stage, features):
            return (None,) + sizes[stage] + (features,)

        def block(kind, name, stage, aux_features=0):
            layer = GatedResNetBlock(kind, dropout_rate=self.dropout_rate,
                                     conditioning_dim=self.conditioning_vector_size, name=name,
                                     dtype=dtype)
            x_shape = shape(stage, f)
            return self._track(layer, [x_shape, shape(stage, aux_features)] if aux_features
                               else x_shape)

        self.u_input = self._track(DownShiftedConv2D(f, (2, 3), name="u_input", dtype=dtype),
                                   shape(0, c + 1))
        self.ul_input_above = self._track(
            DownShiftedConv2D(f, (1, 3), name="ul_input_above", dtype=dtype), shape(0, c + 1))
        self.ul_input_left = self._track(
            DownRightShiftedConv2D(f, (2, 1), name="ul_input_left", dtype=dtype),
            shape(0, c + 1))
        # up_blocks[stage]: [(u block, ul block)] * num_resnet.
        self.up_blocks, self.downsamplers, self.upsamplers, self.down_blocks = [], [], [], []
        for stage in range(NUM_STAGES):
            self.up_blocks.append([
                (block("down_shifted", f"up_u_{stage}_{r}", stage),
                 block("down_right_shifted", f"up_ul_{stage}_{r}", stage, f))
                for r in range(self.num_resnet)])
            if stage < NUM_STAGES - 1:
                self.downsamplers.append((
                    self._track(DownShiftedConv2D(f, (2, 3), 2, name=f"down_u_{stage}",
                                                  dtype=dtype), shape(stage, f)),
                    self._track(DownRightShiftedConv2D(f, (2, 2), 2, name=f"down_ul_{stage}",
                                                       dtype=dtype), shape(stage, f))))
        # down_blocks[k]: stage NUM_STAGES - 1 - k; u's aux is an up-pass u, ul's is [u, ul].
        for k, stage in enumerate(reversed(range(NUM_STAGES))):
            count = self.num_resnet + (k > 0)
            self.down_blocks.append([
                (block("down_shifted", f"down_u_{stage}_{r}", stage, f),
                 block("down_right_shifted", f"down_ul_{stage}_{r}", stage, 2 * f))
                for r in range(count)])
            if stage > 0:
                self.upsamplers.append((
                    self._track(DownShiftedConvTranspose2D(f, (2, 3), 2, name=f"up_u_{stage}",
                                                           dtype=dtype), shape(stage, f)),
                    self._track(DownRightShiftedConvTranspose2D(f, (2, 2), 2,
                                                                name=f"up_ul_{stage}",
                                                                dtype=dtype),
                                shape(stage, f))))
        self._build_output_head(f)

    def mixture_parameters(self, scaled, conditioning=None, training=None):
        """Scaled images (B, H, W, C) -> mixture parameters (B, H, W, P); those at (i, j)
        depend only on the pixels before (i, j) in raster order. `conditioning` is checked."""
        vector = self.embed(conditioning)
        sizes = self.stage_sizes()
        run = lambda layer, x: layer(x, conditioning=vector, training=training)  # noqa: E731
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        u = down_shift(self.u_input(x))  # (B, H, W, F)
        ul = down_shift(self.ul_input_above(x)) + right_shift(self.ul_input_left(x))
        us, uls = [u], [ul]  # every up-pass output, consumed once by the down pass
        for stage in range(NUM_STAGES):
            for u_block, ul_block in self.up_blocks[stage]:
                u = run(u_block, u)
                ul = run(ul_block, [ul, u])
                us.append(u)
                uls.append(ul)
            if stage < NUM_STAGES - 1:
                u_down, ul_down = self.downsamplers[stage]
                u, ul = u_down(u), ul_down(ul)  # (B, ceil(h / 2), ceil(w / 2), F)
                us.append(u)
                uls.append(ul)
        u, ul = us.pop(), uls.pop()
        for k, stage in enumerate(reversed(range(NUM_STAGES))):
            if k > 0:
                u_up, ul_up = self.upsamplers[k - 1]
                u = u_up(u, output_size=sizes[stage])  # (B, h_stage, w_stage, F)
                ul = ul_up(ul, output_size=sizes[stage])
            for u_block, ul_block in self.down_blocks[k]:
                u = run(u_block, [u, us.pop()])
                ul = run(ul_block, [ul, tf.concat([u, uls.pop()], axis=-1)])  # aux 2F
        # In float32 (the head's weights are not autocast): the likelihood's parameters.
        y = tf.einsum("bhwf,fp->bhwp", tf.cast(tf.nn.elu(ul), tf.float32), self.output_kernel)
        return y + self.output_bias  # (B, H, W, P)

    def get_config(self):
        config = super().get_config()
        config.update(num_resnet=self.num_resnet, units=self.units)
        return config
