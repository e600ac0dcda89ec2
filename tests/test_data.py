"""Datasets: the embedded default, npz:, folder:, deterministic batches, and TFDS offline from
../shared/data (skipped with a reason when that folder is absent, as in a user's clone)."""

import numpy as np
import pytest
from PIL import Image

from pixelrnn_tf import data


def test_digits_default_is_offline_and_well_formed():
    s = data.spec("digits")
    assert (s.image_shape, s.num_levels) == ((8, 8, 1), 17)
    train, test = data.load_split("digits", "train"), data.load_split("digits", "test")
    assert train.shape == (1438, 8, 8, 1) and test.shape == (359, 8, 8, 1)
    assert train.dtype == np.uint8 and train.max() == 16 and test.min() == 0
    assert data.load_split("digits", "test", max_examples=5).shape[0] == 5


def test_batches_are_a_function_of_seed_and_step():
    n, b = 10, 4
    stream = np.concatenate([data.batch_indices(n, b, 7, s) for s in range(10)])
    # Every epoch is a permutation of all examples (batches may straddle epochs).
    for e in range(4):
        assert sorted(stream[e * n:(e + 1) * n]) == list(range(n))
    np.testing.assert_array_equal(data.batch_indices(n, b, 7, 6), stream[24:28])
    assert not np.array_equal(data.batch_indices(n, b, 8, 0), stream[:4])


def test_eval_batches_cover_the_split_in_order():
    images = np.arange(10)
    assert [list(x) for x in data.eval_batches(images, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_npz(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, images=np.arange(20 * 9, dtype=np.uint8).reshape(20, 3, 3))
    train = data.load_split(f"npz:{good}", "train")
    assert train.shape == (20, 3, 3, 1)
    assert data.load_split(f"npz:{good}", "test").shape == (2, 3, 3, 1)
    assert data.spec(f"npz:{good}").num_levels == 256
    np.savez(tmp_path / "nokey.npz", pixels=np.zeros((2, 3, 3), np.uint8), labels=np.zeros(2))
    with pytest.raises(ValueError, match="no 'images' array; it holds: pixels, labels"):
        data.load_split(f"npz:{tmp_path / 'nokey.npz'}", "train")
    np.savez(tmp_path / "float.npz", images=np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="must be uint8, got float32"):
        data.load_split(f"npz:{tmp_path / 'float.npz'}", "train")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Cannot read npz file"):
        data.load_split(f"npz:{tmp_path / 'corrupt.npz'}", "train")


def test_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i, size in enumerate([(20, 12), (9, 9), (30, 40)]):
        Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(
            tmp_path / f"img{i}.png")
    images = data.load_split(f"folder:{tmp_path}", "train", image_size=6)
    assert images.shape == (3, 6, 6, 3) and images.dtype == np.uint8
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="Cannot read image .*broken.png"):
        data.load_split(f"folder:{tmp_path}", "train", image_size=6)
    (tmp_path / "broken.png").unlink()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match="Mixed channel counts: .*grey.png is L"):
        data.load_split(f"folder:{tmp_path}", "train", image_size=6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no PNG or JPEG images"):
        data.load_split(f"folder:{tmp_path / 'empty'}", "train")


def test_unknown_names_and_splits():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar100'. Valid: digits, "
                                         "binarized_mnist, mnist, cifar10"):
        data.spec("cifar100")
    with pytest.raises(ValueError, match="has no split 'validation'; splits: train, test"):
        data.load_split("digits", "validation")


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    shared = data.find_shared_data()
    if shared is None:
        pytest.skip("../shared/data not found (set PIXELRNN_SHARED_DATA): no offline TFDS files")
    return data.prepare_offline_tfds(shared, tmp_path_factory.mktemp("tfds"))


def test_tfds_binarized_mnist_offline(tfds_dir):
    sizes = {s: data.load_split("binarized_mnist", s, str(tfds_dir)).shape
             for s in ("train", "validation", "test")}
    assert sizes == {"train": (50000, 28, 28, 1), "validation": (10000, 28, 28, 1),
                     "test": (10000, 28, 28, 1)}
    test = data.load_split("binarized_mnist", "test", str(tfds_dir))
    assert set(np.unique(test)) == {0, 1}
    assert 0.1 < test.mean() < 0.2  # MNIST strokes cover ~13% of the pixels


def test_tfds_cifar10_subset_offline(tfds_dir):
    train = data.load_split("cifar10", "train", str(tfds_dir))
    test = data.load_split("cifar10", "test", str(tfds_dir))
    assert train.shape == (5085, 32, 32, 3) and test.shape == (1017, 32, 32, 3)
    assert train.dtype == np.uint8 and train.max() > 250 and 60 < train.mean() < 190
