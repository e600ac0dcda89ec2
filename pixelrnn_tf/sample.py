"""Sample a grid of images: `python -m pixelrnn_tf.sample --workdir=... --num=16 --out=grid.png`
(or `--saved_model=DIR/<version>` for an export). Uses the cached sampler."""

import os

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir.")
flags.DEFINE_string("saved_model", None, "An exported SavedModel version folder.")
flags.DEFINE_integer("num", 16, "Number of samples.")
flags.DEFINE_integer("seed", 0, "Sampling seed: the same seed gives the same images.")
flags.DEFINE_string("out", "samples.png", "Output PNG.")
flags.DEFINE_list("labels", None, "Class-conditional models: one label per sample, or one for "
                  "all (default: 0, 1, 2, ... cyclically).")


def main(argv):
    del argv
    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    import json

    import numpy as np
    import tensorflow as tf

    from pixelrnn_tf import sampling

    if bool(FLAGS.workdir) == bool(FLAGS.saved_model):
        raise app.UsageError("Give exactly one of --workdir and --saved_model.")
    if FLAGS.num < 1:
        raise app.UsageError(f"--num must be >= 1, got {FLAGS.num}.")
    def labels_for(num_classes):
        if not num_classes:
            if FLAGS.labels:
                raise app.UsageError("--labels is only for class-conditional models.")
            return None
        if not FLAGS.labels:
            return np.arange(FLAGS.num, dtype=np.int32) % num_classes
        try:
            labels = np.array([int(v) for v in FLAGS.labels], np.int32)
        except ValueError:
            raise app.UsageError(f"--labels must be integers, got {FLAGS.labels}.") from None
        if len(labels) == 1:
            labels = np.repeat(labels, FLAGS.num)
        if len(labels) != FLAGS.num or labels.min() < 0 or labels.max() >= num_classes:
            raise app.UsageError(f"--labels must be one or --num={FLAGS.num} values in "
                                 f"[0, {num_classes}), got {FLAGS.labels}.")
        return labels

    if FLAGS.workdir:
        from pixelrnn_tf.training.trainer import restore_model

        model, _, step = restore_model(FLAGS.workdir)
        images = sampling.sample(model, FLAGS.num, FLAGS.seed, labels_for(model.num_classes))
        levels = model.num_levels
        source = f"{FLAGS.workdir} (step {step})"
    else:
        if not os.path.isdir(FLAGS.saved_model):
            raise FileNotFoundError(f"--saved_model {FLAGS.saved_model} is not a folder.")
        loaded = tf.saved_model.load(FLAGS.saved_model)
        meta_path = os.path.join(FLAGS.saved_model, "assets.extra", "model.json")
        meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
        labels = labels_for(meta.get("num_classes", 0))
        seed = tf.constant(FLAGS.seed, tf.int64)
        if labels is None:
            out = loaded.signatures["sample"](num_samples=tf.constant(FLAGS.num, tf.int32),
                                              seed=seed)
        else:
            out = loaded.signatures["sample"](labels=tf.constant(labels), seed=seed)
        images = out["images"].numpy()
        levels = meta.get("num_levels", int(images.max()) + 1)
        source = FLAGS.saved_model
    path = sampling.save_png(sampling.image_grid(np.asarray(images), levels), FLAGS.out)
    print(f"{len(images)} samples from {source} (seed {FLAGS.seed}): {os.path.abspath(path)}")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
