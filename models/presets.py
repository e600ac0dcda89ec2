"""Pretrained presets, keras-hub's `from_preset` habit: the Keras model of a zoo entry, with
its trained weights, ready to evaluate, sample or fine-tune with `fit`.

  import models
  models.presets()                           # {name: {dataset, test_nll_nats, ...}}
  model = models.from_preset("mnist_row_lstm")              # the latest version
  model = models.from_preset("mnist_pixel_cnn", version=1)
  model = models.from_preset("exports/my_model")            # any export folder works too

A preset is a SavedModel version folder of `models/pretrained/` (shipped inside the package,
so a non-editable install has them too). Nothing is stored twice: the Keras model is rebuilt
from `assets.extra/model.json` (registry name and `get_config()`) and its variables are read
from the SavedModel's own checkpoint (`variables/`), in which the exported module tracks
exactly the model's variables, as the list `model_variables`, in `model.variables` order.
"""

import json
import os
import re

PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")
_METADATA = os.path.join("assets.extra", "model.json")


def _versions(entry_dir):
    """The numbered SavedModel folders of a zoo entry, {version: path}, ascending."""
    if not os.path.isdir(entry_dir):
        return {}
    found = [int(d) for d in os.listdir(entry_dir)
             if re.fullmatch(r"\d+", d) and os.path.isfile(os.path.join(entry_dir, d, _METADATA))]
    return {v: os.path.join(entry_dir, str(v)) for v in sorted(found)}


def _names():
    if not os.path.isdir(PRETRAINED_DIR):
        return []
    return sorted(d for d in os.listdir(PRETRAINED_DIR)
                  if _versions(os.path.join(PRETRAINED_DIR, d)))


def _read_metadata(version_dir):
    with open(os.path.join(version_dir, _METADATA)) as f:
        return json.load(f)


def preset_dir(preset, version=None):
    """The SavedModel folder of `preset` (a shipped name, a folder of numbered versions, or a
    version folder itself): `version`, or the highest one."""
    if os.path.isfile(os.path.join(str(preset), _METADATA)):
        if version is not None:
            raise ValueError(f"{preset} is a single version folder; do not pass version=.")
        return str(preset)
    is_path = os.sep in str(preset) or os.path.isdir(str(preset))
    entry = str(preset) if is_path else os.path.join(PRETRAINED_DIR, str(preset))
    versions = _versions(entry)
    if not versions:
        if is_path:
            raise ValueError(f"{preset} holds no exported version (no <N>/{_METADATA}).")
        raise ValueError(f"Unknown preset {preset!r}. Known presets: "
                         f"{', '.join(_names()) or 'none'} (or pass an export folder).")
    if version is None:
        return versions[max(versions)]
    if int(version) not in versions:
        raise ValueError(f"Preset {preset!r} has no version {version}; it has "
                         f"{', '.join(map(str, versions))}.")
    return versions[int(version)]


def presets():
    """The shipped presets, {name: description} by name: the latest version, all versions,
    the registry model, its data set, image shape, parameters and the recorded test NLL."""
    listing = {}
    for name in _names():
        versions = _versions(os.path.join(PRETRAINED_DIR, name))
        latest = max(versions)
        meta = _read_metadata(versions[latest])
        listing[name] = dict(
            version=latest, versions=list(versions), model=meta["model"],
            dataset=meta.get("dataset"), image_shape=tuple(meta["image_shape"]),
            num_levels=meta["num_levels"], num_parameters=meta["num_parameters"],
            test_nll_nats=meta.get("test_nll_nats"),
            test_bits_per_dim=meta.get("test_bits_per_dim"),
            test_images=meta.get("test_images"), path=versions[latest])
    return listing


def from_preset(preset, version=None):
    """The Keras model of a preset with its trained weights (built, not compiled: compile it
    to `fit` or `evaluate`). `preset`: a name of `presets()`, or a folder written by
    `export.export_saved_model.export` (numbered versions, or one version folder)."""
    from pixelrnn_tf.training import restore

    return restore.restore_saved_model(preset_dir(preset, version))[0]
