"""models.from_preset / models.presets: every shipped version rebuilds as a Keras model whose
weights are the SavedModel's and whose log_prob is the SavedModel's; it fine-tunes with fit;
the re-export of a version keeps its number, weights and record; a wheel installed elsewhere
still has the presets."""

import glob
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.presets import PRETRAINED_DIR
from pixelrnn_tf import likelihood
from tests.helpers import newest_versions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSIONS = sorted(glob.glob(os.path.join(PRETRAINED_DIR, "*", "[0-9]*")))
# The served (highest) version of each model in every run; the superseded ones, unchanged since
# they were checked at publication (tests/test_pretrained.py checks their files' hashes in every
# run), with -m slow.
SERVED = newest_versions(VERSIONS)
PRESET_CASES = [pytest.param(v, id=os.path.relpath(v, PRETRAINED_DIR),
                             marks=() if v in SERVED else pytest.mark.slow) for v in VERSIONS]


def _meta(version_dir):
    with open(os.path.join(version_dir, "assets.extra", "model.json")) as f:
        return json.load(f)


def test_presets_list_the_zoo_with_data_and_recorded_nll():
    listing = models.presets()
    assert {"mnist_pixel_cnn", "mnist_row_lstm", "mnist_diagonal_bilstm",
            "mnist_multiscale_row_lstm", "mnist_gated_pixel_cnn", "cifar10_subset_pixel_cnn",
            "cifar10_subset_row_lstm"} <= set(listing)
    entry = listing["mnist_pixel_cnn"]
    on_disk = sorted(int(v) for v in os.listdir(os.path.join(PRETRAINED_DIR, "mnist_pixel_cnn"))
                     if v.isdigit())
    assert len(on_disk) >= 2  # the preset answers the highest of several versions
    assert entry["versions"] == on_disk and entry["version"] == on_disk[-1]
    meta = _meta(os.path.join(PRETRAINED_DIR, "mnist_pixel_cnn", str(on_disk[-1])))
    assert entry["test_nll_nats"] == meta["test_nll_nats"]
    assert entry["dataset"] == "binarized_mnist" and entry["model"] == "pixel_cnn"
    assert listing["cifar10_subset_row_lstm"]["image_shape"] == (32, 32, 3)


def test_unknown_presets_and_versions_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown preset 'mnist_rowlstm'\. Known presets: "
                                         r"cifar10_subset_pixel_cnn, .*mnist_row_lstm"):
        models.from_preset("mnist_rowlstm")
    with pytest.raises(ValueError, match="has no version 9; it has 1, 2"):
        models.from_preset("mnist_pixel_cnn", version=9)


def test_a_version_its_model_json_does_not_rebuild_is_refused(tmp_path):
    """A SavedModel whose model.json names another network (or lost it) is an error that
    names the folder, never a half-loaded model."""
    source = os.path.join(PRETRAINED_DIR, "mnist_row_lstm", "1")
    shutil.copytree(source, tmp_path / "1")
    meta = _meta(source)
    meta["config"]["units"] = meta["config"]["units"] * 2
    with open(tmp_path / "1" / "assets.extra" / "model.json", "w") as f:
        json.dump(meta, f)
    with pytest.raises(ValueError, match=r"1 does not match the 'row_lstm' model its model\.json "
                                         r"rebuilds: \d+ saved variables, \d+ built, [1-9]\d* of "
                                         r"other shapes\."):
        models.from_preset(str(tmp_path / "1"))
    os.remove(tmp_path / "1" / "assets.extra" / "model.json")
    with pytest.raises(ValueError, match="holds no exported version"):
        models.from_preset(str(tmp_path))


@pytest.mark.parametrize("version_dir", PRESET_CASES)
def test_preset_is_the_saved_model(version_dir):
    name, version = os.path.basename(os.path.dirname(version_dir)), int(os.path.basename(version_dir))
    model = models.from_preset(name, version=version)
    loaded = tf.saved_model.load(version_dir)
    assert len(model.variables) == len(loaded.model_variables) == _meta(version_dir)["num_variables"]
    for mine, saved in zip(model.variables, loaded.model_variables):
        np.testing.assert_array_equal(mine.numpy(), saved.numpy())  # bit-identical weights
    # The re-exported versions describe themselves: declared shapes, the model's order.
    h, w, c = model.image_shape
    complete = loaded.signatures["complete"].structured_input_signature[1]
    assert complete["images"].shape.as_list() == [None, h, w, c]
    assert complete["known_mask"].shape.as_list() == [None, h, w]
    np.testing.assert_array_equal(_meta(version_dir)["ordering"], model.ordering())
    images = np.random.default_rng(0).integers(
        0, model.num_levels, (4,) + model.image_shape).astype(np.uint8)
    want = loaded.signatures["log_prob"](images=tf.constant(images))
    # Same weights, same network; only float32 rounding differs (the SavedModel runs a
    # grappler-optimized graph, the preset eager kernels): measured at most 6.1e-5 nats per
    # sub-pixel (CIFAR-10) and 1.2e-7 relative per image (2 float32 ulps of the sum).
    pixel = model.pixel_log_prob(images)  # once: the recurrent models are slow in eager mode
    np.testing.assert_allclose(pixel, want["pixel_log_prob"], atol=1e-4)
    np.testing.assert_allclose(likelihood.image_log_prob(pixel), want["log_prob"], rtol=5e-7)


