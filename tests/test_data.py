"""Data sets, deterministic batches, and TFDS offline from ../shared/data (those tests skip
with a reason when that folder is absent, as in a user's clone)."""

import numpy as np
import pytest
from PIL import Image

from pixelrnn_tf import data

# ---------------------------------------------------------------------------- digits


def test_digits_spec_and_splits():
    from sklearn.datasets import load_digits

    s = data.spec("digits")
    assert s == data.DatasetSpec("digits", (8, 8, 1), 17, ("train", "test"), 10)
    assert data.DEFAULT_DATASET == "digits"
    train, test = data.load_split("digits", "train"), data.load_split("digits", "test")
    assert train.shape == (1438, 8, 8, 1) and test.shape == (359, 8, 8, 1)
    assert train.dtype == np.uint8 and test.dtype == np.uint8
    assert train.min() == 0 and train.max() == 16 and test.max() < 17
    # The split is by position: together the two are exactly the bundled data, in order.
    everything = load_digits().images[..., None]
    np.testing.assert_array_equal(np.concatenate([train, test]), everything)
    np.testing.assert_array_equal(data.load_split("digits", "test", max_examples=5), test[:5])


def test_unknown_names_splits_and_arguments():
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar100'\. Valid: digits, "
                                         r"binarized_mnist, mnist, cifar10, "
                                         r"imagenet_resized/32x32, imagenet_resized/64x64, "
                                         r"or folder:PATH .* or npz:PATH"):
        data.spec("cifar100")
    with pytest.raises(ValueError, match="Unknown dataset 'Digits'"):
        data.load_split("Digits", "train")
    with pytest.raises(ValueError, match="has no split 'validation'; splits: train, test"):
        data.load_split("digits", "validation")
    with pytest.raises(ValueError, match="has no split 'valid'; splits: train, validation, "
                                         "test"):
        data.load_split("binarized_mnist", "valid")  # checked before TFDS is touched
    with pytest.raises(ValueError, match=r"image_size=16 applies to folder: data sets only; "
                                         r"'cifar10' images are 32x32"):
        data.spec("cifar10", image_size=16)
    with pytest.raises(ValueError, match="max_examples must be a positive integer"):
        data.load_split("digits", "train", max_examples=0)
    with pytest.raises(ValueError, match="names no path; write npz:PATH"):
        data.spec("npz:")


def test_tfds_specs_are_known_without_preparing():
    assert data.spec("binarized_mnist") == data.DatasetSpec(
        "binarized_mnist", (28, 28, 1), 2, ("train", "validation", "test"))
    assert data.spec("cifar10").image_shape == (32, 32, 3)
    assert data.spec("imagenet_resized/64x64").splits == ("train", "validation")
    assert all(data.spec(n).num_levels == 256
               for n in ("mnist", "cifar10", "imagenet_resized/32x32"))


# --------------------------------------------------------------------------- batching


def test_batch_indices_follow_the_epoch_permutations():
    n, b, seed = 10, 4, 7
    stream = np.concatenate([data.batch_indices(n, b, seed, s) for s in range(10)])
    expected = np.concatenate([np.random.default_rng([seed, e]).permutation(n)
                               for e in range(4)])
    np.testing.assert_array_equal(stream, expected)
    # Step 2 covers positions 8..11: it straddles epochs 0 and 1.
    np.testing.assert_array_equal(data.batch_indices(n, b, seed, 2), expected[8:12])
    assert data.batch_indices(n, b, seed, 2).dtype == np.int64
    assert not np.array_equal(data.batch_indices(n, b, seed + 1, 0), stream[:b])


def test_batch_indices_with_a_batch_larger_than_the_data():
    batch = data.batch_indices(3, 8, 0, 1)  # positions 8..15 span epochs 2..5
    expected = np.concatenate([np.random.default_rng([0, e]).permutation(3)
                               for e in range(6)])
    np.testing.assert_array_equal(batch, expected[8:16])


@pytest.mark.parametrize("args, message", [
    ((0, 4, 0, 0), "num_examples must be an integer >= 1, got 0"),
    ((10, 0, 0, 0), "batch_size must be an integer >= 1, got 0"),
    ((10, 4, -1, 0), "seed must be an integer >= 0, got -1"),
    ((10, 4, 0, -2), "step must be an integer >= 0, got -2"),
    ((10, 4, 0, 1.5), "step must be an integer >= 0, got 1.5"),
])
def test_batch_indices_reject_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        data.batch_indices(*args)


