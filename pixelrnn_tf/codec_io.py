"""The files of the compress / decompress commands: an `.npz` of `images` (N, H, W[, C]) uint8
(and `labels` for a class-conditional model), or a folder of PNG files.

PNG values map to a model's levels as level k <-> 8-bit value round(k * 255 / (L - 1)): a
2-level model reads 0 / 255 (or a 1-bit PNG) as 0 / 1 and writes 0 / 255; a 256-level model
reads the values as they are. Any other value is refused (it would not survive the round
trip). Grayscale PNGs are for 1-channel models, RGB (or palette) for 3-channel ones.
"""

import os

import numpy as np


def count(n, noun):
    """'1 image', '3 images': the CLIs' summary lines."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def level_values(num_levels):
    """The 8-bit PNG value of each level."""
    return np.round(np.arange(num_levels) * 255.0 / (num_levels - 1)).astype(np.uint8)


def is_npz(path):
    return path.lower().endswith(".npz")


def read_npz(path):
    """(images, labels or None) of an .npz file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--input {path} does not exist.")
    with np.load(path) as f:
        if "images" not in f:
            raise ValueError(f"{path} has no `images` array (it has {', '.join(f.files)}).")
        return f["images"], (f["labels"] if "labels" in f else None)


def png_names(folder):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--input {folder} is neither an .npz file nor a folder of PNGs.")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".png"))
    if not names:
        raise ValueError(f"--input {folder} holds no .png files.")
    return names


def read_pngs(folder, num_levels, channels):
    """(images (N, H, W, C) levels uint8, names) of the PNG files of `folder`, sorted."""
    from PIL import Image

    names = png_names(folder)
    values = level_values(num_levels)
    to_level = np.full(256, -1, np.int16)
    to_level[values] = np.arange(num_levels)
    images = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as img:
            mode = img.mode
            if mode in ("1", "L") and channels == 1:
                img = img.convert("L")
            elif mode in ("RGB", "P") and channels == 3:
                img = img.convert("RGB")
            else:
                want = "grayscale" if channels == 1 else "RGB"
                raise ValueError(f"{name}: PNG mode {mode!r}, the model takes {want} images "
                                 "(alpha and 16-bit PNGs are not supported).")
            pixels = np.asarray(img)
        levels = to_level[pixels]
        if levels.min() < 0:
            bad = sorted(set(pixels[levels < 0].tolist()))[:5]
            raise ValueError(f"{name}: PNG values {bad} are not among the {num_levels} levels' "
                             f"values ({_describe(values)}).")
        images.append(levels.reshape(levels.shape[:2] + (channels,)).astype(np.uint8))
    shapes = {x.shape for x in images}
    if len(shapes) > 1:
        raise ValueError(f"The PNGs of {folder} differ in size: {sorted(shapes)}.")
    return np.stack(images), names


def _describe(values):
    return ", ".join(map(str, values)) if len(values) <= 4 else f"{values[0]}, {values[1]}, ..."


def check_output(path, overwrite):
    """FileExistsError unless `path` is free or --overwrite was given."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"--output {path} exists; pass --overwrite to replace it.")


def write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_npz(path, images, labels=None):
    arrays = {"images": images}
    if labels is not None:
        arrays["labels"] = labels
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def write_pngs(folder, images, num_levels, names=None):
    """One PNG per image (8-bit gray or RGB, level k -> level_values[k])."""
    from PIL import Image

    names = names or [f"{k:06d}.png" for k in range(len(images))]
    os.makedirs(folder, exist_ok=True)
    values = level_values(num_levels)
    for name, image in zip(names, images):
        if name != os.path.basename(name) or name in (".", ".."):
            raise ValueError(f"Refusing to write the PNG name {name!r}: not a plain file name.")
        pixels = values[image]
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
            os.path.join(folder, name))
    return names
