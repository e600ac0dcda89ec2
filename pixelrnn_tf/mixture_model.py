"""LogisticMixtureModel: the base of the models whose network outputs a discretized logistic
mixture per pixel (PixelCNN++, PixelSNAIL): the likelihood API, the per-sub-pixel table, the
naive sampler's call and a one-pass-per-pixel sampling stage, all from `mixture_parameters`."""

import keras
import tensorflow as tf

from pixelrnn_tf import logistic_mixture
from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.sampling.driver import raster_pixels


class LogisticMixtureModel(AutoregressiveModel):
    """A subclass implements `mixture_parameters(scaled, conditioning, training)`: scaled
    images (B, H, W, C) -> (B, H, W, P) parameters of a `num_mixtures` discretized logistic
    mixture per pixel (pixelrnn_tf.logistic_mixture), those at (i, j) depending only on the
    pixels before (i, j) in raster order. Channel c's conditional then uses the observed
    channels < c of the pixel (through the mixture's coefficients and the posterior over
    components): `call` returns that exact conditional as the zoo's (B, H, W, C, L) table,
    the likelihood and the training loss use the cheaper direct computation.

    Dropout (`dropout_rate`) is active only with training=True (`model(images,
    training=True)` or `pixel_log_prob_unchecked(images, training=True)`).

    Conditional on class labels (`num_classes > 0`, fed one-hot) or on a float vector
    (`conditioning_dim > 0`), at most one of the two; `embed` gives the (B, D) vector the
    subclass feeds its gates.
    """

    def __init__(self, image_shape, num_levels, num_mixtures=10, dropout_rate=0.5,
                 num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        if num_mixtures < 1:
            raise ValueError(f"num_mixtures must be >= 1, got {num_mixtures}.")
        self._set_conditioning(num_classes, conditioning_dim)
        self.num_mixtures = int(num_mixtures)
        self.dropout_rate = float(dropout_rate)

    @property
    def num_parameters(self):
        """Mixture parameters per pixel (10 K for RGB, 3 K for one channel)."""
        return logistic_mixture.num_parameters(self.num_mixtures, self.image_shape[-1])

    def _track(self, layer, shape):
        """Build `layer` on `shape` and make it an attribute of its own: tf.train.Checkpoint
        does not look inside the Keras-tracked lists."""
        layer.build(shape)
        setattr(self, layer.name, layer)
        return layer

    def _build_output_head(self, features):
        """The 1 x 1 projection of `features` maps to the mixture parameters. Its bias is
        random, not zeros: pixel (0, 0) sees only padding, so its features are biases, and
        zero output biases would make its mixture components identical (independent
        channels) until trained."""
        # autocast=False: the projection is computed in float32 under a mixed policy too
        # (`output_head`), so the likelihood gets float32 parameters.
        self.output_kernel = self.add_weight(name="output_kernel",
                                             shape=(features, self.num_parameters),
                                             autocast=False)
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.num_parameters,),
            initializer=keras.initializers.RandomNormal(stddev=0.5), autocast=False)

    def mixture_parameters(self, scaled, conditioning=None, training=None):
        """Scaled images (B, H, W, C) -> mixture parameters (B, H, W, P); those at (i, j)
        depend only on the pixels before (i, j) in raster order. `conditioning` is checked."""
        raise NotImplementedError

    def output_head(self, features):
        """The last features (..., F) -> mixture parameters (..., P): elu, then 1 x 1, in
        float32 whatever the compute dtype (the head's weights are not autocast)."""
        features = tf.cast(tf.nn.elu(features), tf.float32)
        return tf.einsum("...f,fp->...p", features, self.output_kernel) + self.output_bias

    def call(self, images, conditioning=None, training=None):
        conditioning = self.check_conditioning(conditioning)
        # float32: the likelihood snaps the scaled values to their levels.
        return self.logits(self.scale(images, tf.float32), conditioning, training=training)

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
        scaled = self.scale(images, tf.float32)
        params = self.mixture_parameters(scaled, conditioning, training)
        return logistic_mixture.pixel_log_prob(params, scaled, self.num_mixtures,
                                               self.num_levels)

    def position_logits(self, images, i, j, channel, conditioning=None):
        """(B, L) of sub-pixel (i, j, channel): one network pass, the table of one pixel."""
        conditioning = self.check_conditioning(conditioning)
        scaled = self.scale(images, tf.float32)
        params = self.mixture_parameters(scaled, conditioning)[:, i, j]  # (B, P)

        def table(c):  # the one-channel table the cached stage draws from: same bits
            return logistic_mixture.conditional_log_prob_table(
                params, scaled[:, i, j], self.num_mixtures, self.num_levels, c)  # (B, L)

        if isinstance(channel, int):
            return table(channel)
        return tf.switch_case(tf.cast(channel, tf.int32),
                              [lambda c=c: table(c) for c in range(self.image_shape[-1])])

    def sampling_stages(self, conditioning=None):
        """One network pass per PIXEL (not per sub-pixel): the mixture parameters of pixel
        (i, j) do not depend on the pixel itself, so its C channels are drawn in turn from
        the tables of one pass, each given the channels drawn before it."""
        return [MixtureStage(self, conditioning)]

    def get_config(self):
        config = super().get_config()
        config.update(num_mixtures=self.num_mixtures, dropout_rate=self.dropout_rate,
                      num_classes=self.num_classes, conditioning_dim=self.conditioning_dim)
        return config


class MixtureStage:
    """The sampling stage of a LogisticMixtureModel: one full pass per pixel (see
    `pixelrnn_tf.sampling.driver` for the contract)."""

    full_pass_per_pixel = True

    def __init__(self, model, conditioning):
        self.model, self.conditioning = model, conditioning
        self.pixels = raster_pixels(*model.image_shape[:2])

    def initial_state(self, images, known_mask):
        return tf.constant(0)

    def begin_pixel(self, state, images, t, i, j):
        m = self.model
        params = m.mixture_parameters(m.scale(images, tf.float32), self.conditioning)
        return state, params[:, i, j]  # (B, P)

    def channel_logits(self, params, images, i, j, channel):
        m = self.model
        # Channel `channel`'s table only; channels >= it of the pixel do not enter it.
        return logistic_mixture.conditional_log_prob_table(
            params, m.scale(images[:, i, j], tf.float32), m.num_mixtures, m.num_levels,
            channel), params  # (B, L)

    def end_pixel(self, state, params, images, t, i, j):
        return state
