"""Compress images losslessly with a model of the zoo:

  python -m pixelrnn_tf.compress --model=mnist_pixel_cnn --input=images.npz --output=images.pxr

`--model`: a pretrained zoo name (`mnist_pixel_cnn`, or `mnist_pixel_cnn/1` for a version),
a SavedModel version folder, or a training workdir. `--input`: an .npz with `images`
(N, H, W[, C]) uint8 in [0, num_levels) (and `labels` for a class-conditional model), or a
folder of PNGs (see `codec_io` for how PNG values map to levels). Prints the images, bytes,
bits/dim of the file, the model's NLL in bits/dim on the same images and the overhead.
"""

import os
import sys

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Zoo name, SavedModel version folder or training workdir.")
flags.DEFINE_string("input", None, "An .npz of `images` (and `labels`), or a folder of PNGs.")
flags.DEFINE_string("output", None, "The compressed file to write.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output.")
flags.DEFINE_integer("batch_size", None, "Images per chunk (decoding runs the same chunks; "
                     "default: the codec's).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    for name in ("model", "input", "output"):
        if not FLAGS[name].value:
            raise app.UsageError(f"--{name} is required.")
    from pixelrnn_tf import codec_io

    codec_io.check_output(FLAGS.output, FLAGS.overwrite)
    if FLAGS.batch_size is not None and FLAGS.batch_size < 1:
        raise app.UsageError(f"--batch_size must be >= 1, got {FLAGS.batch_size}.")
    if not os.path.exists(FLAGS.input):
        raise FileNotFoundError(f"--input {FLAGS.input} does not exist.")

    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)
    import numpy as np

    from pixelrnn_tf import compression
    from pixelrnn_tf.training import restore

    zoo_dir = os.path.join(os.path.dirname(models.__file__), "pretrained")
    model, where = restore.load_model(FLAGS.model, zoo_dir)
    names = labels = None
    if codec_io.is_npz(FLAGS.input):
        images, labels = codec_io.read_npz(FLAGS.input)
        if labels is not None and not model.is_conditional:
            print(f"note: the model is unconditional; the `labels` of {FLAGS.input} are not "
                  "stored.", file=sys.stderr)
            labels = None
    else:
        images, names = codec_io.read_pngs(FLAGS.input, model.num_levels, model.image_shape[-1])
        if model.is_conditional:
            raise ValueError("This model is conditional: give the images and their `labels` "
                             "in an .npz.")
    source = {"zoo": where["zoo"]} if where.get("zoo") else {"path": where["path"]}
    data = compression.encode(
        model, images, labels, FLAGS.batch_size or compression.DEFAULT_BATCH_SIZE, source,
        names, compression.ProgressLine("encoding", sys.stderr))
    codec_io.write_atomic(FLAGS.output, data)

    images = compression.check_images(model, images)
    dims = images.size
    nll = 0.0
    for s in range(0, len(images), 500):
        cond = [] if labels is None else [labels[s:s + 500]]
        nll -= float(np.sum(model.log_prob(images[s:s + 500], *cond).numpy().astype(np.float64)))
    nll_bpd = nll / (dims * np.log(2))
    header, payload = compression.read_header(data)
    bpd = 8 * len(data) / dims
    print(f"{codec_io.count(len(images), 'image')} -> {os.path.abspath(FLAGS.output)}: "
          f"{len(data)} bytes ({len(data) - len(payload)} header), {bpd:.4f} bits/dim; model NLL "
          f"{nll_bpd:.4f} bits/dim; overhead {100 * (bpd / nll_bpd - 1):+.2f}% "
          f"(without the header {100 * (8 * len(payload) / dims / nll_bpd - 1):+.2f}%)")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
