"""AutoregressiveModel: the base of every model in the zoo, with the likelihood API."""

import contextlib

import keras
import numpy as np
import tensorflow as tf
# Not exported by Keras: the scope in which Layer.__call__ reads variables in the compute dtype.
from keras.src.backend import AutocastScope

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

    def scale(self, images, dtype=None):
        """Pixel values 0..L-1 -> [-1, 1] in `dtype` (default: the compute dtype). Computed in
        float32 and rounded once, so a bfloat16 value is at most a quarter of a level off for
        L = 256: in bfloat16 arithmetic the roundings of 2 / (L - 1) and of the product put
        level 192 1.24 levels off."""
        scaled = tf.cast(images, tf.float32) * (2.0 / (self.num_levels - 1)) - 1.0
        return tf.cast(scaled, dtype or self.compute_dtype)

    def compute_dtype_scope(self):
        """Context in which the variables read in the compute dtype, as they do inside
        `__call__`: for code that steps the layers outside it (the sampling stages). A no-op
        under a float32 policy."""
        if self.compute_dtype == self.variable_dtype:
            return contextlib.nullcontext()
        return AutocastScope(self.compute_dtype)

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
        with self.compute_dtype_scope():
            return driver.complete(self.sampling_stages(conditioning), self.image_shape, images,
                                   known_mask, seed, num_pixels)

    def ordering(self):
        """Rank (H, W, C) of each sub-pixel in the order the model generates them."""
        return likelihood.raster_order(self.image_shape)

    def validate(self, images):
        return likelihood.validate_images(images, self.image_shape, self.num_levels)

    def zero_conditioning(self, batch=1):
        """Placeholder conditioning for `batch` images (label 0, or zero vectors), or None for
        an unconditional model: for building or tracing a model on dummy input."""
        if self.num_classes:
            return tf.zeros([batch], tf.int32)
        if self.conditioning_dim:
            return tf.zeros([batch, self.conditioning_dim])
        return None

    def build_by_calling(self):
        """Create the weights of a model that makes them on its first call (one dummy image)."""
        if not self.variables:
            self(tf.zeros((1,) + tuple(self.image_shape), tf.int32), self.zero_conditioning())

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

    # ---- Keras compile() / fit() / evaluate() -------------------------------------------
    # train_step / test_step are overridden rather than compute_loss: Keras' default step
    # first runs `self(x)`, the (B, H, W, C, L) logit table (for a mixture model, the table
    # that `log_prob_unchecked` exists to avoid), and only then calls compute_loss; the exact
    # NLL needs one pass of `log_prob_unchecked`, nothing else. (TensorFlow backend, the only
    # one the zoo supports.)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """Keras' compile, with the model's exact NLL as the loss: the mean over the batch of
        -log p(x) / num_dims (nats per dimension, the scale of `python -m pixelrnn_tf.train`,
        so the same learning rates apply), and the metrics `nll_nats` (nats per image) and
        `bits_per_dim`. A `loss` or `metrics` argument is refused: the model's output is a
        table of conditionals, not a prediction of `y` (which, for a class-conditional
        model, holds the labels it is conditioned on)."""
        if loss is not None:
            raise ValueError(
                f"{self.name} trains on its exact negative log-likelihood; compile() takes no "
                f"`loss` (got {loss!r}). Call compile(optimizer=...) without it, or write your "
                "own training loop on log_prob_unchecked(images, training=True).")
        if metrics or weighted_metrics:
            raise ValueError(
                f"{self.name} reports its own metrics (loss in nats/dim, nll_nats, "
                "bits_per_dim); compile() takes no `metrics` or `weighted_metrics`.")
        super().compile(optimizer=optimizer, **kwargs)
        # Created here, under the caller's distribution scope, like Keras' own loss tracker;
        # held by an untracked object so tf.train.Checkpoint and the .weights.h5 files of a
        # compiled model hold the same variables as an uncompiled one's.
        self._fit_metrics = _FitMetrics()
        # The zoo's models create their weights at construction: build the optimizer now
        # (under the same scope), not lazily inside Keras' first traced step, where a first
        # call that fails (refused input) would leave the next call "creating variables on a
        # non-first call" to the tf.function.
        if self.built and self.trainable_variables and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        fit_metrics = getattr(self, "_fit_metrics", None)
        return [] if fit_metrics is None else fit_metrics.all

    def _unpack_fit_batch(self, data):
        """A Keras data batch -> checked (images, conditioning). x is the images (integer
        pixel values); y is the conditioning of a conditional model (labels or vectors), and
        must be absent for an unconditional one."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError(f"{self.name}: sample weights are not supported by fit/evaluate.")
        if isinstance(x, (tuple, list)):
            raise ValueError(f"{self.name}: x must be a batch of images (B, H, W, C); pass "
                             "labels as y (fit(images, labels)) or as a dataset of "
                             "(images, labels) pairs.")
        if y is not None and not self.is_conditional:
            raise ValueError(f"Model {self.name!r} is unconditional: fit/evaluate it on images "
                             "only (drop the labels, e.g. dataset.map(lambda x, y: x)).")
        if y is None and self.is_conditional:
            raise ValueError(f"Model {self.name!r} is conditional: fit/evaluate it on "
                             "(images, labels), e.g. fit(images, labels).")
        # Dtype, rank and shape are checked now (at trace time); values in [0, num_levels)
        # by graph assertions: float images (e.g. scaled to [0, 1]) are refused, not trained.
        images = self.validate(x)
        return images, self.check_conditioning(y)

    def _nll_step_loss(self, log_p):
        """Loss of one replica's batch: mean nats per dimension, scaled by 1/replicas as Keras
        does (the optimizer sums the replicas' gradients), so one step equals the project
        trainer's step over the global batch."""
        log_p = tf.cast(log_p, tf.float32)
        loss = -tf.reduce_mean(log_p) / self.num_dims
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / replicas if replicas > 1 else loss

    def _update_fit_metrics(self, log_p):
        if getattr(self, "_fit_metrics", None) is None:
            raise RuntimeError(f"{self.name}: call compile(optimizer=...) before fit/evaluate.")
        self._fit_metrics.update(tf.cast(-log_p, tf.float32), self.num_dims)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images, conditioning = self._unpack_fit_batch(data)
        cond = [] if conditioning is None else [conditioning]
        with tf.GradientTape() as tape:
            log_p = self.log_prob_unchecked(images, *cond, training=True)
            loss = self._nll_step_loss(log_p)
            scaled_loss = self.optimizer.scale_loss(loss)  # mixed precision's loss scale
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        return self._update_fit_metrics(log_p)

    def test_step(self, data):
        images, conditioning = self._unpack_fit_batch(data)
        cond = [] if conditioning is None else [conditioning]
        return self._update_fit_metrics(self.log_prob_unchecked(images, *cond, training=False))

    def get_config(self):
        return {"name": self.name, "image_shape": list(self.image_shape),
                "num_levels": self.num_levels}


class _FitMetrics:
    """The metrics of compile()/fit()/evaluate(), averaged over images (exact over an epoch
    or an evaluation, whatever the batch sizes): `loss` (nats per dimension), `nll_nats`
    (nats per image), `bits_per_dim`. A plain object: neither Keras nor tf.train.Checkpoint
    tracks it."""

    def __init__(self):
        self.loss = keras.metrics.Mean(name="loss")
        self.nll_nats = keras.metrics.Mean(name="nll_nats")
        self.bits_per_dim = keras.metrics.Mean(name="bits_per_dim")
        self.all = [self.loss, self.nll_nats, self.bits_per_dim]

    def update(self, nll, num_dims):
        self.loss.update_state(nll / num_dims)
        self.nll_nats.update_state(nll)
        self.bits_per_dim.update_state(nll / (num_dims * float(np.log(2.0))))
