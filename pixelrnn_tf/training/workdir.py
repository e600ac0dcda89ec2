"""Workdir safety: a workdir belongs to one model configuration, and nothing saved is lost."""

import json
import os

CONFIG_FILE = "config.json"


class WorkdirMismatch(ValueError):
    pass


def has_checkpoint(workdir):
    folder = os.path.join(workdir, "checkpoints")
    return os.path.isdir(folder) and bool(os.listdir(folder))


def check(workdir, config):
    """Refuse a workdir that cannot take this run, without writing anything.

    A workdir whose checkpoints belong to another model or configuration is refused (never
    overwritten, never half-loaded); one with checkpoints but no config.json is refused too.
    A config.json without any checkpoint binds nothing yet (a refused or killed first run
    wrote it): the run may replace it.
    """
    from pixelrnn_tf.training.config import IDENTITY_FIELDS, checkpoint_format

    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise NotADirectoryError(f"--workdir {workdir} is a file, not a folder; give a folder "
                                 "(a new one is created).")
    path = os.path.join(workdir, CONFIG_FILE)
    if not has_checkpoint(workdir):
        return
    if not os.path.exists(path):
        raise WorkdirMismatch(f"Workdir {workdir} has checkpoints but no {CONFIG_FILE}: it was "
                              "not written by this trainer. Use a new --workdir.")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise WorkdirMismatch(f"{path} is unreadable ({e}); refusing to reuse {workdir}.")
    current = json.loads(config.to_json())
    # A field missing from an older config.json had its default value.
    defaults = json.loads(type(config)().to_json())
    diffs = [f"{k}: saved {saved.get(k, defaults[k])!r}, now {current[k]!r}"
             for k in IDENTITY_FIELDS if saved.get(k, defaults[k]) != current[k]]
    was = saved.get("mixed_precision", defaults["mixed_precision"])
    if checkpoint_format(was) != checkpoint_format(current["mixed_precision"]):
        diffs.append(f"mixed_precision: saved {was!r}, now {current['mixed_precision']!r}; "
                     "a mixed_float16 checkpoint holds a loss-scaled optimizer")
    if diffs:
        raise WorkdirMismatch(
            f"Workdir {workdir} holds a run of another configuration ("
            + "; ".join(diffs) + "). Use a new --workdir; nothing was changed.")


def saved_config(workdir):
    """config.json of a workdir as a dict, or None (missing or unreadable)."""
    try:
        with open(os.path.join(workdir, CONFIG_FILE)) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def claim(workdir, config):
    """check(), then write config.json (atomically). Call it only once the run has passed
    every other check: config.json is the first file a run writes."""
    check(workdir, config)
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, CONFIG_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(config.to_json())
    os.replace(tmp, path)
    return path


def load_config(workdir):
    from pixelrnn_tf.training.config import TrainConfig

    if not os.path.exists(workdir):
        raise FileNotFoundError(f"--workdir {workdir} does not exist.")
    if not os.path.isdir(workdir):
        raise NotADirectoryError(f"--workdir {workdir} is a file, not a training workdir.")
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"--workdir {workdir} has no {CONFIG_FILE}: not a training "
                                "workdir (train into it with python -m pixelrnn_tf.train first).")
    with open(path) as f:
        saved = json.load(f)
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ValueError(f"{path} has fields this version does not know: {', '.join(unknown)}.")
    return TrainConfig(**saved)
