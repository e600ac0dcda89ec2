"""Decompress a file of `python -m pixelrnn_tf.compress`:

  python -m pixelrnn_tf.decompress --input=images.pxr --output=images.npz   (or a PNG folder)

The file names the model it needs (a zoo version or a path); `--model` points at a moved
copy. Every check of the file (signature, version, truncation, checksums, the model's
identity and its probabilities on a probe input) runs before any pixel is written; the
decoded pixels are checked against the file's checksum before the output is written.
An `.npz` output holds `images` (and `labels` of a conditional model); any other output is a
folder of PNGs, named as the compressed ones were.
"""

import os
import sys

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "A compressed file.")
flags.DEFINE_string("output", None, "An .npz file, or a folder for PNGs.")
flags.DEFINE_string("model", None, "The model, if not where the file says (zoo name, "
                    "SavedModel version folder or training workdir).")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    for name in ("input", "output"):
        if not FLAGS[name].value:
            raise app.UsageError(f"--{name} is required.")
    from pixelrnn_tf import codec_io

    codec_io.check_output(FLAGS.output, FLAGS.overwrite)
    if not os.path.isfile(FLAGS.input):
        raise FileNotFoundError(f"--input {FLAGS.input} does not exist.")
    with open(FLAGS.input, "rb") as f:
        data = f.read()

    import models  # noqa: F401  (an entry module fills the library's registry with the zoo)

    from pixelrnn_tf import compression
    from pixelrnn_tf.training import restore

    header, _ = compression.read_header(data)
    spec = FLAGS.model
    if not spec:
        source = header["model"].get("source") or {}
        spec = source.get("zoo") or source.get("path")
        if not spec:
            raise ValueError("The file does not say where its model is; pass --model.")
    zoo_dir = os.path.join(os.path.dirname(models.__file__), "pretrained")
    model, _ = restore.load_model(spec, zoo_dir)
    decoded = compression.decode(data, model, compression.ProgressLine("decoding", sys.stderr))
    if codec_io.is_npz(FLAGS.output):
        codec_io.write_npz(FLAGS.output, decoded.images, decoded.conditioning)
        what = FLAGS.output
    else:
        codec_io.write_pngs(FLAGS.output, decoded.images, model.num_levels, decoded.names)
        what = f"{FLAGS.output}{os.sep} ({codec_io.count(len(decoded.images), 'PNG')})"
    print(f"{codec_io.count(len(decoded.images), 'image')}, exact (pixel checksum verified) -> "
          f"{os.path.abspath(what)}")


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
