"""Building a run's model and restoring it from a workdir: the one restore path of the CLIs
(evaluate, sample, complete) and of the SavedModel export."""

import dataclasses
import os
import re
import sys

import keras
import tensorflow as tf

from pixelrnn_tf import registry
from pixelrnn_tf.training import checkpoints as checkpoints_lib, hardware
from pixelrnn_tf.training import workdir as workdir_lib
from pixelrnn_tf.training.weight_average import WeightAverage


def dtype_policy(config):
    """The Keras dtype policy of a run's model (--mixed_precision)."""
    return "float32" if config.mixed_precision == "none" else config.mixed_precision


def build_model(config):
    keras.utils.set_random_seed(config.seed)
    return registry.build(config.model, dtype=dtype_policy(config), **config.model_config)


def restore_model(workdir, mixed_precision=None):
    """The model of a training workdir at its latest checkpoint (no optimizer state needed),
    under the run's --mixed_precision policy or `mixed_precision` ("none": float32; the
    variables are float32 under every policy, so any policy restores any run)."""
    config = workdir_lib.load_config(workdir)
    if mixed_precision is not None:
        config = dataclasses.replace(config, mixed_precision=mixed_precision)
    warning = hardware.emulated_bfloat16_warning(
        config.mixed_precision, "--mixed_precision=none computes the same weights in float32.")
    if warning:
        print(warning, file=sys.stderr, flush=True)
    model = build_model(config)
    step = tf.Variable(0, dtype=tf.int64)
    average = (WeightAverage(model.trainable_variables, config.ema_decay)
               if config.ema_decay else None)
    extra = {"ema": average} if average else {}
    # partial: the optimizer's slots are not wanted here; every model variable must still get
    # a value (assert_existing_objects_matched), never silently keep its initialization.
    latest, _ = checkpoints_lib.restore(tf.train.Checkpoint(step=step, model=model, **extra),
                                        os.path.join(workdir, "checkpoints"), partial=True)
    if not latest:
        raise FileNotFoundError(f"--workdir {workdir} has no checkpoint.")
    if average:
        average.copy_to_model()
    return model, config, int(step.numpy())


SAVED_MODEL_METADATA = os.path.join("assets.extra", "model.json")


def restore_saved_model(version_dir):
    """(model, metadata) of an exported SavedModel version folder, as a Keras model.

    The export records the registry name and constructor config in `assets.extra/model.json`
    and tracks the model's backing variables as the list `model_variables` (in
    `model.variables` order; export/servable.py), so the model is rebuilt from the registry
    and those variables are read back from the SavedModel's checkpoint: the Keras model, not
    the exported signatures, because its sampling stages are what a caller steps.
    """
    import json

    meta_path = os.path.join(version_dir, SAVED_MODEL_METADATA)
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{version_dir} is not a SavedModel version folder of this "
                                f"project (it has no {SAVED_MODEL_METADATA}).")
    with open(meta_path) as f:
        meta = json.load(f)
    # from_config keeps the exported name, so a re-export records the same config.
    model = registry.get(meta["model"]).from_config(meta["config"])
    model.build_by_calling()
    prefix = os.path.join(version_dir, "variables", "variables")
    saved = {}
    for key, shape in tf.train.list_variables(prefix):
        match = re.fullmatch(r"model_variables/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE", key)
        if match:
            saved[int(match.group(1))] = shape
    # A count or shape mismatch means model.json's config does not rebuild the exported
    # network (e.g. a model class changed since the export): refuse rather than half-load.
    built = {i: list(v.shape) for i, v in enumerate(model.variables)}
    if saved != built:
        raise ValueError(f"{version_dir} does not match the {meta['model']!r} model its "
                         f"model.json rebuilds: {len(saved)} saved variables, {len(built)} "
                         f"built, {sum(saved.get(i) != s for i, s in built.items())} of other "
                         "shapes.")
    checkpoint = tf.train.Checkpoint(model_variables=[v.value for v in model.variables])
    # The signatures' own objects are not wanted; every model variable must get its value.
    checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
    return model, meta


def find_model(spec, zoo_dir=None):
    """The folder `spec` names, and its kind: a training workdir ("workdir"), a SavedModel
    version folder ("saved_model"), a zoo model folder of numbered versions (its highest
    version), or a zoo name under `zoo_dir` (`mnist_pixel_cnn` or `mnist_pixel_cnn/1`).
    Returns (kind, path, zoo_name) with zoo_name like "mnist_pixel_cnn/2", or None."""
    candidates = [spec]
    if zoo_dir and not os.path.isabs(spec):
        candidates.append(os.path.join(zoo_dir, spec))
    for path in candidates:
        if not os.path.isdir(path):
            continue
        if os.path.isfile(os.path.join(path, workdir_lib.CONFIG_FILE)):
            return "workdir", path, None
        versions = sorted(int(d) for d in os.listdir(path) if d.isdigit())
        if versions and not os.path.isfile(os.path.join(path, SAVED_MODEL_METADATA)):
            path = os.path.join(path, str(versions[-1]))
        if os.path.isfile(os.path.join(path, SAVED_MODEL_METADATA)):
            return "saved_model", path, _zoo_name(path, zoo_dir)
    zoo = ""
    if zoo_dir and os.path.isdir(zoo_dir):
        zoo = f" Zoo models: {', '.join(sorted(os.listdir(zoo_dir)))}."
    raise FileNotFoundError(f"--model {spec} is neither a pretrained zoo name, a SavedModel "
                            f"version folder nor a training workdir.{zoo}")


def _zoo_name(version_dir, zoo_dir):
    if not zoo_dir:
        return None
    rel = os.path.relpath(os.path.abspath(version_dir), os.path.abspath(zoo_dir))
    parts = rel.split(os.sep)
    return rel.replace(os.sep, "/") if len(parts) == 2 and parts[1].isdigit() else None


def load_model(spec, zoo_dir=None):
    """(model, description) for `spec` (see `find_model`): the model with its trained
    weights, and a dict saying where it came from (kind, path, zoo name, step)."""
    kind, path, zoo_name = find_model(spec, zoo_dir)
    if kind == "workdir":
        model, _, step = restore_model(path)
        return model, {"kind": kind, "path": os.path.abspath(path), "step": step}
    model, meta = restore_saved_model(path)
    return model, {"kind": kind, "path": os.path.abspath(path), "zoo": zoo_name,
                   "step": meta.get("training_step")}
