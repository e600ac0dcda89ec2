"""Benchmarks that print figures (not timed tests).

  python -m pixelrnn_tf.bench sample   # naive vs cached sampling, batch 16, every network
  python -m pixelrnn_tf.bench train    # training images/s and GFLOP/s vs a measured peak
  python -m pixelrnn_tf.bench compress --data_dir=/tmp/tfds   # the codec on every pretrained
                                       # model's test set: bits/dim, images/s, other formats

Every ratio printed is between numbers measured in the same run.
"""

import time

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch", 16, "Batch size.")
flags.DEFINE_integer("naive_steps", 6, "Sub-pixels the naive sampler is timed on (each is one "
                     "full network pass, the same cost for every sub-pixel); its whole-image "
                     "time is that per-step time x H*W*C.")
flags.DEFINE_list("only", [], "Restrict to these rows (e.g. cifar10_pixel_cnn).")
flags.DEFINE_bool("xla", True, "Also time the cached sampler under jit_compile.")
flags.DEFINE_integer("steps", 3, "Timed training steps per row (after 1 warm-up step).")
flags.DEFINE_string("data_dir", None, "compress: the TFDS data dir of the test sets.")
flags.DEFINE_integer("max_images", None, "compress: the first N test images (default: all).")
flags.DEFINE_integer("compress_batch", None, "compress: images per chunk (default: the codec's).")
flags.DEFINE_bool("decode", True, "compress: also decode (timed) and check the round trip.")
flags.DEFINE_bool("rnn_jit", True, "train: also time the recurrent networks under jit_compile "
                  "(XLA compiles their training step for minutes on 2 CPU cores).")

# (row name, model name, constructor config). CIFAR rows are the paper's sizes; the
# Multi-Scale row is reduced (the paper's 64x64 multi-scale network has 123M parameters).
SAMPLE_ROWS = {
    "cifar10_pixel_cnn": "paper:cifar10_pixel_cnn",
    "cifar10_row_lstm": "paper:cifar10_row_lstm",
    "cifar10_diagonal_bilstm": "paper:cifar10_diagonal_bilstm",
    "cifar10_multiscale (reduced)": ("multiscale_pixelrnn", dict(
        image_shape=(32, 32, 3), num_levels=256, block="row_lstm", small_layers=4,
        small_units=64, small_output_units=256, num_layers=4, units=64, output_units=256,
        conditioning_features=32)),
    "mnist_pixel_cnn": "paper:mnist_pixel_cnn",
    "mnist_row_lstm": "paper:mnist_row_lstm",
    "mnist_diagonal_bilstm": "paper:mnist_diagonal_bilstm",
    "mnist_multiscale": ("multiscale_pixelrnn", dict(
        image_shape=(28, 28, 1), num_levels=2, block="diagonal_bilstm", small_layers=7,
        small_units=16, small_output_units=32, num_layers=7, units=16, output_units=32,
        conditioning_features=16)),
}


# The follow-up models at their CIFAR-10 configurations (those that are registered).
FOLLOW_UP_SAMPLE_ROWS = ("cifar10_gated_pixel_cnn", "cifar10_pixel_cnn_pp", "cifar10_pixel_snail")


def _build(spec):
    import models
    from models import configs

    if isinstance(spec, str):
        return configs.build(spec.split(":", 1)[1])
    return models.build(spec[0], **spec[1])


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    _ = out.numpy() if hasattr(out, "numpy") else out
    return time.perf_counter() - start


def bench_sample():
    import numpy as np
    import tensorflow as tf

    from pixelrnn_tf import sampling
    from pixelrnn_tf.bench_train import machine

    b = FLAGS.batch
    print(f"# sampling, batch {b}; {machine()}")
    print("| network | params | naive s/image-batch (from N steps) | cached s | cached XLA s "
          "| cached/naive speed-up | XLA speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    from models import configs

    rows = dict(SAMPLE_ROWS)
    rows.update({name: f"paper:{name}" for name in FOLLOW_UP_SAMPLE_ROWS
                 if name in configs.names()})
    for row, spec in rows.items():
        if FLAGS.only and row not in FLAGS.only:
            continue
        model = _build(spec)
        h, w, c = model.image_shape
        x = tf.zeros((b, h, w, c), tf.int32)
        known = tf.zeros((b, h, w), tf.bool)
        seed = tf.constant(0, tf.int64)
        steps = FLAGS.naive_steps
        cond = ([tf.constant(np.arange(b) % model.num_classes, tf.int32)]
                if model.num_classes else [])
        naive = tf.function(lambda a, k, s: sampling.naive_complete(
            model, a, k, s, steps, *cond))
        naive.get_concrete_function(x, known, seed)
        _timed(naive, x, known, seed)  # warm-up
        naive_total = _timed(naive, x, known, seed) / steps * h * w * c
        if model.sampling_stages()[0].full_pass_per_pixel:
            # One full pass per pixel, the same cost for every pixel: timed on a prefix of
            # naive_steps pixels like the naive sampler (the whole image would take hours).
            per_pixel = tf.function(lambda a, k, s: model.cached_complete(
                a, k, s, *(cond or [None]), num_pixels=steps))
            _timed(per_pixel, x, known, seed)  # warm-up
            pixel_total = _timed(per_pixel, x, known, seed) / steps * h * w
            print(f"| {row} {h}x{w}x{c} | {model.count_params():,} | {naive_total:.1f} "
                  f"({steps}) | {pixel_total:.1f} (one pass per pixel, from {steps}) | - "
                  f"| {naive_total / pixel_total:.1f}x | - |", flush=True)
            continue
        cached = tf.function(lambda a, k, s: sampling.graph_complete(model, a, k, s, *cond))
        cached.get_concrete_function(x, known, seed)
        cached_s = _timed(cached, x, known, seed)
        xla_s = float("nan")
        if FLAGS.xla:
            cached_xla = tf.function(
                lambda a, k, s: sampling.graph_complete(model, a, k, s, *cond),
                jit_compile=True)
            _timed(cached_xla, x, known, seed)  # compile
            xla_s = _timed(cached_xla, x, known, seed)
        xla = (f"{xla_s:.2f} | {naive_total / cached_s:.0f}x | {naive_total / xla_s:.0f}x"
               if FLAGS.xla else f"not run | {naive_total / cached_s:.0f}x | -")
        print(f"| {row} {h}x{w}x{c} | {model.count_params():,} | {naive_total:.1f} ({steps}) "
              f"| {cached_s:.2f} | {xla} |", flush=True)


def main(argv):
    if len(argv) != 2 or argv[1] not in ("sample", "train", "compress"):
        raise app.UsageError("usage: python -m pixelrnn_tf.bench (sample|train|compress) "
                             "[flags]")
    if argv[1] == "sample":
        bench_sample()
    elif argv[1] == "compress":
        import os

        import models
        from pixelrnn_tf import bench_compress

        bench_compress.run(os.path.join(os.path.dirname(models.__file__), "pretrained"),
                           FLAGS.data_dir, FLAGS.max_images, FLAGS.compress_batch, FLAGS.only,
                           FLAGS.decode)
    else:
        from pixelrnn_tf import bench_train

        bench_train.run(FLAGS.batch, FLAGS.steps, FLAGS.only, FLAGS.rnn_jit)


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
