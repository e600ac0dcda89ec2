"""Exact test NLL of a training workdir: `python -m pixelrnn_tf.evaluate --workdir=... --split=test`.

Prints nats per image and bits/dim over the whole split and writes them to
<workdir>/eval_<split>.json.
"""

import os

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir.", required=True)
flags.DEFINE_string("split", "test", "Split to evaluate.")
flags.DEFINE_integer("batch_size", 64, "Evaluation batch size.")
flags.DEFINE_integer("max_examples", None, "Evaluate the first N images only (default: all).")


def main(argv):
    del argv
    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    import json

    from pixelrnn_tf import data
    from pixelrnn_tf.training import trainer, workdir as workdir_lib

    if FLAGS.batch_size < 1:
        raise app.UsageError(f"--batch_size must be >= 1, got {FLAGS.batch_size}.")
    if FLAGS.max_examples is not None and FLAGS.max_examples < 1:
        raise app.UsageError(f"--max_examples must be >= 1 (omit it for all), got "
                             f"{FLAGS.max_examples}.")
    config = workdir_lib.load_config(FLAGS.workdir)
    config.strategy = "one_device"
    images = data.load_split(config.dataset, FLAGS.split, config.data_dir, config.image_size,
                             max_examples=FLAGS.max_examples)
    t = trainer.Trainer(config, FLAGS.workdir)
    restored = t.restore(inference=True)
    if not restored:
        raise FileNotFoundError(f"--workdir {FLAGS.workdir} has no checkpoint to evaluate.")
    labels = None
    if t.model.num_classes:
        labels = data.load_labels(config.dataset, FLAGS.split, config.data_dir,
                                  max_examples=FLAGS.max_examples)
    metrics = trainer.evaluate(t.model, images, FLAGS.batch_size, labels=labels)
    metrics.update(step=int(t.step.numpy()), split=FLAGS.split, checkpoint=restored)
    path = os.path.join(FLAGS.workdir, f"eval_{FLAGS.split}.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2)
    print(f"{FLAGS.split}: {metrics['num_images']} images, {metrics['nll_nats']:.4f} nats/image, "
          f"{metrics['bits_per_dim']:.4f} bits/dim (step {metrics['step']}); wrote {path}")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
