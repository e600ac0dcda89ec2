"""The exported signatures: a tf.Module of tf.functions over named tensors (pure TF graphs).

  serving_default, log_prob: images uint8 (B,H,W,C) -> log_prob (B) nats, bits_per_dim (B),
                             pixel_log_prob (B,H,W,C)
  sample:   num_samples int32 scalar, seed int64 scalar -> images uint8 (N,H,W,C)
  complete: images uint8 (B,H,W,C), known_mask uint8 (B,H,W) (1 = keep), seed int64 -> images

Bad input fails inside the graph with InvalidArgument and a message naming the problem.
"""

import tensorflow as tf

from pixelrnn_tf import likelihood, sampling

SIGNATURES = {
    "log_prob": {"inputs": {"images": "uint8 (B,H,W,C)"},
                 "outputs": {"log_prob": "float32 (B) nats", "bits_per_dim": "float32 (B)",
                             "pixel_log_prob": "float32 (B,H,W,C) nats"}},
    "sample": {"inputs": {"num_samples": "int32 scalar >= 1", "seed": "int64 scalar"},
               "outputs": {"images": "uint8 (N,H,W,C)"}},
    "complete": {"inputs": {"images": "uint8 (B,H,W,C)",
                            "known_mask": "uint8 (B,H,W), 1 = keep the pixel",
                            "seed": "int64 scalar"},
                 "outputs": {"images": "uint8 (B,H,W,C)"}},
}
SIGNATURES["serving_default"] = SIGNATURES["log_prob"]


def _require(ok, message, data, value):
    """`value`, passed on only once `ok` holds; else InvalidArgument "message data".

    A tf.cond, so everything that reads the result runs after the check. (Control
    dependencies between asserts alone do not order them: grappler may run a later assert
    first, and a wrong-rank input would then be reported as a wrong shape.)
    """
    def fail():
        with tf.control_dependencies([tf.debugging.Assert(False, [message] + data, summarize=32)]):
            return tf.identity(value)

    return tf.cond(ok, lambda: tf.identity(value), fail)


def _padded_shape(x, rank):
    """tf.shape(x) cut or padded with zeros to `rank` entries (for a shape check that must not
    fail on the wrong rank itself)."""
    return tf.concat([tf.shape(x), tf.zeros([rank], tf.int32)], 0)[:rank]


class Servable(tf.Module):
    """The model's signatures as tf.functions over named tensors."""

    def __init__(self, model, autograph=True):
        super().__init__()
        # Track only the backing tf.Variables (as keras.export.ExportArchive does). Tracking
        # the Keras model too would save every variable twice, and the TF1 loader that TF
        # Serving uses would then restore one copy while the signatures read the other.
        self.model_variables = [v.value for v in model.variables]
        self._model = lambda: model  # hidden from tf.Module tracking
        self.image_shape = tuple(model.image_shape)
        self.num_levels = model.num_levels
        # Unknown shapes in the signatures: our own checks then give the error messages.
        # export() traces with autograph=False first (see export_saved_model._save).
        self.log_prob = tf.function(self._log_prob, autograph=autograph, input_signature=[
            tf.TensorSpec(None, tf.uint8, name="images")])
        self.sample = tf.function(self._sample, autograph=autograph, input_signature=[
            tf.TensorSpec([], tf.int32, name="num_samples"),
            tf.TensorSpec([], tf.int64, name="seed")])
        self.complete = tf.function(self._complete, autograph=autograph, input_signature=[
            tf.TensorSpec(None, tf.uint8, name="images"),
            tf.TensorSpec(None, tf.uint8, name="known_mask"),
            tf.TensorSpec([], tf.int64, name="seed")])

    def signatures(self):
        return {"serving_default": self.log_prob, "log_prob": self.log_prob,
                "sample": self.sample, "complete": self.complete}

    def _checked_images(self, images):
        """Rank and size first (one check naming both), then the model's own validation
        (values in [0, num_levels))."""
        h, w, c = self.image_shape
        ok = tf.logical_and(
            tf.equal(tf.rank(images), 4),
            tf.reduce_all(tf.equal(_padded_shape(images, 4)[1:], [h, w, c])))
        images = _require(ok, f"images must have rank 4 and shape (batch, {h}, {w}, {c}); "
                              "got shape", [tf.shape(images)], images)
        return likelihood.validate_images(images, self.image_shape, self.num_levels)

    def _log_prob(self, images):
        model = self._model()
        images = self._checked_images(images)
        pixel = likelihood.pixel_log_prob_from_logits(model(images), images)
        log_p = likelihood.image_log_prob(pixel)
        return {"log_prob": log_p,
                "bits_per_dim": likelihood.bits_per_dim(log_p, model.num_dims),
                "pixel_log_prob": pixel}

    def _sample(self, num_samples, seed):
        n = _require(num_samples >= 1, "num_samples must be >= 1, got", [num_samples],
                     num_samples)
        images = tf.zeros(tf.concat([[n], self.image_shape], 0), tf.int32)
        known = tf.zeros(tf.concat([[n], self.image_shape[:2]], 0), tf.bool)
        out = sampling.graph_complete(self._model(), images, known, seed)
        return {"images": tf.cast(out, tf.uint8)}

    def _complete(self, images, known_mask, seed):
        images = self._checked_images(images)
        ok = tf.logical_and(tf.equal(tf.rank(known_mask), 3),
                            tf.reduce_all(tf.equal(_padded_shape(known_mask, 3),
                                                   tf.shape(images)[:3])))
        known_mask = _require(ok, "known_mask must have rank 3 and shape (B, H, W) of images "
                                  "(B, H, W, C); got known_mask shape, images shape",
                              [tf.shape(known_mask), tf.shape(images)], known_mask)
        known = tf.ensure_shape(known_mask > 0, [None] + list(self.image_shape[:2]))
        out = sampling.graph_complete(self._model(), tf.cast(images, tf.int32), known, seed)
        return {"images": tf.cast(out, tf.uint8)}
