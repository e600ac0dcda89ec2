"""Workdir safety: a workdir belongs to one model configuration, and nothing saved is lost."""

import json
import os

CONFIG_FILE = "config.json"


class WorkdirMismatch(ValueError):
    pass


def claim(workdir, config):
    """Write config.json into a new workdir, or check that an existing one matches.

    A workdir that holds a checkpoint of another model or configuration is refused (never
    overwritten, never half-loaded); one with checkpoints but no config.json is refused too.
    """
    from pixelrnn_tf.training.config import IDENTITY_FIELDS

    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, CONFIG_FILE)
    current = json.loads(config.to_json())
    if os.path.exists(path):
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise WorkdirMismatch(f"{path} is unreadable ({e}); refusing to reuse {workdir}.")
        # A field missing from an older config.json had its default value.
        defaults = json.loads(type(config)().to_json())
        diffs = [f"{k}: saved {saved.get(k, defaults[k])!r}, now {current[k]!r}"
                 for k in IDENTITY_FIELDS if saved.get(k, defaults[k]) != current[k]]
        if diffs:
            raise WorkdirMismatch(
                f"Workdir {workdir} holds a run of another configuration ("
                + "; ".join(diffs) + "). Use a new --workdir; nothing was changed.")
    elif os.path.isdir(os.path.join(workdir, "checkpoints")) and \
            os.listdir(os.path.join(workdir, "checkpoints")):
        raise WorkdirMismatch(f"Workdir {workdir} has checkpoints but no {CONFIG_FILE}: it was "
                              "not written by this trainer. Use a new --workdir.")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(config.to_json())
    os.replace(tmp, path)
    return path


def load_config(workdir):
    from pixelrnn_tf.training.config import TrainConfig

    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{workdir} has no {CONFIG_FILE}: not a training workdir.")
    with open(path) as f:
        saved = json.load(f)
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ValueError(f"{path} has fields this version does not know: {', '.join(unknown)}.")
    return TrainConfig(**saved)
