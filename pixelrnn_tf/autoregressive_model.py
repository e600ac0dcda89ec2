"""AutoregressiveModel: the base of every model in the zoo, with the likelihood API."""

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import likelihood
from pixelrnn_tf.sampling import driver
from pixelrnn_tf.sampling.stages import NaiveStage


class AutoregressiveModel(keras.Model):
    """p(x | conditioning) = prod_k p(x_k | x_<k, conditioning) over the sub-pixels of an
    (H, W, C) image of `num_levels`.

    `call(images, conditioning=None)` takes pixel values (any numeric dtype: floats let tests
    differentiate through the input) and returns logits (B, H, W, C, num_levels): for every
    sub-pixel, unnormalized log-probabilities of its value given everything before it.
    Subclasses implement `logits(scaled)` (or `logits(scaled, conditioning)` when conditional)
    on images scaled to [-1, 1], may override `ordering()`, and may override
    `pixel_log_prob_unchecked` when the log-probability of the observed values is cheaper
    than the full (B, H, W, C, L) table (mixture likelihoods).

    Conditioning: a model with `num_classes > 0` takes int labels (B,) in [0, num_classes);
    one with `conditioning_dim > 0` takes a float vector (B, conditioning_dim). Unconditional
    models (both 0) reject conditioning.
    """

    # The size a registry-name run (`--model=pixel_cnn`) trains when no experiment config
    # gives one: small enough for the offline default run (8x8 digits, ~a minute on 2 cores).
    # Each model declares its own (constructor arguments); {} keeps the constructor defaults.
    SMALL_CONFIG = {}
    # Overridden (as instance attributes) by conditional models.
    num_classes = 0
    conditioning_dim = 0

    def __init__(self, image_shape, num_levels, **kwargs):
        super().__init__(**kwargs)
        image_shape = tuple(int(d) for d in image_shape)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}.")
        if num_levels < 2:
            raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
        self.image_shape = image_shape
        self.num_levels = int(num_levels)

    def _set_conditioning(self, num_classes, conditioning_dim):
        """Checks and stores the conditioning arguments of a conditional model's constructor."""
        if num_classes and conditioning_dim:
            raise ValueError("Pass num_classes (labels) or conditioning_dim (vectors), not both.")
        if num_classes < 0 or conditioning_dim < 0:
            raise ValueError(f"num_classes and conditioning_dim must be >= 0, got "
                             f"{num_classes} and {conditioning_dim}.")
        self.num_classes = int(num_classes)
        self.conditioning_dim = int(conditioning_dim)

    @property
    def conditioning_vector_size(self):
        """D of the conditioning vector (one-hot labels or the given vector; 0 if none)."""
        return self.num_classes or self.conditioning_dim

    def embed(self, conditioning):
        """Checked conditioning -> the (B, D) float vector a network is conditioned on (one-hot
        for labels), or None."""
        if conditioning is None:
            return None
        if self.num_classes:
            return tf.one_hot(conditioning, self.num_classes, dtype=self.compute_dtype)
        return tf.cast(conditioning, self.compute_dtype)

    @property
    def num_dims(self):
        return int(np.prod(self.image_shape))

    @property
    def is_conditional(self):
        return bool(self.num_classes or self.conditioning_dim)

    def scale(self, images):
        """Pixel values 0..L-1 -> [-1, 1]."""
        return tf.cast(images, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def call(self, images, conditioning=None):
        conditioning = self.check_conditioning(conditioning)
        scaled = self.scale(images)
        if conditioning is None:
            return self.logits(scaled)
        return self.logits(scaled, conditioning)

    def logits(self, scaled, conditioning=None):
        raise NotImplementedError

    def position_logits(self, images, i, j, channel, conditioning=None):
        """Logits (B, L) of sub-pixel (i, j, channel) only; the naive sampler's per-step call.
        Models whose full logit table is expensive override this."""
        return self(images, conditioning)[:, i, j, channel]

    def sampling_stages(self, conditioning=None):
        """The sampling contract (`pixelrnn_tf.sampling.driver`): the stages whose walk
        generates an image in this model's order, one pixel at a time from the model's own
        caches. Default: the naive stage (one full network pass per sub-pixel); models with
        an incremental step override it. `conditioning` is checked."""
        return [NaiveStage(self, conditioning)]

    # The driver and the stages are written with explicit tf.while_loop / tf.cond: AutoGraph
    # must not convert them, nor (recursing) the Keras model's methods, which it mistranslates
    # (properties called as methods, closures in build() losing `self`).
    @tf.autograph.experimental.do_not_convert
    def cached_complete(self, images, known_mask, seed, conditioning=None, num_pixels=None):
        """Pure-TF completion through `sampling_stages` (same arguments and output as
        `sampling.naive_complete`). num_pixels: stop after this many pixels of the first
        stage (benchmarks time a prefix)."""
        conditioning = self.check_conditioning(conditioning)
        return driver.complete(self.sampling_stages(conditioning), self.image_shape, images,
                               known_mask, seed, num_pixels)

    def ordering(self):
        """Rank (H, W, C) of each sub-pixel in the order the model generates them."""
        return likelihood.raster_order(self.image_shape)

    def validate(self, images):
        return likelihood.validate_images(images, self.image_shape, self.num_levels)

    def check_conditioning(self, conditioning):
        """The conditioning as a tensor (int32 labels or float vectors), or None for an
        unconditional model. Errors name the problem."""
        return likelihood.validate_conditioning(
            conditioning, self.name, self.num_classes, self.conditioning_dim, self.compute_dtype)

    def pixel_log_prob_unchecked(self, images, conditioning=None, training=None):
        """`pixel_log_prob` without validating `images` (the training step's hot path;
        training=True turns on dropout in the models that have it)."""
        return likelihood.pixel_log_prob_from_logits(
            self(images, conditioning, training=training), images)

    @tf.autograph.experimental.do_not_convert  # see cached_complete
    def log_prob_unchecked(self, images, conditioning=None, training=None):
        """log p(x) per image (B,) without validating `images`: the one hot path of the
        servable, evaluation and the training step (training=True: dropout on)."""
        return likelihood.image_log_prob(
            self.pixel_log_prob_unchecked(images, conditioning, training=training))

    def pixel_log_prob(self, images, conditioning=None):
        """log p(x_k | x_<k) per sub-pixel, (B, H, W, C), in nats."""
        images = self.validate(images)
        return self.pixel_log_prob_unchecked(images, conditioning)

    def log_prob(self, images, conditioning=None):
        """log p(x) per image, (B,), in nats."""
        return likelihood.image_log_prob(self.pixel_log_prob(images, conditioning))

    def bits_per_dim(self, images, conditioning=None):
        """-log p(x) / (H W C ln 2) per image, (B,)."""
        return likelihood.bits_per_dim(self.log_prob(images, conditioning), self.num_dims)

    def get_config(self):
        return {"name": self.name, "image_shape": list(self.image_shape),
                "num_levels": self.num_levels}
