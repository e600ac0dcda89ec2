"""User data sets from local files: `folder:PATH` (PNG/JPEG images) and `npz:PATH`.

Both give one pool of images with 256 levels. Split rule, the same for both: 'test' is every
10th image of the pool (positions 0, 10, 20, ... in sorted file order or array order) and
'train' is all the others, so the test NLL is measured on held-out images.
"""

import zipfile
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TEST_EVERY = 10

# PIL modes by the channel count they load as. Alpha is dropped (LA -> L, RGBA -> RGB): a
# PixelRNN models the visible pixels, and a transparent PNG is usually an RGB picture.
# Palette images (P, PA) count as colour, since their palette may hold any colour.
_GREY_MODES = {"1", "L", "LA", "La"}
_COLOUR_MODES = {"RGB", "RGBA", "RGBa", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}


def split_of_pool(pool, split):
    """The images of `split` ('train' or 'test') from a folder's or npz file's pool."""
    if len(pool) < 2:
        raise ValueError(f"A folder:/npz: data set needs at least 2 images (one is held out "
                         f"for 'test'), got {len(pool)}.")
    held_out = np.arange(len(pool)) % TEST_EVERY == 0
    return pool[held_out] if split == "test" else pool[~held_out]


# ----------------------------------------------------------------------------------- npz:

def load_npz(path):
    """The `images` array of an .npz file, uint8 (N, H, W, C); (N, H, W) gains C = 1."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file {path} does not exist.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"Cannot read npz file {path}: {e}") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single .npy array, not an .npz archive; save it with "
                         "np.savez(path, images=array).")
    with archive:
        if "images" not in archive.files:
            held = ", ".join(archive.files) or "nothing"
            raise ValueError(f"{path} has no 'images' array; it holds: {held}.")
        try:
            images = archive["images"]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"Cannot read the 'images' array of npz file {path}: {e}") from e
    return _check_npz_images(path, images)


def _check_npz_images(path, images):
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: 'images' must be uint8, got {images.dtype} (quantize to "
                         "0..255 first).")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0 or 0 in images.shape:
        raise ValueError(f"{path}: 'images' must have shape (N, H, W) or (N, H, W, C) with no "
                         f"zero-size axis, got {images.shape}.")
    return images


# -------------------------------------------------------------------------------- folder:

def load_folder(path, image_size=None):
    """All PNG/JPEG files under `path` (recursive, sorted by path), uint8 (N, S, S, C).

    Each image is centre-cropped to a square, then resized to image_size x image_size with
    PIL (bicubic). Without `image_size` nothing is resized and all squares must have the same
    size. Grey images give C = 1, colour C = 3; mixing the two is an error.
    """
    if image_size is not None:
        image_size = _check_image_size(image_size)
    files = _image_files(Path(path))
    arrays = [_read_image(f, image_size) for f in files]
    _check_all_alike(files, arrays)
    return np.stack(arrays)


def _check_image_size(image_size):
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}.")
    return int(image_size)


def _image_files(folder):
    if not folder.exists():
        raise FileNotFoundError(f"Image folder {folder} does not exist.")
    if not folder.is_dir():
        raise NotADirectoryError(f"folder: dataset {folder} is not a folder.")
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"Folder {folder} has no PNG or JPEG images (looked for "
                         f"{', '.join(IMAGE_SUFFIXES)} files, recursively).")
    return files


def _read_image(file, image_size):
    """One file as uint8 (S, S, C): decoded, alpha dropped, centre-cropped, resized."""
    from PIL import Image

    img = _decode(file)
    img = _centre_square(img.convert(_target_mode(file, img.mode)))
    if image_size is not None and img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
    array = np.asarray(img, np.uint8)
    return array[..., None] if array.ndim == 2 else array


def _decode(file):
    from PIL import Image

    try:
        with Image.open(file) as img:
            img.load()  # decode now: Image.open only reads the header, errors come later
            return img.copy()  # closing the file would destroy the decoded pixels
    except Exception as e:  # PIL raises many types for broken files; all mean "unreadable"
        raise ValueError(f"Cannot read image {file}: {type(e).__name__}: {e}") from e


def _target_mode(file, mode):
    if mode in _GREY_MODES:
        return "L"
    if mode in _COLOUR_MODES:
        return "RGB"
    # 16-bit and float images would need a choice of scaling that belongs to the user.
    raise ValueError(f"Image {file} has PIL mode {mode!r}, which is not 8-bit grey or colour; "
                     "save it as 8-bit L or RGB.")


def _centre_square(img):
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return img.crop((left, top, left + side, top + side))


def _check_all_alike(files, arrays):
    """Errors naming the first file and a file that differs from it."""
    first_file, first = files[0], arrays[0]
    for file, array in zip(files, arrays):
        if array.shape[2] != first.shape[2]:
            raise ValueError(
                f"Mixed channel counts: {first_file} has {first.shape[2]} channel(s) "
                f"({_mode_name(first)}) but {file} has {array.shape[2]} ({_mode_name(array)}); "
                "convert the folder to all grey or all colour.")
        if array.shape != first.shape:
            raise ValueError(
                f"Images differ in size after centre-cropping: {first_file} is "
                f"{first.shape[0]}x{first.shape[1]} but {file} is "
                f"{array.shape[0]}x{array.shape[1]}; pass image_size to resize them all.")


def _mode_name(array):
    return "grey" if array.shape[2] == 1 else "colour"
