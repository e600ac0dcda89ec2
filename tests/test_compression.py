"""The lossless codec (pixelrnn_tf.compression): exact round trips for every registered model,
a rate at the model's NLL, files that fail loudly with the cause named, and the CLIs on a
shipped pretrained model."""

import hashlib
import json
import os
import subprocess
import sys
import zlib

import keras
import numpy as np
import pytest

import models
from models.configs.tiny import tiny_config
from pixelrnn_tf import codec_io, compression
from pixelrnn_tf.training import restore
from tests.conftest import build_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "models", "pretrained")


def _images(n, shape, levels, seed=0):
    """All-zero, all-max, and noise images (and constant images of every level)."""
    rng = np.random.default_rng(seed)
    fixed = [np.full(shape, v) for v in range(levels)]
    noise = rng.integers(0, levels, size=(n - len(fixed),) + shape)
    return np.concatenate([np.stack(fixed), noise]).astype(np.uint8)


def _nll_bits(model, images, labels=None):
    cond = [] if labels is None else [labels]
    return -float(np.sum(model.log_prob(images, *cond).numpy().astype(np.float64))) / np.log(2)


@pytest.mark.parametrize("name", models.names())
def test_round_trip_is_exact_for_every_model(name):
    """192 images (3 channels, 4 levels) in chunks of 64 through every model family's own
    sampling stages; the payload costs the model's NLL. (One batch size, so one trace per
    function; a ragged last chunk: test_chunk_size_and_a_ragged_last_chunk.)"""
    shape, levels = (3, 3, 3), 4
    model = build_tiny(name, shape, levels)
    images = _images(192, shape, levels)
    data = compression.encode(model, images, batch_size=64)
    decoded = compression.decode(data, model)
    np.testing.assert_array_equal(decoded.images, images)
    assert decoded.images.dtype == np.uint8 and decoded.conditioning is None
    _, payload = compression.read_header(data)
    nll = _nll_bits(model, images)
    # The range coder's rounding and flush cost a few words; the quantizer's floor of 2^-24
    # per level can only lower the cost of very unlikely values.
    assert abs(8 * len(payload) - nll) < 0.01 * nll + 64


def test_conditional_model_stores_its_labels():
    shape, levels = (3, 3, 1), 2
    keras.utils.set_random_seed(0)
    model = models.build("gated_pixel_cnn", num_classes=3,
                         **tiny_config("gated_pixel_cnn", shape, levels))
    model.output_conv_2.kernel.assign(model.output_conv_2.kernel * 8.0)  # labels matter more
    images = _images(128, shape, levels)
    labels = np.arange(128, dtype=np.int32) % 3
    data = compression.encode(model, images, labels, batch_size=64)
    decoded = compression.decode(data, model)
    np.testing.assert_array_equal(decoded.images, images)
    np.testing.assert_array_equal(decoded.conditioning, labels)
    other = compression.encode(model, images, (labels + 1) % 3, batch_size=64)
    assert compression.read_header(other)[1] != compression.read_header(data)[1]
    with pytest.raises(ValueError, match="conditional: give its labels"):
        compression.encode(model, images)


def test_chunk_size_and_a_ragged_last_chunk():
    model = build_tiny("row_lstm", (4, 4, 1), 2)
    images = _images(20, (4, 4, 1), 2)
    for batch in (7, 20):
        data = compression.encode(model, images, batch_size=batch)
        assert compression.read_header(data)[0]["batch_size"] == batch
        np.testing.assert_array_equal(compression.decode(data, model).images, images)


# ---- A file that fails loudly ---------------------------------------------------------

@pytest.fixture(scope="module")
def coded():
    model = build_tiny("pixel_cnn", (4, 4, 1), 2)
    images = _images(30, (4, 4, 1), 2)
    return model, images, compression.encode(model, images, batch_size=16)


def _repack(data, **changes):
    """`data` with header fields changed and a VALID header checksum (so only the changed
    field can be what the decoder objects to)."""
    header, payload = compression.read_header(data)
    header.update(changes)
    packed = zlib.compress(json.dumps(header).encode())
    return (compression.MAGIC + compression._PREFIX.pack(compression.FORMAT_VERSION,
                                                         len(packed))
            + packed + hashlib.sha256(packed).digest() + payload)


