"""Export a model as a TF Serving SavedModel: `DIR/<version>/`, numbered, written atomically.

  python -m export.export_saved_model --workdir=workdirs/pixel_cnn_digits \
      --export_base=exports/pixel_cnn_digits [--version=N]

Signatures (pure TF graphs, named inputs and outputs; see `export/servable.py`):
  serving_default, log_prob: images uint8 (B,H,W,C) -> log_prob (B) nats, bits_per_dim (B),
                             pixel_log_prob (B,H,W,C)
  sample:   num_samples int32 scalar, seed int64 scalar -> images uint8 (N,H,W,C)
  complete: images uint8 (B,H,W,C), known_mask uint8 (B,H,W) (1 = keep), seed int64 -> images
Bad input fails with InvalidArgument naming the problem. `assets.extra/model.json` describes
the model (TF Serving's place for extra files).

TensorFlow is imported only when needed, so a wrong --workdir fails at once.
"""

import json
import os
import re
import shutil

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

import models  # noqa: E402,F401  (fills the library's registry with the zoo)

METADATA_FILE = os.path.join("assets.extra", "model.json")


def existing_versions(export_base):
    """The numeric version folders of `export_base`, sorted (hidden .tmp-* ones excluded)."""
    if not os.path.isdir(export_base):
        return []
    return sorted(int(d) for d in os.listdir(export_base) if re.fullmatch(r"\d+", d))


def next_version(export_base):
    return max(existing_versions(export_base), default=0) + 1


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OverflowError:  # not a pid this system can have
        return False
    return True


def remove_stale_temporaries(export_base):
    """Remove the hidden `.tmp-<version>-<pid>` folders of exports whose process is gone (a
    killed export cannot clean up after itself). A folder of a live process is an export in
    progress and is left alone; returns the removed paths."""
    removed = []
    if not os.path.isdir(export_base):
        return removed
    for name in os.listdir(export_base):
        match = re.fullmatch(r"\.tmp-\d+-(\d+)", name)
        if match and not _process_alive(int(match.group(1))):
            path = os.path.join(export_base, name)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def float32_copy(model):
    """`model` rebuilt under the float32 policy with the same weights (a copy only if its
    policy is another): exports serve float32 whatever the policy a model was trained under
    (mixed_float16 signatures would also need float16 kernels where they are served)."""
    if model.dtype_policy.name == "float32":
        return model
    copy = type(model)(**model.get_config(), dtype="float32")
    copy.build((None,) + tuple(model.image_shape))
    copy.set_weights(model.get_weights())  # variables are float32 under every policy
    return copy


def export(model, export_base, metadata=None, version=None):
    """Write `export_base/<version>/` and return its path. A model under a mixed precision
    policy is exported as its float32 copy (`float32_copy`).

    version: default 1 + the highest existing version. The SavedModel is written into a
    hidden temporary folder (which TF Serving ignores) and renamed at the end, so a killed
    export never leaves a visible half-written version; an existing version is never
    overwritten (FileExistsError). Temporary folders left by killed exports are removed
    first (remove_stale_temporaries).
    """
    import numpy as np
    import tensorflow as tf

    from export.servable import Servable, signature_docs

    os.makedirs(export_base, exist_ok=True)
    remove_stale_temporaries(export_base)
    version = next_version(export_base) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be >= 1, got {version}.")
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"Version {final} already exists; refusing to overwrite it. "
                              "Omit --version to write the next free number.")
    model.build_by_calling()  # or the signatures would create variables
    model = float32_copy(model)
    tmp = os.path.join(export_base, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _save(Servable, model, tmp)
        import keras

        meta = dict(model=getattr(model, "registry_name", type(model).__name__),
                    config=model.get_config(), num_levels=model.num_levels,
                    image_shape=list(model.image_shape),
                    ordering=np.asarray(model.ordering()).astype(int).tolist(),
                    version=version,
                    num_variables=len(model.variables),
                    num_parameters=int(sum(int(tf.size(v)) for v in model.variables)),
                    signatures=signature_docs(model), num_classes=model.num_classes,
                    conditioning_dim=model.conditioning_dim, tensorflow_version=tf.__version__,
                    keras_version=keras.__version__)
        meta.update(metadata or {})
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, METADATA_FILE), "w") as f:
            json.dump(meta, f, indent=2, default=str)
        if os.path.exists(final):  # another export took this number meanwhile
            raise FileExistsError(f"Version {final} appeared during the export; refusing to "
                                  "overwrite it.")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _save(servable_class, model, path):
    """tf.saved_model.save the signatures, traced without AutoGraph (the sampler and the
    models are written with explicit tf.while_loop; AutoGraph's conversion would about double
    the export time). Code that does need AutoGraph (a Python `if` on a tensor fails to trace
    with OperatorNotAllowedInGraphError, a TypeError) is traced again with it."""
    import tensorflow as tf

    # The signatures are for inference. The Diagonal BiLSTM's hand-written loop gradient
    # (a tf.custom_gradient that reads TensorArrays of its forward loop) cannot be serialized:
    # saving it fails with "captures tensor ... dtype=variant ... not reachable from root".
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    try:
        servable = servable_class(model, autograph=False)
        tf.saved_model.save(servable, path, signatures=servable.signatures(), options=options)
    except TypeError:
        shutil.rmtree(path, ignore_errors=True)
        servable = servable_class(model, autograph=True)
        tf.saved_model.save(servable, path, signatures=servable.signatures(), options=options)


