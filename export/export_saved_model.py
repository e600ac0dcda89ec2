"""Export a model as a TF Serving SavedModel: `DIR/<version>/`, numbered, written atomically.

  python -m export.export_saved_model --workdir=workdirs/pixel_cnn_digits --export_base=exports/digits

Signatures (pure TF graphs, named inputs and outputs):
  serving_default, log_prob: images uint8 (B,H,W,C) -> log_prob (B) nats, bits_per_dim (B),
                             pixel_log_prob (B,H,W,C)
  sample:   num_samples int32 scalar, seed int64 scalar -> images uint8 (N,H,W,C)
  complete: images uint8 (B,H,W,C), known_mask uint8 (B,H,W) (1 = keep), seed int64 -> images
Bad input fails with InvalidArgument naming the problem. `assets.extra/model.json` describes
the model (TF Serving's place for extra files).
"""

import json
import os
import re
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from pixelrnn_tf import likelihood, sampling  # noqa: E402


class Servable(tf.Module):
    """The model's signatures as tf.functions over named tensors."""

    def __init__(self, model):
        super().__init__()
        # Track only the backing tf.Variables (as keras.export.ExportArchive does). Tracking
        # the Keras model too would save every variable twice, and the TF1 loader that TF
        # Serving uses would then restore one copy while the signatures read the other.
        self.model_variables = [v.value for v in model.variables]
        self._model = lambda: model
        self.image_shape = tuple(model.image_shape)
        self.num_levels = model.num_levels
        h, w, c = self.image_shape
        # Unknown shapes in the signatures: our own checks then give the error messages.
        self.log_prob = tf.function(self._log_prob, input_signature=[
            tf.TensorSpec(None, tf.uint8, name="images")])
        self.sample = tf.function(self._sample, input_signature=[
            tf.TensorSpec([], tf.int32, name="num_samples"),
            tf.TensorSpec([], tf.int64, name="seed")])
        self.complete = tf.function(self._complete, input_signature=[
            tf.TensorSpec(None, tf.uint8, name="images"),
            tf.TensorSpec(None, tf.uint8, name="known_mask"),
            tf.TensorSpec([], tf.int64, name="seed")])

    def _log_prob(self, images):
        images = likelihood.validate_images(images, self.image_shape, self.num_levels)
        pixel = likelihood.pixel_log_prob_from_logits(self._model()(images), images)
        log_p = likelihood.image_log_prob(pixel)
        return {"log_prob": log_p,
                "bits_per_dim": likelihood.bits_per_dim(log_p, self._model().num_dims),
                "pixel_log_prob": pixel}

    def _sample(self, num_samples, seed):
        with tf.control_dependencies([tf.debugging.assert_greater_equal(
                num_samples, 1, message="num_samples must be >= 1")]):
            n = tf.identity(num_samples)
        images = tf.zeros(tf.concat([[n], self.image_shape], 0), tf.int32)
        known = tf.zeros(tf.concat([[n], self.image_shape[:2]], 0), tf.bool)
        out = sampling.graph_complete(self._model(), images, known, seed)
        return {"images": tf.cast(out, tf.uint8)}

    def _complete(self, images, known_mask, seed):
        images = likelihood.validate_images(images, self.image_shape, self.num_levels)
        with tf.control_dependencies([
                tf.debugging.assert_equal(tf.rank(known_mask), 3,
                                          message="known_mask must have rank 3 (B, H, W)")]):
            mask_shape = tf.concat([tf.shape(known_mask), [0, 0, 0]], 0)[:3]
            shape_ok = tf.debugging.assert_equal(
                mask_shape, tf.shape(images)[:3],
                message="known_mask must have shape (B, H, W) of images")
        with tf.control_dependencies([shape_ok]):
            known = tf.ensure_shape(known_mask > 0, [None] + list(self.image_shape[:2]))
        out = sampling.graph_complete(self._model(), tf.cast(images, tf.int32), known, seed)
        return {"images": tf.cast(out, tf.uint8)}


def next_version(export_base):
    versions = [int(d) for d in os.listdir(export_base) if re.fullmatch(r"\d+", d)] \
        if os.path.isdir(export_base) else []
    return max(versions, default=0) + 1


def export(model, export_base, metadata=None, version=None):
    """Write `export_base/<version>/` and return its path. The SavedModel is written into a
    hidden temporary folder (which TF Serving ignores) and renamed at the end, so a killed
    export never leaves a visible half-written version; an existing version is never
    overwritten."""
    os.makedirs(export_base, exist_ok=True)
    version = next_version(export_base) if version is None else int(version)
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"Version {final} already exists; refusing to overwrite it. "
                              "Omit --version to write the next free number.")
    tmp = os.path.join(export_base, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        servable = Servable(model)
        signatures = {"serving_default": servable.log_prob, "log_prob": servable.log_prob,
                      "sample": servable.sample, "complete": servable.complete}
        tf.saved_model.save(servable, tmp, signatures=signatures)
        meta = dict(model=getattr(model, "registry_name", type(model).__name__),
                    config=model.get_config(), num_levels=model.num_levels,
                    image_shape=list(model.image_shape), version=version)
        meta.update(metadata or {})
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, "assets.extra", "model.json"), "w") as f:
            json.dump(meta, f, indent=2, default=str)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def export_workdir(workdir, export_base, version=None):
    """Export the latest checkpoint of a training workdir, with its step and test NLL."""
    from pixelrnn_tf.training.trainer import restore_model

    model, config, step = restore_model(workdir)
    meta = {"training_step": step, "dataset": config.dataset, "workdir": os.path.abspath(workdir)}
    eval_path = os.path.join(workdir, "eval_test.json")
    if os.path.exists(eval_path):
        with open(eval_path) as f:
            ev = json.load(f)
        if ev.get("step") == step:
            meta.update(test_nll_nats=ev["nll_nats"], test_bits_per_dim=ev["bits_per_dim"])
    return export(model, export_base, meta, version)


def main(argv):
    from absl import flags

    del argv
    flags_ = flags.FLAGS
    path = export_workdir(flags_.workdir, flags_.export_base, flags_.version)
    print(f"exported {flags_.workdir} to {os.path.abspath(path)}")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("workdir", None, "Training workdir to export.", required=True)
    flags.DEFINE_string("export_base", None, "Folder of numbered versions.", required=True)
    flags.DEFINE_integer("version", None, "Version number (default: next free).")
    app.run(main)
