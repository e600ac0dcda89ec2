"""TensorFlow Datasets: loading a split into one array, and preparing offline from shared/data.

The project keeps real MNIST, binarized MNIST and a CIFAR-10 subset in `shared/data` beside
the checkout. `prepare_offline_tfds` lays them into a TFDS data dir the way TFDS's own
download step would have, so the stock builders prepare from them with no network. It is
the Python twin of shared/data/populate_tfds_downloads.sh.
"""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np

SHARED_DATA_ENV = "PIXELRNN_SHARED_DATA"

# TFDS names a download after its URL plus a hash; a file of this name with a `.INFO` beside
# it counts as already downloaded, and an extraction folder `TAR_GZ.<name>` as already
# extracted, so TFDS never touches the (absent) archive itself.
_CIFAR10_DOWNLOAD = ("cs.toronto.edu_kriz_cifar-10-binary"
                     "xKOMUKG8XzocVTfyFVq51o-fJese2Nnd2j2ymlm8od0.tar.gz")

# What prepare_offline_tfds needs in shared/data: folder -> file patterns (with how many).
_SHARED_FILES = {
    "binarized_mnist": ("*.amat.gz", 3),
    "mnist": ("*-ubyte.gz", 4),
    "cifar10_subset": ("*.bin.gz", 6),
}

# Reading a split in batches bounds TFDS's memory use; the array is filled in place.
_READ_BATCH = 4096


def find_shared_data():
    """The project's `shared/data` folder, or None when there is none (a user's clone).

    $PIXELRNN_SHARED_DATA wins when set (it must then be a folder); otherwise the checkout is
    `<root>/main` with `<root>/shared` beside it.
    """
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        if not Path(env).is_dir():
            raise FileNotFoundError(f"${SHARED_DATA_ENV}={env!r} is not a folder.")
        return Path(env)
    repo = Path(__file__).resolve().parents[2]  # pixelrnn_tf/data/tfds_offline.py -> repo
    candidate = repo.parent / "shared" / "data"
    if any((candidate / folder).is_dir() for folder in _SHARED_FILES):
        return candidate
    return None


def prepare_offline_tfds(shared_data_dir, tfds_data_dir):
    """Lay shared/data into `tfds_data_dir` so that `tfds.builder(name, data_dir=...)
    .download_and_prepare()` works offline for `mnist`, `binarized_mnist` and `cifar10`.

    Safe to call again: files already in place are kept. Returns `tfds_data_dir` as a Path.
    The cifar10 it gives is the shared subset (5,085 train / 1,017 test), not all of CIFAR-10.
    """
    shared, data_dir = Path(shared_data_dir), Path(tfds_data_dir)
    _check_shared_data(shared)
    manual = data_dir / "downloads" / "manual"
    manual.mkdir(parents=True, exist_ok=True)
    # binarized_mnist and mnist find their files by name in the manual folder; TFDS then
    # checks them against its registered SHA-256, which the shared files match exactly.
    for src in sorted((shared / "binarized_mnist").glob("*.amat.gz")):
        _gunzip_once(src, manual / src.name[:-len(".gz")])
    for src in sorted((shared / "mnist").glob("*-ubyte.gz")):
        _copy_once(src, manual / src.name)
    _lay_cifar10(shared / "cifar10_subset", data_dir / "downloads")
    return data_dir


def _check_shared_data(shared):
    problems = []
    for folder, (pattern, count) in _SHARED_FILES.items():
        found = len(list((shared / folder).glob(pattern)))
        if found != count:
            problems.append(f"{folder}/{pattern}: {count} files expected, {found} found")
    if not (shared / "cifar10_subset" / "batches.meta.txt").is_file():
        problems.append("cifar10_subset/batches.meta.txt: missing")
    if problems:
        raise FileNotFoundError(f"{shared} is not a complete shared/data folder: "
                                + "; ".join(problems) + ".")


def _lay_cifar10(subset, downloads):
    cached = downloads / "cifar10" / _CIFAR10_DOWNLOAD
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.touch(exist_ok=True)
    info = cached.with_name(cached.name + ".INFO")
    if not _non_empty(info):
        info.write_text("{}")
    bins = downloads / "extracted" / f"TAR_GZ.{_CIFAR10_DOWNLOAD}" / "cifar-10-batches-bin"
    bins.mkdir(parents=True, exist_ok=True)
    for src in sorted(subset.glob("*.bin.gz")):
        _gunzip_once(src, bins / src.name[:-len(".gz")])
    _copy_once(subset / "batches.meta.txt", bins / "batches.meta.txt")


def _non_empty(path):
    return path.is_file() and path.stat().st_size > 0


def _gunzip_once(src, dst):
    if not _non_empty(dst):
        # Through a temporary name, so that an interrupted run leaves no truncated file that
        # a later call would take as complete.
        partial = dst.with_name(dst.name + ".partial")
        with gzip.open(src, "rb") as fin, open(partial, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(partial, dst)


def _copy_once(src, dst):
    if not _non_empty(dst):
        partial = dst.with_name(dst.name + ".partial")
        shutil.copyfile(src, partial)
        os.replace(partial, dst)


# ----------------------------------------------------------------------------- loading

def load_tfds(name, split, data_dir, image_shape, max_examples=None, key="image"):
    """Split `split` of TFDS builder `name` (prepared on first use) as uint8 (N, H, W, C);
    key="label": its labels (N,) int32 instead."""
    import tensorflow_datasets as tfds

    builder = _prepare(tfds.builder(name, data_dir=data_dir), name)
    total = builder.info.splits[split].num_examples
    count = total if max_examples is None else min(max_examples, total)
    # TFDS rejects a slice past the end of a split, hence the clamp above.
    sub_split = split if count == total else f"{split}[:{count}]"
    if key == "label":
        out = np.empty((count,), np.int32)
    else:
        out = np.empty((count,) + tuple(image_shape), np.uint8)
    filled = 0
    dataset = builder.as_dataset(split=sub_split, batch_size=_READ_BATCH, shuffle_files=False)
    for batch in tfds.as_numpy(dataset):
        images = batch[key]
        out[filled:filled + len(images)] = images
        filled += len(images)
    if filled != count:
        raise RuntimeError(f"TFDS {name!r} split {split!r} yielded {filled} images but its "
                           f"metadata says {count}; the prepared files in "
                           f"{builder.data_dir} may be damaged.")
    return out


def _prepare(builder, name):
    import tensorflow_datasets as tfds

    try:
        builder.download_and_prepare()
    except Exception as e:  # TFDS fails offline in many ways; the fix is the same for all
        # Two runs started together both prepare; the loser's final rename finds the
        # winner's finished folder. That folder is complete (TFDS renames only at the end).
        if isinstance(e, FileExistsError):
            fresh = tfds.builder(name, data_dir=builder.data_dir_root)
            if fresh.is_prepared():
                return fresh
        raise RuntimeError(
            f"Could not prepare TFDS dataset {name!r} in {builder.data_dir}: "
            f"{type(e).__name__}: {e}\nWithout network, first run "
            "pixelrnn_tf.data.prepare_offline_tfds(SHARED_DATA, DATA_DIR) (mnist, "
            "binarized_mnist and cifar10 only) and pass the same data_dir.") from e
    return builder
