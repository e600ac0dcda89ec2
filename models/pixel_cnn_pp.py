"""PixelCNN++ (Salimans et al. 2017): down / down-right shifted streams, gated ResNet blocks,
two downsamplings with short-cut connections, a discretized logistic mixture per pixel."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf import logistic_mixture
from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_right_shifted_conv_transpose2d import (
    DownRightShiftedConvTranspose2D)
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from pixelrnn_tf.layers.shifts import down_shift, right_shift
from pixelrnn_tf.sampling import gumbel_noise

NUM_STAGES = 3  # resolutions H, H/2, H/4: two stride-2 downsamplings, as in the paper


def _half(size):
    """The size after a stride-2 shifted convolution: ceil, so odd and tiny sizes work."""
    return (size + 1) // 2


@registry.register("pixel_cnn_pp")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNNPlusPlus(AutoregressiveModel):
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
    a `num_mixtures` discretized logistic mixture per pixel (pixelrnn_tf.logistic_mixture).

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

    def __init__(self, image_shape, num_levels, num_resnet=5, units=160, num_mixtures=10,
                 dropout_rate=0.5, num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        if num_resnet < 1 or units < 1 or num_mixtures < 1:
            raise ValueError(f"num_resnet, units and num_mixtures must be >= 1, got "
                             f"{num_resnet}, {units} and {num_mixtures}.")
        if num_classes and conditioning_dim:
            raise ValueError("Pass num_classes (labels) or conditioning_dim (vectors), not both.")
        if num_classes < 0 or conditioning_dim < 0:
            raise ValueError(f"num_classes and conditioning_dim must be >= 0, got "
                             f"{num_classes} and {conditioning_dim}.")
        self.num_resnet = int(num_resnet)
        self.units = int(units)
        self.num_mixtures = int(num_mixtures)
        self.dropout_rate = float(dropout_rate)
        self.num_classes = int(num_classes)
        self.conditioning_dim = int(conditioning_dim)

    @property
    def conditioning_features(self):
        """D of the vector every gate is conditioned on (one-hot labels or the vector)."""
        return self.num_classes or self.conditioning_dim

    @property
    def num_parameters(self):
        """Mixture parameters per pixel (10 K for RGB, 3 K for one channel)."""
        return logistic_mixture.num_parameters(self.num_mixtures, self.image_shape[-1])

    def stage_sizes(self):
        """(height, width) of the three stages."""
        sizes = [tuple(self.image_shape[:2])]
        for _ in range(NUM_STAGES - 1):
            sizes.append(tuple(_half(d) for d in sizes[-1]))
        return sizes

    def _track(self, layer, shape):
        """Build `layer` on `shape` and make it an attribute of its own: tf.train.Checkpoint
        does not look inside the Keras-tracked lists."""
        layer.build(shape)
        setattr(self, layer.name, layer)
        return layer

    def build(self, input_shape=None):
        c, f = self.image_shape[-1], self.units
        sizes = self.stage_sizes()

        def shape(stage, features):
            return (None,) + sizes[stage] + (features,)

        def block(kind, name, stage, aux_features=0):
            layer = GatedResNetBlock(kind, dropout_rate=self.dropout_rate,
                                     conditioning_dim=self.conditioning_features, name=name)
            x_shape = shape(stage, f)
            return self._track(layer, [x_shape, shape(stage, aux_features)] if aux_features
                               else x_shape)

        self.u_input = self._track(DownShiftedConv2D(f, (2, 3), name="u_input"), shape(0, c + 1))
        self.ul_input_above = self._track(DownShiftedConv2D(f, (1, 3), name="ul_input_above"),
                                          shape(0, c + 1))
        self.ul_input_left = self._track(
            DownRightShiftedConv2D(f, (2, 1), name="ul_input_left"), shape(0, c + 1))
        # up_blocks[stage]: [(u block, ul block)] * num_resnet.
        self.up_blocks, self.downsamplers, self.upsamplers, self.down_blocks = [], [], [], []
        for stage in range(NUM_STAGES):
            self.up_blocks.append([
                (block("down_shifted", f"up_u_{stage}_{r}", stage),
                 block("down_right_shifted", f"up_ul_{stage}_{r}", stage, f))
                for r in range(self.num_resnet)])
            if stage < NUM_STAGES - 1:
                self.downsamplers.append((
                    self._track(DownShiftedConv2D(f, (2, 3), 2, name=f"down_u_{stage}"),
                                shape(stage, f)),
                    self._track(DownRightShiftedConv2D(f, (2, 2), 2, name=f"down_ul_{stage}"),
                                shape(stage, f))))
        # down_blocks[k]: stage NUM_STAGES - 1 - k; u's aux is an up-pass u, ul's is [u, ul].
        for k, stage in enumerate(reversed(range(NUM_STAGES))):
            count = self.num_resnet + (k > 0)
            self.down_blocks.append([
                (block("down_shifted", f"down_u_{stage}_{r}", stage, f),
                 block("down_right_shifted", f"down_ul_{stage}_{r}", stage, 2 * f))
                for r in range(count)])
            if stage > 0:
                self.upsamplers.append((
                    self._track(DownShiftedConvTranspose2D(f, (2, 3), 2, name=f"up_u_{stage}"),
                                shape(stage, f)),
                    self._track(DownRightShiftedConvTranspose2D(f, (2, 2), 2,
                                                                name=f"up_ul_{stage}"),
                                shape(stage, f))))
        self.output_kernel = self.add_weight(name="output_kernel",
                                             shape=(f, self.num_parameters))
        # Random, not zeros: every feature at pixel (0, 0) (which sees only padding) is a
        # bias, so with zero biases its mixture would have identical components and zero
        # coefficients, i.e. independent channels, until trained.
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.num_parameters,),
            initializer=keras.initializers.RandomNormal(stddev=0.5))

    def embed(self, conditioning):
        """Checked conditioning -> the (B, D) float vector fed to the gates, or None."""
        if conditioning is None:
            return None
        if self.num_classes:
            return tf.one_hot(conditioning, self.num_classes, dtype=self.compute_dtype)
        return tf.cast(conditioning, self.compute_dtype)

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
        y = tf.einsum("bhwf,fp->bhwp", tf.nn.elu(ul), self.output_kernel)
        return y + self.output_bias  # (B, H, W, P)

    def call(self, images, conditioning=None, training=None):
        conditioning = self.check_conditioning(conditioning)
        return self.logits(self.scale(images), conditioning, training=training)

    def logits(self, scaled, conditioning=None, training=None):
        """The exact per-sub-pixel conditionals (B, H, W, C, L) of the mixture; channel c's
        uses the observed channels < c of `scaled` (the image itself, in [-1, 1])."""
        params = self.mixture_parameters(scaled, conditioning, training)
        return logistic_mixture.conditional_log_prob_table(params, scaled, self.num_mixtures,
                                                           self.num_levels)

    def pixel_log_prob_unchecked(self, images, conditioning=None, training=None):
        """log p(x_k | x_<k) of the observed sub-pixels (B, H, W, C), without the L-wide
        table; training=True turns dropout on (the training loss)."""
        conditioning = self.check_conditioning(conditioning)
        scaled = self.scale(images)
        params = self.mixture_parameters(scaled, conditioning, training)
        return logistic_mixture.pixel_log_prob(params, scaled, self.num_mixtures,
                                               self.num_levels)

    def position_logits(self, images, i, j, channel, conditioning=None):
        """(B, L) of sub-pixel (i, j, channel): one network pass, the table of one pixel."""
        conditioning = self.check_conditioning(conditioning)
        scaled = self.scale(images)
        params = self.mixture_parameters(scaled, conditioning)[:, i, j]  # (B, P)
        table = logistic_mixture.conditional_log_prob_table(
            params, scaled[:, i, j], self.num_mixtures, self.num_levels)  # (B, C, L)
        return tf.gather(table, channel, axis=1)

    def cached_complete(self, images, known_mask, seed, conditioning=None):
        """Same arguments and output as `sampling.naive_complete`, with one network pass per
        PIXEL instead of per sub-pixel: the mixture parameters of pixel (i, j) do not depend
        on the pixel itself, so its C channels are drawn in turn (same Gumbel keys) from the
        tables of one pass, each given the channels drawn before it."""
        conditioning = self.check_conditioning(conditioning)
        h, w, c = self.image_shape
        images = tf.cast(images, tf.int32)
        batch = tf.shape(images)[0]
        rows = tf.range(batch)

        def body(p, x):
            i, j = p // w, p % w
            params = self.mixture_parameters(self.scale(x), conditioning)[:, i, j]  # (B, P)
            for ch in range(c):
                # Only channel ch's row is used; channels >= ch of x[:, i, j] do not enter it.
                table = logistic_mixture.conditional_log_prob_table(
                    params, self.scale(x[:, i, j]), self.num_mixtures, self.num_levels)
                noise = gumbel_noise(seed, p * c + ch, batch, self.num_levels)
                choice = tf.argmax(table[:, ch] + noise, axis=-1, output_type=tf.int32)
                value = tf.where(known_mask[:, i, j], x[:, i, j, ch], choice)
                index = tf.stack([rows, tf.fill([batch], i), tf.fill([batch], j),
                                  tf.fill([batch], ch)], axis=1)
                x = tf.tensor_scatter_nd_update(x, index, value)
            return p + 1, x

        _, out = tf.while_loop(lambda p, _: p < h * w, body, (tf.constant(0), images))
        return out

    def get_config(self):
        config = super().get_config()
        config.update(num_resnet=self.num_resnet, units=self.units,
                      num_mixtures=self.num_mixtures, dropout_rate=self.dropout_rate,
                      num_classes=self.num_classes, conditioning_dim=self.conditioning_dim)
        return config
