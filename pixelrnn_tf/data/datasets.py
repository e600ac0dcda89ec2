"""Datasets as uint8 arrays (N, H, W, C) of values in [0, num_levels), and deterministic batches.

Names: `digits` (default: scikit-learn's bundled 8x8 handwritten digits, 17 levels, no
network), the TFDS builders `binarized_mnist`, `mnist`, `cifar10`, `imagenet_resized/32x32`,
`imagenet_resized/64x64`, and the prefixes `folder:PATH` and `npz:PATH`.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np

DEFAULT_DATASET = "digits"
TFDS = {
    # name: (image shape, levels, splits)
    "binarized_mnist": ((28, 28, 1), 2, ("train", "validation", "test")),
    "mnist": ((28, 28, 1), 256, ("train", "test")),
    "cifar10": ((32, 32, 3), 256, ("train", "test")),
    "imagenet_resized/32x32": ((32, 32, 3), 256, ("train", "validation")),
    "imagenet_resized/64x64": ((64, 64, 3), 256, ("train", "validation")),
}
DATASET_NAMES = ("digits",) + tuple(TFDS)
PREFIXES = ("folder:", "npz:")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    image_shape: tuple
    num_levels: int
    splits: tuple


def _unknown(name):
    return ValueError(f"Unknown dataset {name!r}. Valid: {', '.join(DATASET_NAMES)}, or "
                      "folder:PATH (PNG/JPEG files) or npz:PATH (an 'images' uint8 array).")


def spec(name, image_size=None):
    """The DatasetSpec of `name` (for folder:/npz: this reads the data)."""
    if name == "digits":
        return DatasetSpec(name, (8, 8, 1), 17, ("train", "test"))
    if name in TFDS:
        shape, levels, splits = TFDS[name]
        return DatasetSpec(name, shape, levels, splits)
    if name.startswith(PREFIXES):
        images = load_split(name, "train", image_size=image_size)
        return DatasetSpec(name, tuple(images.shape[1:]), 256, ("train", "test"))
    raise _unknown(name)


def _check_split(name, split, splits):
    if split not in splits:
        raise ValueError(f"Dataset {name!r} has no split {split!r}; splits: {', '.join(splits)}.")


def _holdout(n, split):
    """Deterministic split of a single pool: every 10th image (index % 10 == 9) is 'test'."""
    test = np.arange(n) % 10 == 9
    return np.where(test if split == "test" else ~test)[0]


def load_split(name, split, data_dir=None, image_size=None, max_examples=None):
    """All images of a split (or the first `max_examples`), uint8 (N, H, W, C)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        _check_split(name, split, ("train", "test"))
        images = load_digits().images.astype(np.uint8)[..., None]  # values 0..16
        # The last 20% (359 images) is the test split, fixed by position.
        cut = int(round(len(images) * 0.8))
        images = images[:cut] if split == "train" else images[cut:]
    elif name in TFDS:
        _check_split(name, split, TFDS[name][2])
        images = _load_tfds(name, split, data_dir)
    elif name.startswith("npz:"):
        _check_split(name, split, ("train", "test"))
        images = _load_npz(name[len("npz:"):])
        images = images[_holdout(len(images), split)] if split == "test" else images
    elif name.startswith("folder:"):
        _check_split(name, split, ("train", "test"))
        images = _load_folder(name[len("folder:"):], image_size)
        images = images[_holdout(len(images), split)] if split == "test" else images
    else:
        raise _unknown(name)
    return images[:max_examples] if max_examples else images


def _load_npz(path):
    try:
        archive = np.load(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read npz file {path}: {e}")
    if "images" not in archive.files:
        raise ValueError(f"{path} has no 'images' array; it holds: {', '.join(archive.files)}.")
    images = archive["images"]
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: 'images' must be uint8, got {images.dtype}.")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"{path}: 'images' must be (N, H, W[, C]) with N >= 1, "
                         f"got shape {images.shape}.")
    return images


