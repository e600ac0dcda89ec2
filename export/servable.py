"""The exported signatures: a tf.Module of tf.functions over named tensors (pure TF graphs).

  serving_default, log_prob: images uint8 (B,H,W,C) -> log_prob (B) nats, bits_per_dim (B),
                             pixel_log_prob (B,H,W,C)
  sample:   num_samples int32 scalar, seed int64 scalar -> images uint8 (N,H,W,C)
  complete: images uint8 (B,H,W,C), known_mask uint8 (B,H,W) (1 = keep), seed int64 -> images

A class-conditional model's signatures also take `labels` int32 (B,) in [0, num_classes)
(`sample`: one label per sample, N = len(labels), instead of num_samples); a model conditioned
on vectors takes `conditioning` float32 (B, D) the same way.

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


def signature_docs(model):
    """SIGNATURES as exported for `model` (conditional models take labels/conditioning)."""
    import copy

    docs = copy.deepcopy(SIGNATURES)
    if model.num_classes:
        name, doc = "labels", f"int32 (B,) in [0, {model.num_classes})"
    elif model.conditioning_dim:
        name, doc = "conditioning", f"float32 (B, {model.conditioning_dim})"
    else:
        return docs
    for key, sig in docs.items():
        sig["inputs"][name] = doc
    del docs["sample"]["inputs"]["num_samples"]
    docs["sample"]["inputs"][name] += ", one row per sample"
    return docs


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


def _unknown_height_and_width(images):
    """images with H and W unknown to the graph (same values): the recurrent layers then
    trace their loops rather than the rows / diagonals unrolled for training, which made the
    exported Diagonal BiLSTM's graph 3x larger and its first call 8 s instead of 1 s (README
    "Export and serving")."""
    return tf.raw_ops.PlaceholderWithDefault(
        input=images, shape=[images.shape[0], None, None, images.shape[-1]])


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
        # Declared shapes, so that a client learns H, W, C from the SignatureDef itself
        # (saved_model_cli show, TF Serving's GetModelMetadata); a wrong rank or H, W, C is
        # then refused by TensorFlow before the graph runs. Our own checks stay for what a
        # signature cannot say: the value range, a known_mask of the images' batch.
        # export() traces with autograph=False first (see export_saved_model._save).
        h, w, c = self.image_shape
        images = tf.TensorSpec([None, h, w, c], tf.uint8, name="images")
        seed = tf.TensorSpec([], tf.int64, name="seed")
        known = tf.TensorSpec([None, h, w], tf.uint8, name="known_mask")
        if not model.is_conditional:
            self.log_prob = tf.function(self._log_prob, autograph=autograph,
                                        input_signature=[images])
            self.sample = tf.function(self._sample, autograph=autograph, input_signature=[
                tf.TensorSpec([], tf.int32, name="num_samples"), seed])
            self.complete = tf.function(self._complete, autograph=autograph,
                                        input_signature=[images, known, seed])
            return
        cond = (tf.TensorSpec(None, tf.int32, name="labels") if model.num_classes
                else tf.TensorSpec(None, tf.float32, name="conditioning"))
        self.log_prob = tf.function(self._log_prob, autograph=autograph,
                                    input_signature=[images, cond])
        self.sample = tf.function(self._conditional_sample, autograph=autograph,
                                  input_signature=[cond, seed])
        self.complete = tf.function(self._complete, autograph=autograph,
                                    input_signature=[images, known, seed, cond])

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

    def _checked_conditioning(self, conditioning, batch):
        """Rank and batch size (InvalidArgument), then the model's checks (label range)."""
        model = self._model()
        rank = 1 if model.num_classes else 2
        what = "labels" if model.num_classes else "conditioning"
        ok = tf.logical_and(tf.equal(tf.rank(conditioning), rank),
                            tf.equal(_padded_shape(conditioning, 1)[0], batch))
        if not model.num_classes:
            ok = tf.logical_and(ok, tf.equal(_padded_shape(conditioning, 2)[1],
                                             model.conditioning_dim))
        conditioning = _require(ok, f"{what} must have rank {rank} and one row per image; got "
                                    f"{what} shape, batch", [tf.shape(conditioning), batch],
                                conditioning)
        return model.check_conditioning(conditioning)

    def _log_prob(self, images, *conditioning):
        model = self._model()
        images = self._checked_images(images)
        cond = [self._checked_conditioning(c, tf.shape(images)[0]) for c in conditioning]
        pixel = model.pixel_log_prob_unchecked(_unknown_height_and_width(images), *cond)
        pixel = tf.ensure_shape(pixel, images.shape)
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

    def _conditional_sample(self, conditioning, seed):
        n = _require(tf.size(conditioning) >= 1, "sample needs at least one label/row, got "
                     "shape", [tf.shape(conditioning)], tf.shape(conditioning)[0])
        conditioning = self._checked_conditioning(conditioning, n)
        images = tf.zeros(tf.concat([[n], self.image_shape], 0), tf.int32)
        known = tf.zeros(tf.concat([[n], self.image_shape[:2]], 0), tf.bool)
        out = sampling.graph_complete(self._model(), images, known, seed, conditioning)
        return {"images": tf.cast(out, tf.uint8)}

    def _complete(self, images, known_mask, seed, *conditioning):
        images = self._checked_images(images)
        ok = tf.logical_and(tf.equal(tf.rank(known_mask), 3),
                            tf.reduce_all(tf.equal(_padded_shape(known_mask, 3),
                                                   tf.shape(images)[:3])))
        known_mask = _require(ok, "known_mask must have rank 3 and shape (B, H, W) of images "
                                  "(B, H, W, C); got known_mask shape, images shape",
                              [tf.shape(known_mask), tf.shape(images)], known_mask)
        known = tf.ensure_shape(known_mask > 0, [None] + list(self.image_shape[:2]))
        cond = [self._checked_conditioning(c, tf.shape(images)[0]) for c in conditioning]
        out = sampling.graph_complete(self._model(), tf.cast(images, tf.int32), known, seed,
                                      *cond)
        return {"images": tf.cast(out, tf.uint8)}
