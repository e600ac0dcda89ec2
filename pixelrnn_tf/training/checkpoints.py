"""Restoring a workdir's checkpoints: damaged files are named, never silently skipped.

A checkpoint `ckpt-N` is the files `ckpt-N.index` and `ckpt-N.data-*` next to the
CheckpointManager's `checkpoint` state file. TensorFlow's own errors on a damaged one
("Read less bytes than requested", "not an sstable (bad magic number)") name no file, and
a missing state file makes `latest_checkpoint` return None, which would restart from step 0.
"""

import functools
import glob
import os
import re
import shutil

import tensorflow as tf

DAMAGED_DIR = "checkpoints_damaged"


class CheckpointDamaged(RuntimeError):
    pass


def _step(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def candidates(directory):
    """Checkpoint prefixes of `directory`, newest first: those of the state file and any
    other `*.index` (a damaged or missing state file must not hide them)."""
    prefixes = set()
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # an unreadable state file: the .index files still tell
        state = None
    if state is not None:
        for path in state.all_model_checkpoint_paths:
            prefixes.add(os.path.join(directory, os.path.basename(path)))
    for index in glob.glob(os.path.join(glob.escape(directory), "*.index")):
        prefixes.add(index[:-len(".index")])
    # A listed checkpoint with no file left at all was deleted, not damaged.
    prefixes = {p for p in prefixes if files_of(p)} | (
        {os.path.join(directory, os.path.basename(state.model_checkpoint_path))}
        if state is not None and state.model_checkpoint_path else set())
    return sorted(prefixes, key=_step, reverse=True)


def files_of(prefix):
    return sorted(glob.glob(glob.escape(prefix) + ".*"))


def _short(error):
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return text.strip().splitlines()[0][:200]


def diagnose(prefix):
    """None if every tensor of the checkpoint reads back (TF verifies each tensor's CRC32C),
    else a description naming the damaged file(s)."""
    index = prefix + ".index"
    if not os.path.exists(index):
        return f"{index} is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:
        return f"{index} is unreadable ({_short(e)})"
    data = [f for f in files_of(prefix) if ".data-" in f]
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:
        return f"{', '.join(data) or prefix + '.data-*'} unreadable ({_short(e)})"
    return None


def restore(checkpoint, directory, partial=False, resume_from_intact=False, set_aside=True):
    """Restore the newest checkpoint of `directory` into `checkpoint`; returns
    (prefix or None, damaged descriptions of the newer ones that were set aside).

    A damaged newest checkpoint raises CheckpointDamaged naming its files, unless
    `resume_from_intact`: then the newest intact one is restored and the damaged ones are
    moved to ../checkpoints_damaged/ (kept for inspection, out of the CheckpointManager's way)
    if `set_aside` (only the chief of a multi-worker run moves files; the others restore the
    same checkpoint).
    A checkpoint of another architecture is not damage: its AssertionError passes through.
    """
    prefixes = candidates(directory)
    if not prefixes:
        return None, []
    damaged = []
    for prefix in prefixes:
        problem = None
        try:
            status = checkpoint.restore(prefix)
            if partial:
                status.expect_partial()
            status.assert_existing_objects_matched()
        except AssertionError:
            problem = diagnose(prefix)
            if problem is None:
                raise
        except Exception as e:
            problem = diagnose(prefix) or f"{prefix} cannot be restored ({_short(e)})"
        if problem is None:
            break
        damaged.append((prefix, problem))
        if not resume_from_intact:
            intact = next((p for p in prefixes[1:] if diagnose(p) is None), None)
            hint = (f"re-run training with --resume_from_intact to move it to "
                    f"{os.path.join(os.path.dirname(directory), DAMAGED_DIR)} and resume from "
                    f"{os.path.basename(intact)} (step {_step(intact)})" if intact else
                    "no older intact checkpoint is left; train into a new --workdir")
            raise CheckpointDamaged(f"Checkpoint {prefix} is damaged: {problem}. Nothing was "
                                    f"changed; {hint}.")
    else:
        raise CheckpointDamaged(
            f"Every checkpoint of {directory} is damaged: "
            + "; ".join(problem for _, problem in damaged)
            + ". Nothing was changed; train into a new --workdir.")
    if damaged and set_aside:
        _set_aside(directory, [p for p, _ in damaged], prefixes, prefix)
    return prefix, [problem for _, problem in damaged]


def _set_aside(directory, damaged, prefixes, intact):
    # The state file first: a kill in between leaves damaged files that the next run's
    # scan of *.index finds (and sets aside) again.
    kept = sorted((p for p in prefixes if p not in damaged and _step(p) <= _step(intact)),
                  key=_step)
    # With their timestamps, or the CheckpointManager forgets them (and never deletes them).
    try:  # the same function without its deprecation warning (which is about TF1 code)
        from tensorflow.python.checkpoint.checkpoint_management import (
            update_checkpoint_state_internal)
        # Relative paths, as the CheckpointManager writes them: the workdir stays movable.
        update_state = functools.partial(update_checkpoint_state_internal,
                                         save_relative_paths=True)
    except ImportError:
        update_state = tf.compat.v1.train.update_checkpoint_state
    update_state(
        directory, intact, all_model_checkpoint_paths=kept,
        all_model_checkpoint_timestamps=[os.path.getmtime(p + ".index") for p in kept])
    target = os.path.join(os.path.dirname(directory), DAMAGED_DIR)
    os.makedirs(target, exist_ok=True)
    for prefix in damaged:
        for path in files_of(prefix):
            shutil.move(path, os.path.join(target, os.path.basename(path)))