def test_an_intact_file_decodes(coded):
    model, images, data = coded
    np.testing.assert_array_equal(compression.decode(data, model).images, images)
    np.testing.assert_array_equal(compression.decode(_repack(data), model).images, images)


def test_bad_magic(coded):
    model, _, data = coded
    with pytest.raises(compression.NotCompressedFile, match="bad magic"):
        compression.decode(b"PK\x03\x04" + data[4:], model)


def test_unsupported_version(coded):
    model, _, data = coded
    n = len(compression.MAGIC)
    bumped = data[:n] + (compression.FORMAT_VERSION + 1).to_bytes(2, "little") + data[n + 2:]
    with pytest.raises(compression.UnsupportedVersion, match="format version 2"):
        compression.decode(bumped, model)


@pytest.mark.parametrize("keep", [3, 12, 40, -1])
def test_truncated_file(coded, keep):
    model, _, data = coded
    with pytest.raises(compression.TruncatedFile, match="truncated"):
        compression.decode(data[:keep], model)


@pytest.mark.parametrize("where", ["header", "payload", "trailing"])
def test_corrupted_file(coded, where):
    model, _, data = coded
    header, payload = compression.read_header(data)
    if where == "trailing":
        bad = data + b"\x00"
    else:
        k = 20 if where == "header" else len(data) - len(payload) // 2 - 1
        bad = data[:k] + bytes([data[k] ^ 0x10]) + data[k + 1:]
    with pytest.raises(compression.CorruptedFile, match="corrupted"):
        compression.decode(bad, model)


def test_wrong_model(coded):
    model, _, data = coded
    other = build_tiny("pixel_cnn", (4, 4, 1), 2, seed=1)  # same architecture, other weights
    with pytest.raises(compression.WrongModel, match="another model"):
        compression.decode(data, other)
    with pytest.raises(compression.WrongModel, match="row_lstm"):
        compression.decode(data, build_tiny("row_lstm", (4, 4, 1), 2))


def test_other_floats_are_caught_by_the_probe_fingerprint(coded, monkeypatch):
    """A platform whose probabilities differ in the last bits (simulated: one ulp more on
    every probability) is refused before decoding, not decoded into wrong pixels."""
    model, _, data = coded
    exact = compression.probabilities
    monkeypatch.setattr(compression, "probabilities",
                        lambda logits: np.nextafter(exact(logits), 2.0))
    with pytest.raises(compression.FingerprintMismatch, match="other probabilities"):
        compression.decode(data, model)
    monkeypatch.undo()
    with pytest.raises(compression.FingerprintMismatch):
        compression.decode(_repack(data, probe_sha256="0" * 32), model)


def test_pixel_checksum_is_checked(coded):
    model, _, data = coded
    with pytest.raises(compression.PixelChecksumMismatch, match="do not match"):
        compression.decode(_repack(data, pixels_sha256="0" * 32), model)


def test_bad_input_is_refused():
    model = build_tiny("pixel_cnn", (4, 4, 1), 2)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        compression.encode(model, np.full((2, 4, 4, 1), 2))
    with pytest.raises(ValueError, match="shape"):
        compression.encode(model, np.zeros((2, 5, 4, 1), np.uint8))
    with pytest.raises(ValueError, match="unconditional"):
        compression.encode(model, np.zeros((2, 4, 4, 1), np.uint8), np.zeros(2, np.int32))


# ---- PNG files and the pretrained models ------------------------------------------------

