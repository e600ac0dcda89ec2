"""Train a model: `python -m pixelrnn_tf.train` (no flags: offline 8x8 digits, ~a minute).

Examples:
  python -m pixelrnn_tf.train                                  # offline default
  python -m pixelrnn_tf.train --model=row_lstm --dataset=binarized_mnist --data_dir=/tmp/tfds
  python -m pixelrnn_tf.train --model=cifar10_pixel_cnn --data_dir=/tmp/tfds   # a paper config
"""


# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
# Model
flags.DEFINE_string("model", "pixel_cnn", "Registry name (pixel_cnn, row_lstm, diagonal_bilstm, "
                    "multiscale_pixelrnn) or a paper config (e.g. cifar10_row_lstm).")
flags.DEFINE_integer("num_layers", None, "Override: residual blocks.")
flags.DEFINE_integer("units", None, "Override: h (blocks carry 2h features).")
flags.DEFINE_integer("output_units", None, "Override: features of the output layers.")
flags.DEFINE_integer("num_classes", None, "Class-conditional models (gated_pixel_cnn): the "
                     "number of classes of the data set's labels (0: unconditional).")
flags.DEFINE_float("dropout_rate", None, "Override: dropout of the models that have it "
                   "(gated_pixel_cnn, pixel_cnn_pp, pixel_snail), in training only.")
# Data
flags.DEFINE_string("dataset", None, "digits (default, offline), binarized_mnist, mnist, cifar10, "
                    "imagenet_resized/32x32, imagenet_resized/64x64, folder:PATH, npz:PATH.")
flags.DEFINE_string("data_dir", None, "TFDS data dir.")
flags.DEFINE_integer("image_size", None, "Size for folder: datasets.")
# Run
flags.DEFINE_string("workdir", None, "Checkpoints, config, TensorBoard logs, samples. Default: "
                    "workdirs/<model>_<dataset>.")
flags.DEFINE_integer("batch_size", None, "Global batch size (default 32).")
flags.DEFINE_integer("steps", None, "Training steps (default 1500).")
flags.DEFINE_float("epochs", None, "Train for this many epochs instead of --steps.")
flags.DEFINE_float("learning_rate", None, "Learning rate (default 1e-3).")
flags.DEFINE_enum("optimizer", None, ["rmsprop", "adam", "sgd"], "Default rmsprop (the paper's).")
flags.DEFINE_enum("lr_schedule", None, ["constant", "cosine"],
                  "Learning-rate schedule (default constant; cosine decays to 0 at the last step).")
flags.DEFINE_integer("warmup_steps", None, "Linear learning-rate warm-up steps (default 0).")
flags.DEFINE_float("ema_decay", None, "Evaluate/sample/export with an exponential moving average "
                   "of the weights with this decay (default 0: off).")
flags.DEFINE_enum("strategy", None, ["auto", "mirrored", "multi_worker", "one_device"],
                  "tf.distribute strategy (default auto).")
flags.DEFINE_integer("seed", None, "Seed of the initialization and the data order (default 0).")
flags.DEFINE_integer("eval_every", None, "Evaluate every N steps (0: only at the end).")
flags.DEFINE_integer("checkpoint_every", None, "Checkpoint every N steps (default 200).")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the training step.")
flags.DEFINE_enum("mixed_precision", None, ["none", "mixed_float16", "mixed_bfloat16"],
                  "Keras dtype policy (default none: float32). Variables, logits and the "
                  "likelihood stay float32; mixed_float16 scales the loss.")
flags.DEFINE_integer("log_every", None, "Progress/TensorBoard every N steps (default 20).")
flags.DEFINE_integer("num_samples", None, "Samples in the final PNG grid (default 16).")
flags.DEFINE_integer("max_eval_examples", None, "Evaluate on the first N test images only.")
flags.DEFINE_string("eval_split", None, "Split of the --eval_every evaluations and of "
                    "eval_log.jsonl (default: the test split; e.g. validation).")
flags.DEFINE_integer("keep_checkpoints", None, "Checkpoints to keep (default 3).")
flags.DEFINE_string("init_from", None, "A NEW run starts from the latest weights (and weight "
                    "average) of this training workdir of the same model, with a fresh "
                    "optimizer and step 0 (e.g. a decay phase after a constant-rate run).")
flags.DEFINE_float("max_seconds", None, "Wall-time budget of this call: checkpoint and stop "
                   "when it is spent (re-run to resume); no final evaluation then.")
flags.DEFINE_bool("resume_from_intact", False, "If the latest checkpoint is damaged, move it "
                  "to WORKDIR/checkpoints_damaged/ and resume from the newest intact one "
                  "(without this flag a damaged checkpoint stops the run, naming its files).")


def main(argv):
    del argv
    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    from pixelrnn_tf.training import config as config_lib, trainer

    run_flags = ("data_dir", "image_size", "workdir", "batch_size", "steps", "epochs",
                 "learning_rate", "optimizer", "lr_schedule", "warmup_steps", "ema_decay",
                 "strategy", "seed", "eval_every",
                 "checkpoint_every", "jit_compile", "mixed_precision", "log_every", "num_samples",
                 "max_eval_examples", "eval_split", "keep_checkpoints", "init_from")
    config = config_lib.resolve(
        FLAGS.model, FLAGS.dataset,
        overrides=dict(num_layers=FLAGS.num_layers, units=FLAGS.units,
                       output_units=FLAGS.output_units, num_classes=FLAGS.num_classes,
                       dropout_rate=FLAGS.dropout_rate),
        **{name: FLAGS[name].value for name in run_flags})
    workdir = config.workdir or config_lib.default_workdir(config)
    config.workdir = workdir
    trainer.run(config, workdir, max_seconds=FLAGS.max_seconds,
                resume_from_intact=FLAGS.resume_from_intact)


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
