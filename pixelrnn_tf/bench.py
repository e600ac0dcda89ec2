"""Benchmarks that print figures (not timed tests).

  python -m pixelrnn_tf.bench sample   # naive vs cached sampling, batch 16, every network,
                                       # against the FLOP limit (--batch, --set=registry)
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
flags.DEFINE_bool("naive", True, "sample: also time the naive sampler (off for large batches: "
                  "a full pass of 256 CIFAR images per sub-pixel).")
flags.DEFINE_integer("prefix_rows", 0, "sample: time the cached sampler on this many first rows "
                     "and scale by H / rows (0: whole images; for large batches).")
flags.DEFINE_enum("set", "paper", ["paper", "registry"], "sample: the paper-size rows, or every "
                  "registered model at its small registry-name size.")
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


def _registry_rows():
    """Every registered model at its small registry-name size (what `--model=NAME` trains),
    on binarized-MNIST-like and CIFAR-like images."""
    import models

    rows = {}
    for name in models.names():
        for shape, levels in (((28, 28, 1), 2), ((32, 32, 3), 256)):
            config = dict(getattr(models.get(name), "SMALL_CONFIG", {}))
            # The shape is printed with the row (as for every row), the levels here.
            rows[f"{name} (small, {levels} levels)"] = (name, dict(config, image_shape=shape,
                                                                  num_levels=levels))
    return rows


def _sample_rows():
    from models import configs

    if FLAGS.set == "registry":
        return _registry_rows()
    rows = dict(SAMPLE_ROWS)
    rows.update({name: f"paper:{name}" for name in FOLLOW_UP_SAMPLE_ROWS
                 if name in configs.names()})
    return rows


def bench_sample():
    import numpy as np
    import tensorflow as tf

    from pixelrnn_tf import flops, sampling
    from pixelrnn_tf.bench_train import machine, measure_peak

    b = FLAGS.batch
    matmul, conv = measure_peak()
    peak = max(matmul, conv)
    print(f"# sampling, batch {b}; {machine()}")
    print(f"# peak measured in this run: 2048^2 fp32 matmul {matmul:.0f} GFLOP/s, 3x3 conv "
          f"{conv:.0f} GFLOP/s; peak = {peak:.0f}. FLOP limit = one forward pass per image "
          "at the peak.")
    print("| network | params | GFLOP/image | naive s (from N steps) | cached s | cached XLA s "
          "| FLOP limit s | cached/naive | XLA/naive | best / limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row, spec in _sample_rows().items():
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
        gflop = flops.forward_flops(model) / 1e9
        limit = b * gflop / peak
        naive_total = float("nan")
        if FLAGS.naive:
            naive = tf.function(lambda a, k, s: sampling.naive_complete(
                model, a, k, s, steps, *cond))
            naive.get_concrete_function(x, known, seed)
            _timed(naive, x, known, seed)  # warm-up
            naive_total = _timed(naive, x, known, seed) / steps * h * w * c
        naive_cell = f"{naive_total:.1f} ({steps})" if FLAGS.naive else "not run"
        head = f"| {row} {h}x{w}x{c} | {model.count_params():,} | {gflop:.2f} | {naive_cell}"
        if model.sampling_stages()[0].full_pass_per_pixel:
            # One full pass per pixel, the same cost for every pixel: timed on a prefix of
            # naive_steps pixels like the naive sampler (the whole image would take hours).
            per_pixel = tf.function(lambda a, k, s: model.cached_complete(
                a, k, s, *(cond or [None]), num_pixels=steps))
            _timed(per_pixel, x, known, seed)  # warm-up
            pixel_total = _timed(per_pixel, x, known, seed) / steps * h * w
            ratio = f"{naive_total / pixel_total:.1f}x" if FLAGS.naive else "-"
            print(f"{head} | {pixel_total:.1f} (one pass per pixel, from {steps}) | - "
                  f"| {limit:.2f} | {ratio} | - "
                  f"| {pixel_total / limit:.0f}x |", flush=True)
            continue
        # A prefix of whole rows costs its share of the image (every row's steps are alike,
        # PixelCNN++'s stages repeat every 4 rows, the attention reads all T slots masked);
        # not for the Multi-Scale model, whose first stage is the small image.
        rows = FLAGS.prefix_rows if FLAGS.prefix_rows and len(model.sampling_stages()) == 1 \
            else h
        pixels = None if rows >= h else rows * w
        if pixels:
            head = head.replace(f"| {row} ", f"| {row} (first {rows} rows x {h / rows:g}) ", 1)

        def run_cached(a, k, s):
            return model.cached_complete(a, k, s, *(cond or [None]), num_pixels=pixels)

        cached = tf.function(run_cached)
        cached.get_concrete_function(x, known, seed)
        _timed(cached, x, known, seed)  # warm-up (the first run allocates the caches)
        cached_s = _timed(cached, x, known, seed) * h / rows
        xla_s = float("nan")
        if FLAGS.xla:
            cached_xla = tf.function(run_cached, jit_compile=True)
            _timed(cached_xla, x, known, seed)  # compile
            xla_s = _timed(cached_xla, x, known, seed) * h / rows
        best = min(cached_s, xla_s) if FLAGS.xla else cached_s

        def speed_up(t):
            return f"{naive_total / t:.0f}x" if FLAGS.naive and t == t else "-"

        xla_cell = f"{xla_s:.2f}" if FLAGS.xla else "not run"
        print(f"{head} | {cached_s:.2f} | {xla_cell} | {limit:.2f} | {speed_up(cached_s)} "
              f"| {speed_up(xla_s)} | {best / limit:.1f}x |", flush=True)


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