def test_png_levels_round_trip_and_foreign_values_are_refused(tmp_path):
    images = _images(6, (4, 5, 1), 2)
    names = codec_io.write_pngs(str(tmp_path / "a"), images, 2, [f"x{k}.png" for k in range(6)])
    from PIL import Image

    assert set(np.unique(np.asarray(Image.open(tmp_path / "a" / "x5.png")))) <= {0, 255}
    read, read_names = codec_io.read_pngs(str(tmp_path / "a"), 2, 1)
    np.testing.assert_array_equal(read, images)
    assert read_names == sorted(names)
    Image.fromarray(np.full((4, 5), 17, np.uint8)).save(tmp_path / "a" / "x9.png")
    with pytest.raises(ValueError, match=r"PNG values \[17\] are not among the 2 levels"):
        codec_io.read_pngs(str(tmp_path / "a"), 2, 1)
    with pytest.raises(ValueError, match="RGB"):
        codec_io.read_pngs(str(tmp_path / "a"), 2, 3)


def _highest_version(name):
    """The version folder the zoo serves: the highest number on disk (publishing adds more)."""
    return str(max(int(v) for v in os.listdir(os.path.join(ZOO, name)) if v.isdigit()))


def test_restored_saved_model_is_the_exported_one():
    """The Keras model rebuilt from a zoo SavedModel's model.json and variables gives the
    exported signature's log-probabilities."""
    import tensorflow as tf

    version = _highest_version("mnist_pixel_cnn")
    path = os.path.join(ZOO, "mnist_pixel_cnn", version)
    model, meta = restore.restore_saved_model(path)
    images = _images(6, (28, 28, 1), 2)
    served = tf.saved_model.load(path).signatures["log_prob"](images=tf.constant(images))
    np.testing.assert_allclose(model.log_prob(images).numpy(), served["log_prob"].numpy(),
                               rtol=1e-5)
    assert restore.find_model("mnist_pixel_cnn", ZOO) == ("saved_model", path,
                                                          f"mnist_pixel_cnn/{version}")
    with pytest.raises(FileNotFoundError, match="Zoo models: .*mnist_row_lstm"):
        restore.find_model("no_such_model", ZOO)


def _cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))


def test_cli_round_trip_on_a_pretrained_model_never_overwrites(tmp_path):
    images = _images(3, (28, 28, 1), 2)[2:]  # one noise image: the summaries say "1 image"
    np.savez(tmp_path / "in.npz", images=images[..., 0])  # (N, H, W) is accepted for C = 1
    out = str(tmp_path / "x.pxr")
    done = _cli("pixelrnn_tf.compress", "--model=mnist_pixel_cnn", f"--input={tmp_path}/in.npz",
                f"--output={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("1 image -> ") and "model NLL" in done.stdout
    assert codec_io.count(3, "PNG") == "3 PNGs"
    written = open(out, "rb").read()
    assert compression.read_header(written)[0]["model"]["source"] == {
        "zoo": f"mnist_pixel_cnn/{_highest_version('mnist_pixel_cnn')}"}
    again = _cli("pixelrnn_tf.compress", "--model=mnist_pixel_cnn",
                 f"--input={tmp_path}/in.npz", f"--output={out}")
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1] == (
        f"error: --output {out} exists; pass --overwrite to replace it.")
    assert open(out, "rb").read() == written
    pngs = str(tmp_path / "pngs")
    done = _cli("pixelrnn_tf.decompress", f"--input={out}", f"--output={pngs}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("1 image, exact") and "(1 PNG)" in done.stdout
    decoded, _ = codec_io.read_pngs(pngs, 2, 1)
    np.testing.assert_array_equal(decoded, images)
    bad = tmp_path / "bad.pxr"
    bad.write_bytes(written[:-3])
    failed = _cli("pixelrnn_tf.decompress", f"--input={bad}", f"--output={tmp_path}/y.npz")
    assert failed.returncode == 1 and failed.stderr.strip().splitlines()[-1].startswith(
        "error: The file is truncated")
    assert not os.path.exists(tmp_path / "y.npz")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(os.listdir(ZOO)))
def test_every_pretrained_model_round_trips(name):
    model, where = restore.load_model(name, ZOO)
    rng = np.random.default_rng(0)
    images = rng.integers(0, model.num_levels, size=(5,) + model.image_shape).astype(np.uint8)
    data = compression.encode(model, images, source={"zoo": where["zoo"]})
    np.testing.assert_array_equal(compression.decode(data, model).images, images)
