"""Exact test NLL of a training workdir: `python -m pixelrnn_tf.evaluate --workdir=... --split=test`.

Prints nats per image and bits/dim over the whole split and writes them to
<workdir>/eval_<split>.json, with the dtype policy they were computed under (the run's, or
--mixed_precision: `none` evaluates a mixed-precision run in float32, as its exports compute).
"""

import os

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir.", required=True)
flags.DEFINE_string("split", "test", "Split to evaluate.")
flags.DEFINE_integer("batch_size", 64, "Evaluation batch size.")
flags.DEFINE_integer("max_examples", None, "Evaluate the first N images only (default: all).")
flags.DEFINE_enum("mixed_precision", None, ["none", "mixed_float16", "mixed_bfloat16"],
                  "Evaluate under this policy instead of the run's (none: float32, the precision "
                  "of every export, so the NLL a published model reports).")


def main(argv):
    del argv
    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    import json

    import tensorflow as tf

    from pixelrnn_tf import data
    from pixelrnn_tf.training import trainer, workdir as workdir_lib
    from pixelrnn_tf.training.restore import restore_model

    if FLAGS.batch_size < 1:
        raise app.UsageError(f"--batch_size must be >= 1, got {FLAGS.batch_size}.")
    if FLAGS.max_examples is not None and FLAGS.max_examples < 1:
        raise app.UsageError(f"--max_examples must be >= 1 (omit it for all), got "
                             f"{FLAGS.max_examples}.")
    config = workdir_lib.load_config(FLAGS.workdir)
    images = data.load_split(config.dataset, FLAGS.split, config.data_dir, config.image_size,
                             max_examples=FLAGS.max_examples)
    if not workdir_lib.has_checkpoint(FLAGS.workdir):
        raise FileNotFoundError(f"--workdir {FLAGS.workdir} has no checkpoint to evaluate.")
    # The weights to evaluate (the moving average when the run keeps one), no optimizer.
    model, config, step = restore_model(FLAGS.workdir, FLAGS.mixed_precision)
    labels = None
    if model.num_classes:
        labels = data.load_labels(config.dataset, FLAGS.split, config.data_dir,
                                  max_examples=FLAGS.max_examples)
    metrics = trainer.evaluate(model, images, FLAGS.batch_size, labels=labels)
    metrics.update(step=step, split=FLAGS.split, mixed_precision=config.mixed_precision,
                   checkpoint=tf.train.latest_checkpoint(
                       os.path.join(FLAGS.workdir, "checkpoints")))
    path = os.path.join(FLAGS.workdir, f"eval_{FLAGS.split}.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2)
    print(f"{FLAGS.split}: {metrics['num_images']} images, {metrics['nll_nats']:.4f} nats/image, "
          f"{metrics['bits_per_dim']:.4f} bits/dim (step {metrics['step']}"
          + ("" if config.mixed_precision == "none" else f", {config.mixed_precision}")
          + f"); wrote {path}")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
