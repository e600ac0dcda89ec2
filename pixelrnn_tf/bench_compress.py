"""The compression benchmark and table (`python -m pixelrnn_tf.bench compress`).

For every pretrained model: encode and decode the test split of its data set with
`compression` (timed, the round trip checked bit for bit), the model's own NLL on the same
images, and the same images through general-purpose lossless formats: PNG (Pillow,
optimize=True; 1-bit for 2-level images), WebP lossless (Pillow, method 6), and gzip / bz2 /
lzma (maximum levels) of the raw pixel bytes (one uint8 per sub-pixel, all images in one
stream). bits/dim = 8 * bytes / (images * H * W * C).
"""

import bz2
import gzip
import io
import json
import lzma
import os
import time

import numpy as np

# Published numbers printed beside ours (bits/dim), as issue 14 lists them: binarized MNIST
# from BB-ANS (Townsend et al. 2019); CIFAR-10 (the FULL test set, so not comparable with
# our subset's) from LBB (Ho et al. 2019).
ANCHORS = {
    "binarized_mnist": [("PNG", 0.78), ("WebP", 0.44), ("bz2", 0.25), ("BB-ANS", 0.19)],
    "cifar10": [("PNG", 5.87), ("WebP", 4.61), ("FLIF", 4.37), ("LBB", 3.12)],
}


def png_bytes(image, num_levels):
    """Bytes of one image (H, W, C) as a PNG file: 1-bit for 2 levels, else 8-bit gray or
    RGB."""
    img = _pil(image, num_levels)
    if num_levels == 2:
        img = img.convert("1")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return len(buf.getvalue())


def webp_bytes(image, num_levels):
    buf = io.BytesIO()
    _pil(image, num_levels).save(buf, format="WEBP", lossless=True, quality=100, method=6)
    return len(buf.getvalue())


def _pil(image, num_levels):
    from PIL import Image

    values = np.round(image.astype(np.float64) * 255 / (num_levels - 1)).astype(np.uint8)
    return Image.fromarray(values[..., 0] if values.shape[-1] == 1 else values)


def baselines(images, num_levels):
    """bytes of the images in each general-purpose format."""
    raw = np.ascontiguousarray(images, np.uint8).tobytes()
    return {
        "PNG": sum(png_bytes(x, num_levels) for x in images),
        "WebP lossless": sum(webp_bytes(x, num_levels) for x in images),
        "gzip -9": len(gzip.compress(raw, 9, mtime=0)),
        "bz2 -9": len(bz2.compress(raw, 9)),
        "lzma -9e": len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)),
    }


def zoo_models(zoo_dir, only=()):
    """(name, version folder) of the highest version of each zoo model."""
    out = []
    for name in sorted(os.listdir(zoo_dir)):
        versions = sorted(int(v) for v in os.listdir(os.path.join(zoo_dir, name)) if v.isdigit())
        if versions and (not only or name in only):
            out.append((name, os.path.join(zoo_dir, name, str(versions[-1]))))
    return out


def run(zoo_dir, data_dir, max_images=None, batch_size=None, only=(), decode=True):
    """Print the speed lines and the markdown table; returns the rows."""
    from pixelrnn_tf import compression, data
    from pixelrnn_tf.bench_train import machine
    from pixelrnn_tf.training.restore import SAVED_MODEL_METADATA, restore_saved_model

    batch_size = batch_size or compression.DEFAULT_BATCH_SIZE
    rows, done_baselines = [], {}
    print(f"# compression, batch {batch_size}; {machine()}", flush=True)
    for name, path in zoo_models(zoo_dir, only):
        with open(os.path.join(path, SAVED_MODEL_METADATA)) as f:
            dataset = json.load(f)["dataset"]
        model, _ = restore_saved_model(path)
        images = data.load_split(dataset, "test", data_dir, max_examples=max_images)
        dims = images.size
        start = time.perf_counter()
        blob = compression.encode(model, images, batch_size=batch_size,
                                  source={"zoo": os.path.relpath(path, zoo_dir)})
        encode_s = time.perf_counter() - start
        decode_s = None
        if decode:
            start = time.perf_counter()
            decoded = compression.decode(blob, model).images
            decode_s = time.perf_counter() - start
            if not np.array_equal(decoded, images):
                raise AssertionError(f"{name}: the round trip changed pixels.")
        header, payload = compression.read_header(blob)
        nll = -sum(float(np.sum(model.log_prob(images[s:s + 500]).numpy().astype(np.float64)))
                   for s in range(0, len(images), 500))
        row = dict(model=name, dataset=dataset, images=len(images), bytes=len(blob),
                   header_bytes=len(blob) - len(payload),
                   bpd=8 * len(blob) / dims, payload_bpd=8 * len(payload) / dims,
                   nll_bpd=nll / (dims * np.log(2)), encode_images_s=len(images) / encode_s,
                   decode_images_s=decode_s and len(images) / decode_s)
        rows.append(row)
        speed = (f"decode {row['decode_images_s']:.1f} images/s (round trip exact)"
                 if decode else "decode not run")
        print(f"{name}: {len(images)} images, {len(blob)} bytes ({row['header_bytes']} header), "
              f"{row['bpd']:.4f} bits/dim (payload {row['payload_bpd']:.4f}), model NLL "
              f"{row['nll_bpd']:.4f}; encode {row['encode_images_s']:.1f} images/s, {speed}",
              flush=True)
        key = (dataset, len(images))
        if key not in done_baselines:
            done_baselines[key] = {k: 8 * v / dims
                                   for k, v in baselines(images, model.num_levels).items()}
    print()
    for (dataset, n), base in done_baselines.items():
        print(f"{dataset} test set, first {n} images (bits/dim):\n")
        print("| codec | bits/dim | model NLL bits/dim | overhead (file / NLL - 1) |")
        print("| --- | ---: | ---: | ---: |")
        for r in rows:
            if r["dataset"] == dataset and r["images"] == n:
                print(f"| this codec, {r['model']} | {r['bpd']:.4f} | {r['nll_bpd']:.4f} | "
                      f"{100 * (r['bpd'] / r['nll_bpd'] - 1):.2f}% (payload only "
                      f"{100 * (r['payload_bpd'] / r['nll_bpd'] - 1):.2f}%) |")
        for k, v in base.items():
            print(f"| {k} | {v:.4f} | | |")
        for k, v in ANCHORS.get(dataset, []):
            print(f"| published: {k} | {v:.2f} | | |")
        print()
    return rows