def _indexed_images(n):
    """Images whose every pixel holds the image's own index, so a batch reveals its indices."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None],
                           (n, 2, 3, 1)).copy()


def test_train_batches_are_the_indexed_images_and_resume_exactly():
    images = _indexed_images(11)
    n, b, seed = len(images), 4, 3
    dataset = data.train_batches(images, b, seed, start_step=0)
    assert dataset.element_spec.shape.as_list() == [b, 2, 3, 1]
    assert dataset.element_spec.dtype.name == "uint8"
    from_zero = list(dataset.take(9).as_numpy_iterator())
    for step, batch in enumerate(from_zero):
        np.testing.assert_array_equal(batch, images[data.batch_indices(n, b, seed, step)])
    resumed = list(data.train_batches(images, b, seed, start_step=5).take(4)
                   .as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(resumed), np.stack(from_zero[5:]))


def test_eval_batches_cover_the_split_in_order():
    images = np.arange(10)
    assert [list(x) for x in data.eval_batches(images, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7],
                                                               [8, 9]]
    assert [list(x) for x in data.eval_batches(images, 10)] == [list(range(10))]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        data.eval_batches(images, 0)  # raised at the call, not at the first batch


# -------------------------------------------------------------------------------- npz:


def test_npz_good(tmp_path):
    path = tmp_path / "good.npz"
    pool = np.arange(25 * 9, dtype=np.uint8).reshape(25, 3, 3)
    np.savez(path, images=pool, labels=np.zeros(25))
    train = data.load_split(f"npz:{path}", "train")
    test = data.load_split(f"npz:{path}", "test")
    assert train.shape == (22, 3, 3, 1) and train.dtype == np.uint8
    held_out = [0, 10, 20]  # every 10th image is test, and is not trained on
    np.testing.assert_array_equal(test[..., 0], pool[held_out])
    np.testing.assert_array_equal(train[..., 0], np.delete(pool, held_out, axis=0))
    single = tmp_path / "single.npz"
    np.savez(single, images=pool[:1])
    with pytest.raises(ValueError, match="needs at least 2 images"):
        data.load_split(f"npz:{single}", "train")
    assert data.spec(f"npz:{path}") == data.DatasetSpec(f"npz:{path}", (3, 3, 1), 256,
                                                         ("train", "test"))
    colour = tmp_path / "colour.npz"
    np.savez(colour, images=np.zeros((4, 5, 5, 3), np.uint8))
    assert data.load_split(f"npz:{colour}", "train", max_examples=2).shape == (2, 5, 5, 3)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "nokey.npz", pixels=np.zeros((2, 3, 3), np.uint8), labels=np.zeros(2))
    with pytest.raises(ValueError, match="nokey.npz has no 'images' array; it holds: "
                                         "pixels, labels"):
        data.load_split(f"npz:{tmp_path / 'nokey.npz'}", "train")
    np.savez(tmp_path / "float.npz", images=np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="'images' must be uint8, got float32"):
        data.load_split(f"npz:{tmp_path / 'float.npz'}", "train")
    np.savez(tmp_path / "flat.npz", images=np.zeros((2, 9), np.uint8))
    with pytest.raises(ValueError, match=r"must have shape \(N, H, W\) or \(N, H, W, C\)"):
        data.load_split(f"npz:{tmp_path / 'flat.npz'}", "train")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Cannot read npz file .*corrupt.npz"):
        data.load_split(f"npz:{tmp_path / 'corrupt.npz'}", "train")
    np.save(tmp_path / "single.npy", np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="single .npy array, not an .npz archive"):
        data.load_split(f"npz:{tmp_path / 'single.npy'}", "train")
    with pytest.raises(FileNotFoundError, match="missing.npz does not exist"):
        data.load_split(f"npz:{tmp_path / 'missing.npz'}", "train")
    np.savez(tmp_path / "ok.npz", images=np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="image_size applies to folder: data sets only"):
        data.load_split(f"npz:{tmp_path / 'ok.npz'}", "train", image_size=3)


# ----------------------------------------------------------------------------- folder:


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _random_rgb(rng, height, width):
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _pool(name, **kwargs):
    """The whole folder:/npz: pool in its order, from its test (every 10th) and train splits."""
    test = data.load_split(name, "test", **kwargs)
    train = data.load_split(name, "train", **kwargs)
    pool = np.empty((len(test) + len(train),) + train.shape[1:], train.dtype)
    held_out = np.arange(len(pool)) % 10 == 0
    pool[held_out], pool[~held_out] = test, train
    return pool


def test_folder_resizes_every_image(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [(20, 12), (9, 9), (30, 40), (7, 50)]
    for i, (h, w) in enumerate(sizes):
        _save(tmp_path / f"img{i}.png", _random_rgb(rng, h, w))
    _save(tmp_path / "sub" / "deeper.jpg", _random_rgb(rng, 16, 16))  # recursive, JPEG
    rgba = np.dstack([_random_rgb(rng, 6, 6), np.full((6, 6), 7, np.uint8)])
    _save(tmp_path / "alpha.png", rgba)  # the alpha channel is dropped
    (tmp_path / "notes.txt").write_text("not an image, ignored")
    name = f"folder:{tmp_path}"
    images = _pool(name, image_size=6)
    assert images.shape == (6, 6, 6, 3) and images.dtype == np.uint8
    # Sorted path order puts alpha.png first; at its own size it is not resampled.
    np.testing.assert_array_equal(images[0], rgba[..., :3])
    assert data.load_split(name, "test", image_size=6).shape == (1, 6, 6, 3)
    assert data.spec(name, image_size=6) == data.DatasetSpec(name, (6, 6, 3), 256,
                                                             ("train", "test"))


def test_folder_crops_the_centre_square(tmp_path):
    # 4 rows x 8 columns: 2 red columns, 4 grey, 2 blue. The centre square is all grey.
    picture = np.zeros((4, 8, 3), np.uint8)
    picture[:, :2, 0], picture[:, 2:6], picture[:, 6:, 2] = 255, 128, 255
    _save(tmp_path / "wide.png", picture)
    _save(tmp_path / "tall.png", picture.transpose(1, 0, 2).copy())
    images = _pool(f"folder:{tmp_path}")  # no image_size: no resizing
    assert images.shape == (2, 4, 4, 3)
    assert (images == 128).all()


def test_folder_grey_images_have_one_channel(tmp_path):
    for i in range(3):
        _save(tmp_path / f"g{i}.png", np.full((10, 10), 40 * i, np.uint8))
    images = _pool(f"folder:{tmp_path}", image_size=5)
    assert images.shape == (3, 5, 5, 1)
    assert [int(x.mean()) for x in images] == [0, 40, 80]


def test_folder_corrupt_file_is_named(tmp_path):
    _save(tmp_path / "fine.png", np.zeros((5, 5, 3), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="Cannot read image .*broken.png"):
        data.load_split(f"folder:{tmp_path}", "train", image_size=6)


def test_folder_truncated_file_is_named(tmp_path):
    _save(tmp_path / "whole.png", np.random.default_rng(1).integers(0, 256, (40, 40, 3),
                                                                   dtype=np.uint8))
    content = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(content[:len(content) // 2])
    with pytest.raises(ValueError, match="Cannot read image .*cut.png"):
        data.load_split(f"folder:{tmp_path}", "train")


def test_folder_empty_or_missing(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="has no PNG or JPEG images"):
        data.load_split(f"folder:{tmp_path / 'empty'}", "train")
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        data.spec(f"folder:{tmp_path / 'nowhere'}")


def test_folder_mixed_channels_names_two_files(tmp_path):
    _save(tmp_path / "a_colour.png", np.zeros((5, 5, 3), np.uint8))
    _save(tmp_path / "b_colour.png", np.zeros((5, 5, 3), np.uint8))
    _save(tmp_path / "c_grey.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match=r"Mixed channel counts: .*a_colour.png has 3 "
                                         r"channel\(s\) \(colour\) but .*c_grey.png has 1 "
                                         r"\(grey\)"):
        data.load_split(f"folder:{tmp_path}", "train", image_size=5)


def test_folder_sizes_must_agree_without_image_size(tmp_path):
    _save(tmp_path / "big.png", np.zeros((9, 9), np.uint8))
    _save(tmp_path / "small.png", np.zeros((5, 7), np.uint8))
    with pytest.raises(ValueError, match=r"big.png is 9x9 but .*small.png is 5x5; pass "
                                         r"image_size"):
        data.load_split(f"folder:{tmp_path}", "train")
    assert data.load_split(f"folder:{tmp_path}", "train", image_size=3).shape == (1, 3, 3, 1)


def test_folder_rejects_16_bit_images(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(ValueError, match="deep.png has PIL mode 'I;16'.*8-bit"):
        data.load_split(f"folder:{tmp_path}", "train")


# ------------------------------------------------------------------ TFDS, offline


def test_find_shared_data_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELRNN_SHARED_DATA", str(tmp_path))
    assert data.find_shared_data() == tmp_path
    monkeypatch.setenv("PIXELRNN_SHARED_DATA", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="PIXELRNN_SHARED_DATA=.*absent.* is not a "
                                                "folder"):
        data.find_shared_data()


def test_prepare_offline_tfds_names_what_is_missing(tmp_path):
    (tmp_path / "mnist").mkdir()
    with pytest.raises(FileNotFoundError, match=r"not a complete shared/data folder: "
                                                r"binarized_mnist/\*\.amat\.gz: 3 files "
                                                r"expected, 0 found"):
        data.prepare_offline_tfds(tmp_path, tmp_path / "tfds")


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
    shared = data.find_shared_data()
    if shared is None:
        pytest.skip("no shared/data folder beside the checkout (or $PIXELRNN_SHARED_DATA): "
                    "the offline TFDS files are absent, as in a user's clone")
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    data_dir = data.prepare_offline_tfds(shared, tmp_path_factory.mktemp("tfds"))
    # Laying the files twice must keep them (the second call is what a rerun does).
    assert data.prepare_offline_tfds(shared, data_dir) == data_dir
    return str(data_dir)


def test_tfds_binarized_mnist_offline(tfds_dir):
    splits = {s: data.load_split("binarized_mnist", s, tfds_dir)
              for s in ("train", "validation", "test")}
    assert {s: a.shape for s, a in splits.items()} == {
        "train": (50000, 28, 28, 1), "validation": (10000, 28, 28, 1),
        "test": (10000, 28, 28, 1)}
    test = splits["test"]
    assert test.dtype == np.uint8 and set(np.unique(test)) == {0, 1}
    assert 0.1 < test.mean() < 0.2  # MNIST strokes cover ~13% of the pixels
    # A second load reads the prepared files in the same order.
    np.testing.assert_array_equal(
        data.load_split("binarized_mnist", "test", tfds_dir, max_examples=100), test[:100])


def test_tfds_cifar10_subset_offline(tfds_dir):
    train = data.load_split("cifar10", "train", tfds_dir)
    test = data.load_split("cifar10", "test", tfds_dir)
    assert train.shape == (5085, 32, 32, 3) and test.shape == (1017, 32, 32, 3)
    assert train.dtype == np.uint8 and train.max() > 250 and 60 < train.mean() < 190
    # max_examples past the end of the split gives the whole split, not a TFDS error.
    np.testing.assert_array_equal(data.load_split("cifar10", "test", tfds_dir,
                                                  max_examples=5000), test)
    np.testing.assert_array_equal(data.load_split("cifar10", "test", tfds_dir,
                                                  max_examples=7), test[:7])
    labels = data.load_labels("cifar10", "test", tfds_dir)
    assert labels.shape == (1017,) and labels.dtype == np.int32
    assert set(np.unique(labels)) == set(range(10))
    np.testing.assert_array_equal(data.load_labels("cifar10", "test", tfds_dir, 7), labels[:7])


def test_labels_follow_the_images():
    from sklearn.datasets import load_digits

    train, test = data.load_labels("digits", "train"), data.load_labels("digits", "test")
    np.testing.assert_array_equal(np.concatenate([train, test]), load_digits().target)
    assert len(test) == len(data.load_split("digits", "test"))
    with pytest.raises(ValueError, match="'binarized_mnist' has no class labels"):
        data.load_labels("binarized_mnist", "test")
    assert data.spec("binarized_mnist").num_classes == 0


@pytest.mark.slow
def test_tfds_mnist_offline(tfds_dir):
    test = data.load_split("mnist", "test", tfds_dir)
    assert test.shape == (10000, 28, 28, 1) and test.max() == 255


def test_tfds_failure_names_the_dataset_and_the_fix(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    class Offline:
        data_dir = str(tmp_path)

        def download_and_prepare(self):
            raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "builder", lambda name, data_dir=None: Offline())
    with pytest.raises(RuntimeError, match=r"(?s)Could not prepare TFDS dataset "
                                           r"'imagenet_resized/32x32'.*ConnectionError: no "
                                           r"network.*prepare_offline_tfds"):
        data.load_split("imagenet_resized/32x32", "validation", str(tmp_path))


def test_tfds_prepare_race_lost_reads_the_winners_files(tfds_dir, tmp_path, monkeypatch):
    # Two trainings started together on a fresh data_dir both prepare; the loser's final
    # rename raises FileExistsError. It must load what the winner prepared, not fail.
    import tensorflow_datasets as tfds

    winner = data.load_split("cifar10", "test", tfds_dir, max_examples=7)
    real_builder, calls = tfds.builder, []

    class Loser:
        def __init__(self, data_dir):
            self.data_dir = self.data_dir_root = data_dir

        def download_and_prepare(self):
            raise FileExistsError("Cannot rename incomplete.X. Destination already exists.")

    def builder(name, data_dir=None):
        calls.append(data_dir)
        return Loser(data_dir) if len(calls) == 1 else real_builder(name, data_dir=data_dir)

    monkeypatch.setattr(tfds, "builder", builder)
    got = data.load_split("cifar10", "test", tfds_dir, max_examples=7)
    assert len(calls) == 2
    np.testing.assert_array_equal(got, winner)
    # With nothing prepared by anyone, the same error is still an error that names the fix.
    calls.clear()
    with pytest.raises(RuntimeError, match=r"(?s)FileExistsError.*prepare_offline_tfds"):
        data.load_split("cifar10", "test", str(tmp_path / "empty"))