def _load_folder(path, image_size):
    """PNG/JPEG files under `path` (sorted, recursive), centre-cropped to a square and resized
    to image_size x image_size (default: the first image's size; then all must match). Grey
    images give 1 channel, colour 3 (an alpha channel is dropped)."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in Path(path).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"Folder {path} has no PNG or JPEG images.")
    arrays, first_mode = [], None
    for f in files:
        try:
            with Image.open(f) as img:
                img.load()
                mode = "L" if img.mode in ("L", "1", "I;16", "I", "LA") else "RGB"
                if first_mode is None:
                    first_mode = (mode, f)
                elif mode != first_mode[0]:
                    raise ValueError(f"Mixed channel counts: {first_mode[1]} is {first_mode[0]} "
                                     f"but {f} is {mode}.")
                img = img.convert(mode)
                w, h = img.size
                side = min(w, h)
                img = img.crop(((w - side) // 2, (h - side) // 2,
                                (w - side) // 2 + side, (h - side) // 2 + side))
                size = image_size or (arrays[0].shape[0] if arrays else side)
                img = img.resize((size, size), Image.BILINEAR)
                a = np.asarray(img, np.uint8)
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"Cannot read image {f}: {e}")
        arrays.append(a[..., None] if a.ndim == 2 else a)
    return np.stack(arrays)


def find_shared_data():
    """The project's shared/data folder (beside the checkout), or $PIXELRNN_SHARED_DATA."""
    env = os.environ.get("PIXELRNN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[2]
    candidates += [root.parent / "shared" / "data", root / "shared" / "data"]
    for c in candidates:
        if (c / "README.md").exists() and (c / "binarized_mnist").is_dir():
            return c
    return None


def prepare_offline_tfds(shared_data_dir, tfds_data_dir):
    """Lay shared/data into a TFDS data dir so the stock `mnist`, `binarized_mnist` and
    `cifar10` builders prepare with no network (the Python twin of
    shared/data/populate_tfds_downloads.sh)."""
    import gzip
    import shutil

    here, dd = Path(shared_data_dir), Path(tfds_data_dir)
    manual = dd / "downloads" / "manual"
    manual.mkdir(parents=True, exist_ok=True)

    def gunzip(src, dst):
        if not (dst.exists() and dst.stat().st_size):
            with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)

    for f in (here / "binarized_mnist").glob("*.amat.gz"):
        gunzip(f, manual / f.name[:-3])
    for f in (here / "mnist").glob("*-ubyte.gz"):
        if not (manual / f.name).exists():
            shutil.copy(f, manual / f.name)
    # TFDS treats a download as cached when the file and its .INFO exist, and reuses an
    # extraction folder named TAR_GZ.<download file name>.
    name = ("cs.toronto.edu_kriz_cifar-10-binaryxKOMUKG8XzocVTfyFVq51o-fJese2Nnd2j2ymlm8od0"
            ".tar.gz")
    (dd / "downloads" / "cifar10").mkdir(parents=True, exist_ok=True)
    (dd / "downloads" / "cifar10" / name).touch()
    info = dd / "downloads" / "cifar10" / (name + ".INFO")
    if not (info.exists() and info.stat().st_size):
        info.write_text("{}")
    bins = dd / "downloads" / "extracted" / f"TAR_GZ.{name}" / "cifar-10-batches-bin"
    bins.mkdir(parents=True, exist_ok=True)
    for f in (here / "cifar10_subset").glob("*.bin.gz"):
        gunzip(f, bins / f.name[:-3])
    if not (bins / "batches.meta.txt").exists():
        shutil.copy(here / "cifar10_subset" / "batches.meta.txt", bins / "batches.meta.txt")
    return dd


def _load_tfds(name, split, data_dir):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    ds = builder.as_dataset(split=split, batch_size=4096)
    parts = [np.asarray(batch["image"], np.uint8) for batch in tfds.as_numpy(ds)]
    return np.concatenate(parts)


def batch_indices(num_examples, batch_size, seed, step):
    """Indices of step `step`'s batch: positions step*B .. step*B+B-1 of an endless stream of
    epochs, epoch e being permutation(rng([seed, e])). A pure function of (seed, step), so a
    resumed run sees exactly the batches of an uninterrupted one."""
    start = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(start + len(out), num_examples)
        perm = np.random.default_rng([seed, epoch]).permutation(num_examples)
        out.extend(perm[offset:offset + batch_size - len(out)])
    return np.asarray(out, np.int64)


def eval_batches(images, batch_size):
    """The whole split in order; the last batch may be smaller."""
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]
