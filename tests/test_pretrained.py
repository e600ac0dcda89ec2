"""Every SavedModel shipped in models/pretrained: signatures, integrity, recorded test NLL."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from export.publish_pretrained import CHECK_IMAGES, ZOO_DIR, saved_model_nll, variables_sha256
from pixelrnn_tf import data
from tests.helpers import newest_versions

SHIPPED = sorted(glob.glob(os.path.join(ZOO_DIR, "*", "[0-9]*")))
SIGNATURES = {"serving_default", "log_prob", "sample", "complete"}


SERVED = newest_versions(SHIPPED)
# Superseded versions: their files are checked against the recorded hash in every run (a
# changed byte fails); their loading, NLL and samples, checked when each was published and
# unchanged since, rerun with -m slow (the Diagonal BiLSTMs alone take ~4 min on 2 cores).
SUPERSEDED = sorted(set(SHIPPED) - set(SERVED))
_ids = lambda p: os.path.relpath(p, ZOO_DIR)  # noqa: E731


def _meta(version_dir):
    with open(os.path.join(version_dir, "assets.extra", "model.json")) as f:
        return json.load(f)


def test_the_zoo_ships_models():
    names = {os.path.basename(os.path.dirname(v)) for v in SHIPPED}
    assert {"mnist_pixel_cnn", "mnist_row_lstm", "mnist_diagonal_bilstm",
            "mnist_multiscale_row_lstm", "mnist_gated_pixel_cnn", "cifar10_subset_pixel_cnn",
            "cifar10_subset_row_lstm"} <= names, names


@pytest.fixture(scope="module")
def zoo_tfds(tmp_path_factory):
    shared = data.find_shared_data()
    if shared is None:
        pytest.skip("no shared/data folder beside the checkout (or $PIXELRNN_SHARED_DATA): "
                    "the test images of the zoo's data sets are absent")
    return str(data.prepare_offline_tfds(shared, tmp_path_factory.mktemp("tfds")))


def _check_files(version_dir):
    meta = _meta(version_dir)
    assert variables_sha256(version_dir) == meta["variables_sha256"], "variables changed"
    for key in ("train_config", "train_steps", "test_nll_nats", "hardware", "dataset"):
        assert key in meta, key
    assert os.path.getsize(os.path.join(version_dir, "variables",
                                        "variables.data-00000-of-00001")) < 20e6
    return meta


def test_served_and_superseded_versions_partition_the_zoo():
    assert SERVED and set(SERVED) | set(SUPERSEDED) == set(SHIPPED)
    assert not set(SERVED) & set(SUPERSEDED)
    models_ = [os.path.dirname(v) for v in SERVED]
    assert len(set(models_)) == len(models_)  # one per model
    for old in SUPERSEDED:
        (newest,) = [v for v in SERVED if os.path.dirname(v) == os.path.dirname(old)]
        assert int(os.path.basename(old)) < int(os.path.basename(newest))
    assert newest_versions(["z/a/2", "z/a/10", "z/b/1"]) == ["z/a/10", "z/b/1"]  # numbers, not text


@pytest.mark.parametrize("version_dir", SUPERSEDED, ids=_ids)
def test_superseded_version_files_are_intact(version_dir):
    _check_files(version_dir)


@pytest.mark.slow
@pytest.mark.parametrize("version_dir", SUPERSEDED, ids=_ids)
def test_superseded_version_loads_and_scores_as_recorded(version_dir, zoo_tfds):
    _check_model(version_dir, zoo_tfds)


@pytest.mark.parametrize("version_dir", SERVED, ids=_ids)
def test_shipped_model(version_dir, zoo_tfds):
    _check_model(version_dir, zoo_tfds)


def _check_model(version_dir, zoo_tfds):
    meta = _check_files(version_dir)
    loaded = tf.saved_model.load(version_dir)
    assert set(loaded.signatures) == SIGNATURES
    dataset = meta["dataset"]
    images = data.load_split(dataset, "test", zoo_tfds, max_examples=CHECK_IMAGES)
    labels = (data.load_labels(dataset, "test", zoo_tfds, max_examples=CHECK_IMAGES)
              if meta.get("num_classes") else None)
    assert len(images) == meta["check_images"] == CHECK_IMAGES
    nll = saved_model_nll(loaded, images, labels)
    np.testing.assert_allclose(nll, meta["check_nll_nats"], rtol=1e-4)
    # The first 500 are a sample of the whole split: the same ballpark as the recorded NLL.
    assert abs(nll - meta["test_nll_nats"]) < 0.1 * meta["test_nll_nats"]
    args = {"seed": tf.constant(3, tf.int64)}
    if meta.get("num_classes"):
        args["labels"] = tf.constant([0, 1], tf.int32)
    else:
        args["num_samples"] = tf.constant(2, tf.int32)
    samples = loaded.signatures["sample"](**args)["images"].numpy()
    assert samples.shape == (2,) + tuple(meta["image_shape"])
    assert samples.max() < meta["num_levels"]


def test_a_run_started_from_another_counts_its_sources_steps_and_seconds(tmp_path):
    from export.publish_pretrained import training_record

    source, run = tmp_path / "source", tmp_path / "run"
    source.mkdir()
    run.mkdir()
    (source / "train_time.json").write_text(json.dumps({"seconds": 100.0}))
    evaluation = {"step": 30, "train_seconds": 7.5}
    assert training_record(str(run), evaluation) == dict(train_steps=30, train_seconds=7.5)
    # The source path recorded on the training machine; the run looks beside itself.
    (run / "init_from.json").write_text(json.dumps(dict(
        source="/elsewhere/source", checkpoint="/elsewhere/source/checkpoints/ckpt-40",
        step=40, epoch=2.5)))
    assert training_record(str(run), evaluation) == dict(
        train_steps=70, train_seconds=107.5, init_from=dict(run="source", step=40, epoch=2.5))
    (source / "train_time.json").unlink()  # unknown, not too small
    assert training_record(str(run), evaluation)["train_seconds"] is None


def test_cpu_time_is_published_whole_or_as_the_part_counted(tmp_path):
    from export.publish_pretrained import training_record

    source, run = tmp_path / "source", tmp_path / "run"
    source.mkdir()
    run.mkdir()
    (run / "train_time.json").write_text(json.dumps(
        {"seconds": 9.0, "cpu_seconds": 6.0, "cpu_from_step": 0}))
    assert training_record(str(run), {"step": 30})["train_cpu_seconds"] == 6.0
    (run / "train_time.json").write_text(json.dumps(
        {"seconds": 9.0, "cpu_seconds": 6.0, "cpu_from_step": 12}))
    record = training_record(str(run), {"step": 30})
    assert "train_cpu_seconds" not in record
    assert record["train_cpu_seconds_counted"] == dict(seconds=6.0, from_step=12)
    (run / "train_time.json").write_text(json.dumps({"seconds": 9.0}))  # before CPU was kept
    assert not {"train_cpu_seconds", "train_cpu_seconds_counted"} & set(
        training_record(str(run), {"step": 30}))
    # A run started from another: whole only if both counted every step.
    (run / "init_from.json").write_text(json.dumps(dict(
        source="/elsewhere/source", checkpoint="c", step=40, epoch=2.5)))
    evaluation = {"step": 30, "train_cpu_seconds": 5.0, "cpu_from_step": 0}
    (source / "train_time.json").write_text(json.dumps(
        {"seconds": 100.0, "cpu_seconds": 70.0, "cpu_from_step": 0}))
    assert training_record(str(run), evaluation)["train_cpu_seconds"] == 75.0
    (source / "train_time.json").write_text(json.dumps({"seconds": 100.0}))
    assert training_record(str(run), evaluation)["train_cpu_seconds_counted"] == dict(
        seconds=5.0, from_step=0)
