"""Re-export shipped zoo versions in place: today's signatures and model.json, the same weights.

  python -m export.reexport_pretrained --data_dir=/tmp/tfds \
      models/pretrained/mnist_row_lstm/1 [models/pretrained/.../N ...]

For a version whose training workdir is gone (the v1 zoo): the Keras model is rebuilt from the
version itself (`models.from_preset`, the SavedModel's own variables), exported again into a
hidden sibling folder, checked, and swapped in under the same number (TF Serving's layout is
kept). The recorded metadata (test NLL, training configuration, hardware, ...) is kept; the
export's own fields (signatures, `ordering`, versions of TF / Keras) are the new export's, and
`variables_sha256` is that of the new variable files (were they to differ from the old ones,
`reexported_from_variables_sha256` keeps the old hash). Refuses to swap unless the new `log_prob` signature gives the same per-image
log-probabilities as the old one on the first 500 test images, and the same recorded
`check_nll_nats`.
"""

import json
import os
import shutil

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

import models  # noqa: E402  (from_preset, and the registry)

# Float32 rounding of two equally built graphs; measured 0 on every shipped version.
TOLERANCE_NATS = 1e-4


def _read(version_dir):
    from export.export_saved_model import METADATA_FILE

    with open(os.path.join(version_dir, METADATA_FILE)) as f:
        return json.load(f)


def _per_image_log_prob(loaded, images, labels=None, batch_size=100):
    import numpy as np
    import tensorflow as tf

    out = []
    for start in range(0, len(images), batch_size):
        args = dict(images=tf.constant(images[start:start + batch_size], tf.uint8))
        if labels is not None:
            args["labels"] = tf.constant(labels[start:start + batch_size], tf.int32)
        out.append(loaded.signatures["log_prob"](**args)["log_prob"].numpy())
    return np.concatenate(out).astype(np.float64)


def reexport(version_dir, data_dir):
    """Re-export `version_dir` in place; returns (max |difference| of the per-image log_prob
    in nats, the new check NLL)."""
    import numpy as np
    import tensorflow as tf

    from export.export_saved_model import METADATA_FILE, export
    from export.publish_pretrained import CHECK_IMAGES, variables_sha256
    from pixelrnn_tf import data

    version_dir = os.path.abspath(version_dir)
    entry, version = os.path.split(version_dir)
    old = _read(version_dir)
    model = models.from_preset(version_dir)
    staging = os.path.join(entry, f".reexport-{os.getpid()}")  # hidden: TF Serving ignores it
    try:
        new_dir = export(model, staging, version=int(version))
        new = _read(new_dir)
        for key in ("model", "config", "num_variables", "num_parameters"):
            if new[key] != old[key]:
                raise RuntimeError(f"{version_dir}: the rebuilt model's {key} differs from the "
                                   f"shipped one ({new[key]!r} != {old[key]!r}).")
        images = data.load_split(old["dataset"], "test", data_dir, max_examples=CHECK_IMAGES)
        labels = (data.load_labels(old["dataset"], "test", data_dir, max_examples=CHECK_IMAGES)
                  if old.get("num_classes") else None)
        before = _per_image_log_prob(tf.saved_model.load(version_dir), images, labels)
        after = _per_image_log_prob(tf.saved_model.load(new_dir), images, labels)
        diff = float(np.max(np.abs(after - before)))
        check = -float(np.mean(after))
        if diff > TOLERANCE_NATS or abs(check - old["check_nll_nats"]) > TOLERANCE_NATS:
            raise RuntimeError(f"{version_dir}: the re-export changes log_prob (max difference "
                               f"{diff} nats; check NLL {check} vs {old['check_nll_nats']}).")
        merged = dict(old)
        merged.update(new)
        merged["variables_sha256"] = variables_sha256(new_dir)
        if merged["variables_sha256"] != old["variables_sha256"]:
            merged["reexported_from_variables_sha256"] = old["variables_sha256"]
        with open(os.path.join(new_dir, METADATA_FILE), "w") as f:
            json.dump(merged, f, indent=2, default=str)
        retired = os.path.join(entry, f".retired-{version}-{os.getpid()}")
        os.rename(version_dir, retired)
        os.rename(new_dir, version_dir)
        shutil.rmtree(retired)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return diff, check


def main(argv):
    from absl import flags

    if len(argv) < 2:
        raise SystemExit("error: pass the version folders to re-export, e.g. "
                         "models/pretrained/mnist_row_lstm/1")
    for version_dir in argv[1:]:
        diff, check = reexport(version_dir, flags.FLAGS.data_dir)
        print(f"re-exported {version_dir}: per-image log_prob max difference {diff:.3g} nats, "
              f"check NLL {check:.6f} nats")


if __name__ == "__main__":
    from absl import flags

    flags.DEFINE_string("data_dir", None, "TFDS data dir with the zoo's test sets.",
                        required=True)
    from pixelrnn_tf import cli

    cli.run(main)
