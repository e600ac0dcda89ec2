"""Publish a trained workdir into the zoo: `models/pretrained/<name>/<version>/` plus grids.

  python -m export.publish_pretrained --workdir=workdirs/mnist_pixel_cnn \
      --name=mnist_pixel_cnn --data_dir=/tmp/tfds

Exports the latest checkpoint (TF Serving layout, numbered version, never overwriting), then
extends its `assets.extra/model.json` with what the zoo table and the pretrained test need:
the training configuration, steps and wall time, the machine, the exact test NLL over the
whole split (from the workdir's eval_test.json), the NLL of the first 500 test images
recomputed through the exported `log_prob` signature itself, and the sha256 of the variable
files. Writes `samples.png` and `completions.png` (top half given) next to the versions, both
drawn through the exported signatures.
"""

import hashlib
import json
import os
import platform

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

import models  # noqa: E402,F401  (fills the library's registry with the zoo)

ZOO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models",
                       "pretrained")
CHECK_IMAGES = 500


def variables_sha256(version_dir):
    """sha256 over the variable files of a SavedModel (name and bytes, in sorted order)."""
    digest = hashlib.sha256()
    var_dir = os.path.join(version_dir, "variables")
    for name in sorted(os.listdir(var_dir)):
        digest.update(name.encode())
        with open(os.path.join(var_dir, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def saved_model_nll(loaded, images, labels=None, batch_size=100):
    """Mean NLL in nats per image through the `log_prob` signature."""
    import numpy as np
    import tensorflow as tf

    fn = loaded.signatures["log_prob"]
    total = 0.0
    for start in range(0, len(images), batch_size):
        args = dict(images=tf.constant(images[start:start + batch_size], tf.uint8))
        if labels is not None:
            args["labels"] = tf.constant(labels[start:start + batch_size], tf.int32)
        total += float(np.sum(fn(**args)["log_prob"].numpy().astype(np.float64)))
    return -total / len(images)


def machine():
    from pixelrnn_tf.training.hardware import has_gpu

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            "no GPU" if not has_gpu() else f"{os.cpu_count()} CPU cores + GPU")


def _train_seconds(workdir, evaluation):
    """The run's training wall time: from its final evaluation, else (a run evaluated with
    `python -m pixelrnn_tf.evaluate`, e.g. a campaign run) from train_time.json."""
    if evaluation.get("train_seconds") is not None:
        return evaluation["train_seconds"]
    path = os.path.join(workdir, "train_time.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["seconds"]
    return None


def _cpu_clock(workdir, evaluation):
    """(CPU seconds, the step they were counted from) of a run, or None where its clock kept
    no CPU time (runs trained before it did)."""
    if evaluation.get("train_cpu_seconds") is not None:
        return evaluation["train_cpu_seconds"], evaluation.get("cpu_from_step", 0)
    path = os.path.join(workdir, "train_time.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        clock = json.load(f)
    if "cpu_seconds" not in clock:
        return None
    return clock["cpu_seconds"], clock["cpu_from_step"]


def _cpu_record(own, source=None, init_from=False):
    """train_cpu_seconds when every step (the source's too) was counted; else the part that
    was, as train_cpu_seconds_counted, so a partial count is never read as the whole."""
    if own is None:
        return {}
    whole = own[1] == 0 and (not init_from or (source is not None and source[1] == 0))
    if whole:
        return dict(train_cpu_seconds=own[0] + (source[0] if init_from else 0))
    return dict(train_cpu_seconds_counted=dict(seconds=own[0], from_step=own[1]))


def training_record(workdir, evaluation):
    """train_steps, train_seconds and CPU time of the published weights, and where they
    started: a run started from another one's weights (--init_from, its init_from.json) counts
    its source's steps and seconds too (the source's workdir looked up beside it, as the
    campaign keeps them), and names the source in init_from."""
    steps, seconds = evaluation["step"], _train_seconds(workdir, evaluation)
    own_cpu = _cpu_clock(workdir, evaluation)
    path = os.path.join(workdir, "init_from.json")
    if not os.path.exists(path):
        return dict(train_steps=steps, train_seconds=seconds, **_cpu_record(own_cpu))
    with open(path) as f:
        source = json.load(f)
    source_dir = os.path.join(os.path.dirname(os.path.abspath(workdir)),
                              os.path.basename(source["source"]))
    source_seconds = _train_seconds(source_dir, {})
    if seconds is not None and source_seconds is not None:
        seconds = seconds + source_seconds
    else:
        seconds = None  # unknown rather than too small
    return dict(train_steps=steps + source["step"], train_seconds=seconds,
                **_cpu_record(own_cpu, _cpu_clock(source_dir, {}), init_from=True),
                init_from=dict(run=os.path.basename(source["source"]), step=source["step"],
                               epoch=source["epoch"]))


def publish(workdir, name, data_dir=None, zoo_dir=ZOO_DIR, num_grid=16, seed=0):
    import numpy as np
    import tensorflow as tf

    from export.export_saved_model import METADATA_FILE, export_workdir
    from pixelrnn_tf import data, sampling
    from pixelrnn_tf.sampling import completion_grid
    from pixelrnn_tf.training import workdir as workdir_lib

    config = workdir_lib.load_config(workdir)
    eval_path = os.path.join(workdir, "eval_test.json")
    if not os.path.exists(eval_path):
        raise FileNotFoundError(f"{workdir} has no eval_test.json: finish (or evaluate) the run "
                                "first, so the zoo records its exact test NLL.")
    with open(eval_path) as f:
        evaluation = json.load(f)
    # Files from before evaluations recorded their policy were computed under the run's.
    policy = evaluation.get("mixed_precision", config.mixed_precision)
    if policy != "none":
        raise ValueError(f"{eval_path} was computed under {policy}, but the export is a float32 "
                         "SavedModel, whose NLL the zoo records: evaluate in float32 first "
                         f"(python -m pixelrnn_tf.evaluate --workdir={workdir} --split=test "
                         "--mixed_precision=none).")
    base = os.path.join(zoo_dir, name)
    version_dir = export_workdir(workdir, base)
    loaded = tf.saved_model.load(version_dir)
    data_dir = data_dir or config.data_dir
    test = data.load_split(config.dataset, "test", data_dir, max_examples=CHECK_IMAGES)
    labels = (data.load_labels(config.dataset, "test", data_dir, max_examples=CHECK_IMAGES)
              if config.model_config.get("num_classes") else None)
    meta_path = os.path.join(version_dir, METADATA_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    meta.pop("workdir", None)  # a path on the training machine means nothing to a user
    train_config = json.loads(config.to_json())
    train_config.pop("workdir", None)
    train_config.pop("data_dir", None)
    meta.update(
        name=name, train_config=train_config, hardware=machine(),
        **training_record(workdir, evaluation),
        test_split=evaluation.get("split", "test"), test_images=evaluation["num_images"],
        test_nll_nats=evaluation["nll_nats"], test_bits_per_dim=evaluation["bits_per_dim"],
        check_images=len(test), check_nll_nats=saved_model_nll(loaded, test, labels),
        variables_sha256=variables_sha256(version_dir))
    if "raw_weights_nll_nats" in evaluation:
        meta["test_nll_nats_without_weight_averaging"] = evaluation["raw_weights_nll_nats"]
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2, default=str)

    # Grids drawn through the exported signatures, as a user of the SavedModel would.
    levels = meta["num_levels"]
    seed_t = tf.constant(seed, tf.int64)
    if labels is None:
        samples = loaded.signatures["sample"](num_samples=tf.constant(num_grid, tf.int32),
                                              seed=seed_t)["images"].numpy()
    else:
        grid_labels = np.arange(num_grid, dtype=np.int32) % meta["num_classes"]
        samples = loaded.signatures["sample"](labels=tf.constant(grid_labels),
                                              seed=seed_t)["images"].numpy()
    sampling.save_png(sampling.image_grid(samples, levels), os.path.join(base, "samples.png"))
    originals, k = test[:4], 3
    h = originals.shape[1]
    known = np.zeros((len(originals) * k,) + originals.shape[1:3], np.uint8)
    known[:, :h // 2] = 1
    args = dict(images=tf.constant(np.repeat(originals, k, axis=0)), known_mask=tf.constant(known),
                seed=seed_t)
    if labels is not None:
        args["labels"] = tf.constant(np.repeat(labels[:4], k))
    done = loaded.signatures["complete"](**args)["images"].numpy()
    grid = completion_grid(originals, h // 2, done.reshape((len(originals), k) + done.shape[1:]),
                           levels)
    sampling.save_png(grid, os.path.join(base, "completions.png"))
    return version_dir, meta


def main(argv):
    from absl import flags

    del argv
    f = flags.FLAGS
    version_dir, meta = publish(f.workdir, f.name, f.data_dir)
    print(f"published {f.workdir} as {version_dir}: test NLL {meta['test_nll_nats']:.3f} nats "
          f"({meta['test_images']} images), first {meta['check_images']}: "
          f"{meta['check_nll_nats']:.3f} nats; {meta['train_steps']} steps")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("workdir", None, "Finished training workdir.", required=True)
    flags.DEFINE_string("name", None, "Zoo name (folder under models/pretrained).",
                        required=True)
    flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's).")
    from pixelrnn_tf import cli

    cli.run(main)
