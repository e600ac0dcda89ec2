"""Data sets by name, each split loaded whole as a uint8 array (N, H, W, C) of values in
[0, num_levels).

Names:
  digits                  the default: scikit-learn's bundled 8x8 handwritten digits, values
                          0..16 (17 levels); needs no network. 'test' is the last 20% (359
                          images) by position, 'train' the first 1,438.
  binarized_mnist         TFDS, 28x28x1, 2 levels, train/validation/test.
  mnist                   TFDS, 28x28x1, 256 levels.
  cifar10                 TFDS, 32x32x3, 256 levels.
  imagenet_resized/32x32, imagenet_resized/64x64
                          TFDS, 256 levels, train/validation (need a network to prepare).
  folder:PATH             PNG/JPEG files under PATH; see local_files.py for cropping,
                          channels and the train/test rule.
  npz:PATH                the uint8 `images` array of an .npz file; same train/test rule.

TFDS data sets prepare on first use into `data_dir` (TFDS's default when None); offline, see
`prepare_offline_tfds`. Batching lives in batching.py and is re-exported here.
"""

import dataclasses

import numpy as np

from pixelrnn_tf.data import local_files, tfds_offline
from pixelrnn_tf.data.batching import batch_indices, eval_batches, train_batches  # noqa: F401
from pixelrnn_tf.data.tfds_offline import find_shared_data, prepare_offline_tfds  # noqa: F401

DEFAULT_DATASET = "digits"

_DIGITS_SHAPE, _DIGITS_LEVELS, _DIGITS_TEST_FRACTION = (8, 8, 1), 17, 0.2

# Classes of the labels a data set has (load_labels); 0: no labels.
_NUM_CLASSES = {"digits": 10, "mnist": 10, "cifar10": 10, "imagenet_resized/32x32": 1000,
                "imagenet_resized/64x64": 1000}

_TFDS = {
    # name: (image shape, levels, splits)
    "binarized_mnist": ((28, 28, 1), 2, ("train", "validation", "test")),
    "mnist": ((28, 28, 1), 256, ("train", "test")),
    "cifar10": ((32, 32, 3), 256, ("train", "test")),
    "imagenet_resized/32x32": ((32, 32, 3), 256, ("train", "validation")),
    "imagenet_resized/64x64": ((64, 64, 3), 256, ("train", "validation")),
}

DATASET_NAMES = (DEFAULT_DATASET,) + tuple(_TFDS)
PREFIXES = ("folder:", "npz:")
_FILE_LEVELS = 256


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    image_shape: tuple  # (H, W, C)
    num_levels: int
    splits: tuple
    num_classes: int = 0  # 0: the data set has no labels


def spec(name, image_size=None):
    """The DatasetSpec of `name`. For folder: and npz: this reads the files, since only they
    know their image shape."""
    _check_name(name)
    if name == DEFAULT_DATASET:
        _check_fixed_size(name, _DIGITS_SHAPE, image_size)
        return DatasetSpec(name, _DIGITS_SHAPE, _DIGITS_LEVELS, ("train", "test"),
                           _NUM_CLASSES[name])
    if name in _TFDS:
        shape, levels, splits = _TFDS[name]
        _check_fixed_size(name, shape, image_size)
        return DatasetSpec(name, shape, levels, splits, _NUM_CLASSES.get(name, 0))
    pool = _load_file_pool(name, image_size)
    return DatasetSpec(name, tuple(pool.shape[1:]), _FILE_LEVELS, local_files.SPLITS)


