"""Image completion, as the paper's Figure 1 / Figure 9: the top `--known_rows` rows are kept
and the rest is sampled in raster order, each pixel conditioned on everything before it.

  python -m pixelrnn_tf.complete --workdir=... --split=test --num=8 --known_rows=4 --out=c.png
  python -m pixelrnn_tf.complete --workdir=... --image=photo.png --known_rows=16

Each output row: original | occluded (unknown pixels grey) | `--completions` completions.
"""

import os

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

from pixelrnn_tf.sampling import completion_grid  # noqa: E402,F401  (kept importable here)

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir.", required=True)
flags.DEFINE_string("image", None, "An image file (resized to the model's shape).")
flags.DEFINE_string("split", None, "Or: complete the first --num images of this split.")
flags.DEFINE_integer("num", 8, "Images from --split.")
flags.DEFINE_integer("known_rows", None, "Rows kept from the top (default: half).")
flags.DEFINE_integer("completions", 3, "Completions per image.")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.DEFINE_string("out", "completions.png", "Output PNG.")
flags.DEFINE_integer("label", None, "Class-conditional models with --image: the class to "
                     "condition on (with --split the images' own labels are used).")


def load_image(path, image_shape, num_levels):
    """An image file as (H, W, C) values in [0, num_levels)."""
    import numpy as np
    from PIL import Image

    h, w, c = image_shape
    try:
        img = Image.open(path)
        img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read image {path}: {e}")
    values = np.asarray(img, np.float64).reshape(h, w, c)
    return np.round(values * (num_levels - 1) / 255.0).astype(np.uint8)


def main(argv):
    del argv
    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    import numpy as np

    from pixelrnn_tf import data, sampling
    from pixelrnn_tf.training.trainer import restore_model

    if bool(FLAGS.image) == bool(FLAGS.split):
        raise app.UsageError("Give exactly one of --image and --split.")
    for name in ("num", "completions"):
        if FLAGS[name].value < 1:
            raise app.UsageError(f"--{name} must be >= 1, got {FLAGS[name].value}.")
    model, config, step = restore_model(FLAGS.workdir)
    h, w, c = model.image_shape
    labels = None
    if FLAGS.image:
        originals = load_image(FLAGS.image, model.image_shape, model.num_levels)[None]
        if model.num_classes:
            if FLAGS.label is None:
                raise app.UsageError(f"The model is class-conditional: give --label in "
                                     f"[0, {model.num_classes}).")
            labels = np.array([FLAGS.label], np.int32)
    else:
        originals = data.load_split(config.dataset, FLAGS.split, config.data_dir,
                                    config.image_size, max_examples=FLAGS.num)
        if model.num_classes:
            labels = data.load_labels(config.dataset, FLAGS.split, config.data_dir,
                                      max_examples=FLAGS.num)
    known_rows = h // 2 if FLAGS.known_rows is None else FLAGS.known_rows
    if not 0 <= known_rows <= h:
        raise app.UsageError(f"--known_rows must be in [0, {h}], got {known_rows}.")
    n, k = len(originals), FLAGS.completions
    batch = np.repeat(originals, k, axis=0)
    known = np.zeros((n * k, h, w), bool)
    known[:, :known_rows] = True
    cond = None if labels is None else np.repeat(labels, k)
    done = sampling.complete(model, batch, known, FLAGS.seed, cond).reshape((n, k, h, w, c))
    grid = completion_grid(originals, known_rows, done, model.num_levels)
    path = sampling.save_png(grid, FLAGS.out)
    print(f"{n} images x {k} completions, top {known_rows} rows known "
          f"({FLAGS.workdir}, step {step}): {os.path.abspath(path)}")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