def _check_workdir(workdir):
    """Fail fast (before importing TensorFlow) on a folder that is not a training workdir."""
    if not os.path.isdir(workdir):
        raise FileNotFoundError(f"--workdir {workdir} does not exist.")
    if not os.path.isfile(os.path.join(workdir, "config.json")):
        raise FileNotFoundError(f"--workdir {workdir} is not a training workdir (it has no "
                                "config.json; train with `python -m pixelrnn_tf.train "
                                "--workdir=...` first).")
    if not os.path.isfile(os.path.join(workdir, "checkpoints", "checkpoint")):
        raise FileNotFoundError(f"--workdir {workdir} has no checkpoint to export.")


def restore(workdir):
    """(model, config, step) of a training workdir at its latest checkpoint, with the weights
    to export (the moving average when the run keeps one): the CLIs' restore path."""
    _check_workdir(workdir)
    from pixelrnn_tf.training.restore import restore_model

    return restore_model(workdir)


def workdir_metadata(workdir, config, step):
    meta = {"training_step": step, "dataset": config.dataset,
            "workdir": os.path.abspath(workdir)}
    eval_path = os.path.join(workdir, "eval_test.json")
    if os.path.exists(eval_path):
        with open(eval_path) as f:
            ev = json.load(f)
        if ev.get("step", step) == step:
            meta.update(test_nll_nats=ev["nll_nats"], test_bits_per_dim=ev["bits_per_dim"])
        else:
            meta["test_nll_note"] = (f"eval_test.json is from step {ev.get('step')}, the "
                                     f"checkpoint from step {step}: not included.")
    return meta


def export_workdir(workdir, export_base, version=None):
    """Export the latest checkpoint of a training workdir, with its step and test NLL."""
    _check_workdir(workdir)
    if version is not None and os.path.exists(os.path.join(export_base, str(version))):
        raise FileExistsError(f"Version {os.path.join(export_base, str(version))} already "
                              "exists; refusing to overwrite it. Omit --version to write the "
                              "next free number.")
    model, config, step = restore(workdir)
    return export(model, export_base, workdir_metadata(workdir, config, step), version)


def main(argv):
    from absl import flags

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}")
    f = flags.FLAGS
    try:
        path = export_workdir(f.workdir, f.export_base, f.version)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    except AssertionError as e:  # assert_existing_objects_matched
        raise SystemExit(f"error: the checkpoint of {f.workdir} does not match its model: {e}")
    print(f"exported {f.workdir} to {os.path.abspath(path)}")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("workdir", None, "Training workdir to export.", required=True)
    flags.DEFINE_string("export_base", None, "Folder of numbered versions.", required=True)
    flags.DEFINE_integer("version", None, "Version number (default: next free).", lower_bound=1)
    from pixelrnn_tf import cli

    cli.run(main)