def test_a_preset_fine_tunes_with_fit():
    model = models.from_preset("mnist_pixel_cnn", version=1)
    before = [v.numpy() for v in model.trainable_variables]
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    images = np.random.default_rng(1).integers(0, 2, (8, 28, 28, 1)).astype(np.uint8)
    start = model.evaluate(images, batch_size=8, return_dict=True, verbose=0)["nll_nats"]
    np.testing.assert_allclose(start, -np.mean(model.log_prob(images)), rtol=1e-5)
    history = model.fit(images, batch_size=8, epochs=2, verbose=0).history
    assert all(np.isfinite(history["loss"]))
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))


@pytest.mark.slow  # builds the wheel (~1-2 minutes on 2 cores)
def test_presets_load_from_an_installed_wheel(tmp_path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "cwd"
    elsewhere.mkdir()
    quiet = dict(check=True, capture_output=True, text=True)
    # Built from a copy: setuptools leaves build/ and *.egg-info in the source folder, and a
    # stale build/lib would leak removed files into later wheels.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", "workdirs", "campaign"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], **quiet)
    wheel, = glob.glob(str(wheels / "pixelrnn_tf-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target),
                    wheel], **quiet)
    script = ("import json, numpy as np, models\n"
              "m = models.from_preset('mnist_row_lstm')\n"
              "x = np.zeros((1, 28, 28, 1), np.uint8)\n"
              "print(json.dumps(dict(file=models.__file__, presets=sorted(models.presets()),\n"
              "                      log_prob=float(m.log_prob(x)[0]))))\n")
    # PYTHONPATH puts the installed copy before everything else; the cwd is not the checkout.
    out = subprocess.run([sys.executable, "-c", script], cwd=elsewhere,
                         env=dict(os.environ, PYTHONPATH=str(target)), **quiet)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["file"].startswith(str(target)), got["file"]
    assert "mnist_row_lstm" in got["presets"] and "cifar10_subset_pixel_cnn" in got["presets"]
    want = models.from_preset("mnist_row_lstm").log_prob(np.zeros((1, 28, 28, 1), np.uint8))
    np.testing.assert_allclose(got["log_prob"], float(want[0]), rtol=1e-6)


def _tiny_zoo_entry(tmp_path):
    """A zoo entry as publish_pretrained leaves it: a tiny PixelCNN on the digits, with the
    recorded check NLL and variables hash."""
    from export.export_saved_model import METADATA_FILE, export
    from export.publish_pretrained import CHECK_IMAGES, saved_model_nll, variables_sha256
    from pixelrnn_tf import data
    from tests.conftest import build_tiny

    version_dir = export(build_tiny("pixel_cnn", (8, 8, 1), 17), str(tmp_path / "tiny"),
                         metadata={"dataset": "digits", "test_nll_nats": 123.0})
    meta = _meta(version_dir)
    images = data.load_split("digits", "test", max_examples=CHECK_IMAGES)
    meta.update(check_nll_nats=saved_model_nll(tf.saved_model.load(version_dir), images),
                variables_sha256=variables_sha256(version_dir))
    with open(os.path.join(version_dir, METADATA_FILE), "w") as f:
        json.dump(meta, f)
    return version_dir, meta


def test_reexport_refuses_a_changed_log_prob_and_keeps_the_number_weights_and_record(tmp_path):
    from export.export_saved_model import METADATA_FILE
    from export.reexport_pretrained import reexport

    version_dir, before = _tiny_zoo_entry(tmp_path)
    weights = [v.numpy() for v in models.from_preset(version_dir).variables]
    # As if the rebuilt network computed something else: refused, the version left as it was.
    tampered = dict(before, check_nll_nats=before["check_nll_nats"] + 1.0)
    with open(os.path.join(version_dir, METADATA_FILE), "w") as f:
        json.dump(tampered, f)
    with pytest.raises(RuntimeError, match="the re-export changes log_prob"):
        reexport(version_dir, data_dir=None)
    assert os.listdir(os.path.dirname(version_dir)) == ["1"]  # no staging folder left
    assert _meta(version_dir) == tampered
    with open(os.path.join(version_dir, METADATA_FILE), "w") as f:
        json.dump(before, f)

    diff, check = reexport(version_dir, data_dir=None)
    assert diff == 0.0 and check == pytest.approx(before["check_nll_nats"], abs=1e-6)
    assert os.listdir(os.path.dirname(version_dir)) == ["1"]
    after = _meta(version_dir)
    for key in ("test_nll_nats", "check_nll_nats", "dataset", "variables_sha256", "ordering"):
        assert after[key] == before[key], key
    for old, new in zip(weights, models.from_preset(version_dir).variables):
        np.testing.assert_array_equal(old, new.numpy())