def load_split(name, split, data_dir=None, image_size=None, max_examples=None):
    """Split `split` of data set `name`, or its first `max_examples` images: uint8 (N, H, W, C).

    `data_dir` is the TFDS data dir (TFDS names only); `image_size` resizes folder: images.
    """
    _check_name(name)
    if max_examples is not None:
        max_examples = _check_max_examples(max_examples)
    if name == DEFAULT_DATASET:
        _check_split(name, split, ("train", "test"))
        _check_fixed_size(name, _DIGITS_SHAPE, image_size)
        images = _load_digits(split)[:max_examples]
    elif name in _TFDS:
        shape, levels, splits = _TFDS[name]
        _check_split(name, split, splits)
        _check_fixed_size(name, shape, image_size)
        images = tfds_offline.load_tfds(name, split, data_dir, shape, max_examples)
        _check_levels(name, images, levels)
    else:
        _check_split(name, split, local_files.SPLITS)
        pool = _load_file_pool(name, image_size)
        images = local_files.split_of_pool(pool, split)[:max_examples]
    return images


def load_labels(name, split, data_dir=None, max_examples=None):
    """The class labels (N,) int32 of `split`, in the order of `load_split`'s images."""
    _check_name(name)
    if not _NUM_CLASSES.get(name):
        labelled = ", ".join(sorted(_NUM_CLASSES))
        raise ValueError(f"Data set {name!r} has no class labels; labelled data sets: {labelled}.")
    if max_examples is not None:
        max_examples = _check_max_examples(max_examples)
    if name == DEFAULT_DATASET:
        _check_split(name, split, ("train", "test"))
        from sklearn.datasets import load_digits

        labels = load_digits().target.astype(np.int32)
        cut = int(round(len(labels) * (1 - _DIGITS_TEST_FRACTION)))
        labels = labels[:cut] if split == "train" else labels[cut:]
        return labels[:max_examples]
    shape, _, splits = _TFDS[name]
    _check_split(name, split, splits)
    return tfds_offline.load_tfds(name, split, data_dir, shape, max_examples, key="label")


def _load_digits(split):
    from sklearn.datasets import load_digits

    # load_digits holds exact integers 0..16 as float64, so the cast loses nothing.
    images = load_digits().images.astype(np.uint8)[..., None]
    cut = int(round(len(images) * (1 - _DIGITS_TEST_FRACTION)))
    return images[:cut] if split == "train" else images[cut:]


def _load_file_pool(name, image_size):
    prefix, path = name.split(":", 1)
    if not path:
        raise ValueError(f"Dataset {name!r} names no path; write {prefix}:PATH.")
    if prefix == "npz":
        if image_size is not None:
            raise ValueError(f"image_size applies to folder: data sets only, not {name!r} "
                             "(npz images are used at their stored size).")
        return local_files.load_npz(path)
    return local_files.load_folder(path, image_size)


def _check_name(name):
    if not isinstance(name, str) or not (name in DATASET_NAMES or name.startswith(PREFIXES)):
        raise ValueError(f"Unknown dataset {name!r}. Valid: {', '.join(DATASET_NAMES)}, or "
                         "folder:PATH (PNG/JPEG files) or npz:PATH (an 'images' uint8 array).")


def _check_split(name, split, splits):
    if split not in splits:
        raise ValueError(f"Dataset {name!r} has no split {split!r}; splits: {', '.join(splits)}.")


def _check_fixed_size(name, shape, image_size):
    # Silently ignoring a size the user asked for would train on images they did not expect.
    if image_size is not None and (image_size, image_size) != tuple(shape[:2]):
        raise ValueError(f"image_size={image_size!r} applies to folder: data sets only; "
                         f"{name!r} images are {shape[0]}x{shape[1]}.")


def _check_max_examples(max_examples):
    if isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer)) \
            or max_examples < 1:
        raise ValueError(f"max_examples must be a positive integer or None, got "
                         f"{max_examples!r}.")
    return int(max_examples)


def _check_levels(name, images, levels):
    # Guards against a TFDS version that rescales, e.g. binarized_mnist to 0/255.
    if images.size and int(images.max()) >= levels:
        raise ValueError(f"Dataset {name!r} gave a pixel value {int(images.max())}, outside "
                         f"its {levels} levels [0, {levels - 1}].")
