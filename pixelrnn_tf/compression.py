"""Lossless image compression with a model of the zoo: its conditionals drive a range coder.

  data = compression.encode(model, images)            # uint8 (N, H, W, C) -> bytes
  images = compression.decode(data, model).images     # bytes -> the same array, bit for bit

The probabilities given to the coder (`constriction`'s range coder, one stream per file,
`Categorical(perfect=False)`) are the model's conditionals of every sub-pixel in the model's
order. Encoder and decoder compute them the same way: both walk the model's sampling stages
(`sampling.driver`), one pixel at a time, through the same compiled per-pixel functions, on
the same chunks of images, with a working image that holds exactly the sub-pixels coded so
far (the decoder cannot know more). A teacher-forced full pass would give the same numbers
only up to the last bits of a float, which is enough to desynchronize a range coder.
Each float32 logit row becomes float64 probabilities in numpy (a fixed softmax); constriction
quantizes them deterministically.

File layout (integers little-endian):
  MAGIC (8 bytes) | format version (u16) | header length n (u32) | header: zlib-compressed
  JSON (n bytes) | sha256 of the header (32 bytes) | payload: the range coder's u32 words
The header holds the model's identity (registry name, config, sha256 of its variables, where
to find it), the image shape, num_levels, the number of images, the chunk size, the
conditioning (labels) if any, PNG names if any, the payload's length and checksum, the
checksum of the pixels, and a fingerprint of the model's probabilities on a fixed probe input
(same batch size, same code path); checksums and fingerprint are the first 128 bits of a
sha256. Decoding checks all of them and stops with a `FormatError` subclass naming the cause
(NotCompressedFile, UnsupportedVersion, TruncatedFile, CorruptedFile, WrongModel,
FingerprintMismatch, PixelChecksumMismatch) rather than return a wrong pixel.
"""

import base64
import functools
import hashlib
import json
import platform
import struct
import time
import weakref
import zlib
from typing import NamedTuple

import numpy as np
import tensorflow as tf

MAGIC = b"\x89PXRNN\r\n"  # a high byte and CR LF, as in PNG: catches 7-bit and text-mode copies
FORMAT_VERSION = 1
DEFAULT_BATCH_SIZE = 256
_PREFIX = struct.Struct("<HI")  # format version, header length
_DIGEST = 32
_SHORT = 32  # hex digits (128 bits) of the checksums and the fingerprint: a smaller header
PROBE_SEED = 14


class FormatError(ValueError):
    """A compressed file that cannot be decoded as given; the subclass names the cause."""


class NotCompressedFile(FormatError):
    pass


class UnsupportedVersion(FormatError):
    pass


class TruncatedFile(FormatError):
    pass


class CorruptedFile(FormatError):
    pass


class WrongModel(FormatError):
    pass


class FingerprintMismatch(FormatError):
    pass


class PixelChecksumMismatch(FormatError):
    pass


class Decoded(NamedTuple):
    images: np.ndarray  # uint8 (N, H, W, C)
    conditioning: object  # labels (N,) int32, vectors (N, D) float32, or None
    names: object  # the PNG names the images came from, or None
    header: dict


def model_sha256(model):
    """The model's identity: sha256 over its registry name, its config (without the Keras
    layer name, which depends on how many models a process has built) and every variable's
    shape, dtype and bytes, in `model.variables` order."""
    digest = hashlib.sha256()
    config = {k: v for k, v in model.get_config().items() if k != "name"}
    digest.update(json.dumps([getattr(model, "registry_name", type(model).__name__), config],
                             sort_keys=True, default=str).encode())
    for v in model.variables:
        value = np.ascontiguousarray(np.asarray(v.numpy()))
        digest.update(f"{value.shape}{value.dtype.str}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def probabilities(logits):
    """float32 logits (B, L) -> float64 probabilities (B, L): the fixed quantization step of
    encoder and decoder (numpy, deterministic for the same input on the same platform)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class Stepper:
    """Walks a model's sampling stages from Python, one sub-pixel at a time, through three
    compiled functions per stage (start: the first pixel's first channel; next_pixel: commit
    the previous pixel, begin the next, its first channel; next_channel), so that a coder can
    sit between each sub-pixel's logits and the next step.

    Traces are keyed by the batch size (static shapes, no relaxed retracing), so a given
    chunk runs the same graph whatever ran before it: encoder and decoder agree.
    """

    def __init__(self, model):
        # Weak, so that `stepper`'s cache (keyed weakly by the model) does not keep it alive.
        self._model = weakref.ref(model)
        self.image_shape = tuple(model.image_shape)
        stages = model.sampling_stages(self._checked(_probe_conditioning(model, 1)))
        self.pixels = [np.asarray(s.pixels, np.int32) for s in stages]
        self._t = [[tf.constant(t, tf.int32) for t in range(len(p))] for p in self.pixels]
        self._specs = {}
        self._concrete = {}
        # One tf.function per stage and channel: each traces once per batch size.
        c = self.image_shape[-1]
        compile_ = functools.partial(tf.function, autograph=False)
        self._start = [compile_(functools.partial(self._start_impl, k))
                       for k in range(len(stages))]
        self._next_pixel = [compile_(functools.partial(self._next_pixel_impl, k))
                            for k in range(len(stages))]
        self._next_channel = [[compile_(functools.partial(self._next_channel_impl, k, ch))
                               for ch in range(c)] for k in range(len(stages))]

    @property
    def model(self):
        return self._model()

    def _checked(self, conditioning):
        return None if conditioning is None else self.model.check_conditioning(conditioning)

    def _stage(self, k, cond):
        # Built inside each trace from the conditioning tensor, so one trace serves every
        # chunk's labels (the stages hold the conditioning they were made with).
        return self.model.sampling_stages(cond[0] if cond else None)[k]

    def _out(self, key, structure):
        """A TensorArray (the stages' caches) leaves a tf.function as its flow, a variant
        tensor: return the flows and keep, per trace, the TensorArraySpecs that rebuild them
        in the function that takes them next (`_in`)."""
        leaves = tf.nest.flatten(structure)
        self._specs[key] = [tf.TensorArraySpec.from_value(x) if isinstance(x, tf.TensorArray)
                            else None for x in leaves]
        return tf.nest.pack_sequence_as(structure, [
            x.flow if isinstance(x, tf.TensorArray) else x for x in leaves])

    def _in(self, key, structure):
        leaves = tf.nest.flatten(structure)
        return tf.nest.pack_sequence_as(structure, [
            x if spec is None else tf.nest.pack_sequence_as(spec, [x], expand_composites=True)
            for x, spec in zip(leaves, self._specs[key])])

    def _start_impl(self, k, images, known, *cond):
        stage, b = self._stage(k, cond), images.shape[0]
        i, j = tf.constant(self.pixels[k][0, 0]), tf.constant(self.pixels[k][0, 1])
        state = stage.initial_state(images, known)
        if hasattr(stage, "begin_row"):  # the driver's contract: before each row's first pixel
            state = stage.begin_row(state, images, tf.constant(0), i)
        state, pixel_state = stage.begin_pixel(state, images, tf.constant(0), i, j)
        logits, pixel_state = stage.channel_logits(pixel_state, images, i, j, 0)
        return (self._out(("state", k, b), state), self._out(("pixel", k, 0, b), pixel_state),
                logits)

    def _next_pixel_impl(self, k, state, pixel_state, images, t, *cond):
        stage, b, last = self._stage(k, cond), images.shape[0], self.image_shape[-1] - 1
        state = self._in(("state", k, b), state)
        pixel_state = self._in(("pixel", k, last, b), pixel_state)
        pixels = tf.constant(self.pixels[k])
        state = stage.end_pixel(state, pixel_state, images, t - 1, pixels[t - 1, 0],
                                pixels[t - 1, 1])
        i, j = pixels[t, 0], pixels[t, 1]
        if hasattr(stage, "begin_row"):
            state = tf.cond(tf.not_equal(i, pixels[t - 1, 0]),
                            lambda: stage.begin_row(state, images, t, i), lambda: state)
        state, pixel_state = stage.begin_pixel(state, images, t, i, j)
        logits, pixel_state = stage.channel_logits(pixel_state, images, i, j, 0)
        return (self._out(("state", k, b), state), self._out(("pixel", k, 0, b), pixel_state),
                logits)

    def _next_channel_impl(self, k, channel, pixel_state, images, t, *cond):
        stage, b = self._stage(k, cond), images.shape[0]
        pixel_state = self._in(("pixel", k, channel - 1, b), pixel_state)
        pixels = tf.constant(self.pixels[k])
        logits, pixel_state = stage.channel_logits(pixel_state, images, pixels[t, 0],
                                                   pixels[t, 1], channel)
        return logits, self._out(("pixel", k, channel, b), pixel_state)

    def _call(self, function, key, *args):
        """function(*args) through its concrete function for `key` (traced on the first
        call): the same graph, without tf.function's per-call matching of the arguments'
        trace types, which took 60% of encoding time over the caches' nested tensors."""
        concrete = self._concrete.get(key)
        if concrete is None:
            concrete = self._concrete[key] = function.get_concrete_function(*args)
        return concrete(*args)

    def walk(self, batch, code, conditioning=None):
        """Walk every sub-pixel of a chunk of `batch` images in the model's order.

        code(probabilities (B, L) float64, i, j, channel) -> the (B,) values of that sub-pixel
        (the true ones when encoding, the decoded ones when decoding); they are written into
        the working image before the next step. A later stage also steps over the pixels an
        earlier one coded (Multi-Scale: the small image), which are not coded again. Returns
        the working image, int32.
        """
        h, w, c = self.image_shape
        images = np.zeros((batch, h, w, c), np.int32)  # (B, H, W, C): what is coded so far
        known = np.zeros((batch, h, w), bool)
        cond = [] if conditioning is None else [self._checked(conditioning)]
        for k, pixels in enumerate(self.pixels):
            state = pixel_state = None
            for t, (i, j) in enumerate(pixels):
                x = tf.constant(images)
                if t == 0:
                    state, pixel_state, logits = self._call(
                        self._start[k], ("start", k, batch), x, tf.constant(known), *cond)
                else:
                    state, pixel_state, logits = self._call(
                        self._next_pixel[k], ("pixel", k, batch), state, pixel_state, x,
                        self._t[k][t], *cond)
                for ch in range(c):
                    if ch:
                        logits, pixel_state = self._call(
                            self._next_channel[k][ch], ("channel", k, ch, batch), pixel_state,
                            tf.constant(images), self._t[k][t], *cond)
                    if not known[0, i, j]:  # a pixel an earlier stage coded is stepped only
                        images[:, i, j, ch] = code(probabilities(logits.numpy()), i, j, ch)
            known[:, pixels[:, 0], pixels[:, 1]] = True  # the next stage sees them as given
        return images

    def fingerprint(self, batch):
        """A hash (128 bits of a sha256) of every probability row of the walk over a fixed
        pseudo-random probe batch of `batch` images (PCG64 integers: the same on every
        platform); `batch` is the first chunk's size, so the probe runs the data's graphs."""
        h, w, c = self.image_shape
        rng = np.random.default_rng(PROBE_SEED)
        probe = rng.integers(0, self.model.num_levels, size=(batch, h, w, c))
        digest = hashlib.sha256()

        def code(p, i, j, ch):
            digest.update(p.tobytes())
            return probe[:, i, j, ch]

        self.walk(batch, code, _probe_conditioning(self.model, batch))
        return digest.hexdigest()[:_SHORT]


_STEPPERS = weakref.WeakKeyDictionary()


def stepper(model):
    """The model's Stepper, kept while the model lives: encoding and decoding with one model
    in one process trace its functions once."""
    if model not in _STEPPERS:
        _STEPPERS[model] = Stepper(model)
    return _STEPPERS[model]


def _probe_conditioning(model, batch):
    if model.num_classes:
        return np.arange(batch, dtype=np.int32) % model.num_classes
    if model.conditioning_dim:
        rng = np.random.default_rng(PROBE_SEED)
        return rng.standard_normal((batch, model.conditioning_dim)).astype(np.float32)
    return None


def check_images(model, images):
    """uint8 (N, H, W, C) images of the model's shape and levels ((N, H, W) for C = 1)."""
    images = np.asarray(images)
    shape = tuple(model.image_shape)
    if images.ndim == 3 and shape[-1] == 1:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != shape:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, shape))}) for this "
                         f"model, got {images.shape}.")
    if not np.issubdtype(images.dtype, np.integer) and images.dtype != bool:
        raise ValueError(f"images must be integers in [0, {model.num_levels}), got dtype "
                         f"{images.dtype}.")
    if len(images) == 0:
        raise ValueError("There are no images to compress.")
    if images.min() < 0 or images.max() >= model.num_levels:
        raise ValueError(f"image values must be in [0, {model.num_levels}) for this model, got "
                         f"min {images.min()} and max {images.max()}.")
    return images.astype(np.uint8)


def _check_conditioning(model, conditioning, n):
    if not model.is_conditional:
        if conditioning is not None:
            raise ValueError("This model is unconditional; it takes no labels/conditioning.")
        return None
    if conditioning is None:
        kind = "labels" if model.num_classes else "conditioning vectors"
        raise ValueError(f"This model is conditional: give its {kind}, one per image.")
    if model.num_classes:
        values = np.asarray(conditioning)
        if values.shape != (n,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"labels must be {n} integers, got shape {values.shape} "
                             f"{values.dtype}.")
        if values.min() < 0 or values.max() >= model.num_classes:
            raise ValueError(f"labels must be in [0, {model.num_classes}), got min "
                             f"{values.min()} and max {values.max()}.")
        return values.astype(np.int32)
    values = np.asarray(conditioning, np.float32)
    if values.shape != (n, model.conditioning_dim):
        raise ValueError(f"conditioning must have shape ({n}, {model.conditioning_dim}), got "
                         f"{values.shape}.")
    return values


def _array_to_json(a):
    return None if a is None else {"dtype": a.dtype.str, "shape": list(a.shape),
                                   "data": base64.b64encode(a.tobytes()).decode()}


def _array_from_json(d):
    if d is None:
        return None
    return np.frombuffer(base64.b64decode(d["data"]), np.dtype(d["dtype"])).reshape(d["shape"])


def _short_sha(data):
    return hashlib.sha256(data).hexdigest()[:_SHORT]


def _chunks(n, batch_size):
    return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]


def _platform():
    return (f"TensorFlow {tf.__version__}, numpy {np.__version__}, {platform.machine()} "
            f"{platform.system()}")


def encode(model, images, conditioning=None, batch_size=DEFAULT_BATCH_SIZE, source=None,
           names=None, progress=None):
    """Compress `images` (N, H, W, C) with `model` into one file's bytes.

    conditioning: labels (N,) (or vectors) of a conditional model, stored in the file.
    batch_size: images per chunk; decoding runs the same chunks. source: where decode finds
    the model (e.g. {"zoo": "mnist_pixel_cnn/2"} or {"path": ...}), recorded in the header.
    names: PNG names to restore on decoding. progress(done, total): called after each chunk.
    """
    import constriction

    images = check_images(model, images)
    n = len(images)
    conditioning = _check_conditioning(model, conditioning, n)
    if names is not None and len(names) != n:
        raise ValueError(f"{len(names)} names for {n} images.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    steps = stepper(model)
    chunks = _chunks(n, batch_size)
    fingerprint = steps.fingerprint(chunks[0][1])
    family = constriction.stream.model.Categorical(perfect=False)
    encoder = constriction.stream.queue.RangeEncoder()
    for start, stop in chunks:
        chunk = images[start:stop].astype(np.int32)

        def code(p, i, j, ch):
            values = chunk[:, i, j, ch]
            encoder.encode(values, family, p)
            return values

        steps.walk(stop - start, code,
                     None if conditioning is None else conditioning[start:stop])
        if progress:
            progress(stop, n)
    payload = encoder.get_compressed().astype("<u4").tobytes()
    header = {
        "model": {"registry": getattr(model, "registry_name", type(model).__name__),
                  "config": {k: v for k, v in model.get_config().items() if k != "name"},
                  "sha256": model_sha256(model), "source": source},
        "image_shape": list(model.image_shape), "num_levels": model.num_levels,
        "num_images": n, "batch_size": int(batch_size),
        "conditioning": _array_to_json(conditioning), "names": names,
        "probe_sha256": fingerprint, "pixels_sha256": _short_sha(images.tobytes()),
        "payload_bytes": len(payload), "payload_sha256": _short_sha(payload),
        "platform": _platform(),
    }
    packed = zlib.compress(json.dumps(header, separators=(",", ":"), default=str).encode(), 9)
    return (MAGIC + _PREFIX.pack(FORMAT_VERSION, len(packed)) + packed
            + hashlib.sha256(packed).digest() + payload)


def read_header(data):
    """The header of a compressed file, after checking the magic, version, lengths and
    checksums of header and payload (no model needed). Returns (header, payload)."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            raise TruncatedFile(f"The file is truncated: {len(data)} bytes, not even the "
                                f"{len(MAGIC)}-byte signature.")
        raise NotCompressedFile("Not a pixelrnn_tf compressed file (bad magic bytes).")
    offset = len(MAGIC)
    if len(data) < offset + _PREFIX.size:
        raise TruncatedFile(f"The file is truncated: {len(data)} bytes end inside the header.")
    version, length = _PREFIX.unpack_from(data, offset)
    if version != FORMAT_VERSION:
        raise UnsupportedVersion(f"The file has format version {version}; this pixelrnn_tf "
                                 f"reads version {FORMAT_VERSION}.")
    offset += _PREFIX.size
    if len(data) < offset + length + _DIGEST:
        raise TruncatedFile(f"The file is truncated: {len(data)} bytes end inside the header "
                            f"({offset + length + _DIGEST} bytes).")
    packed = data[offset:offset + length]
    if hashlib.sha256(packed).digest() != data[offset + length:offset + length + _DIGEST]:
        raise CorruptedFile("The file is corrupted: its header does not match its checksum.")
    header = json.loads(zlib.decompress(packed))
    payload = data[offset + length + _DIGEST:]
    expected = header["payload_bytes"]
    if len(payload) < expected:
        raise TruncatedFile(f"The file is truncated: its compressed data has {len(payload)} of "
                            f"{expected} bytes.")
    if len(payload) > expected:
        raise CorruptedFile(f"The file is corrupted: {len(payload) - expected} bytes follow "
                            "the compressed data.")
    if _short_sha(payload) != header["payload_sha256"]:
        raise CorruptedFile("The file is corrupted: its compressed data does not match its "
                            "checksum.")
    return header, payload


def check_model(header, model):
    """WrongModel unless `model` is the one the file was written with."""
    want = header["model"]
    got = getattr(model, "registry_name", type(model).__name__)
    if got != want["registry"] or list(model.image_shape) != header["image_shape"] \
            or model.num_levels != header["num_levels"]:
        raise WrongModel(f"The file was written with a {want['registry']} model of "
                         f"{tuple(header['image_shape'])} images and {header['num_levels']} "
                         f"levels; this is a {got} of {tuple(model.image_shape)} and "
                         f"{model.num_levels}.")
    sha = model_sha256(model)
    if sha != want["sha256"]:
        raise WrongModel(f"The file was written with another model (variables sha256 "
                         f"{want['sha256'][:12]}..., {_describe(want.get('source'))}); this "
                         f"model's is {sha[:12]}...: decode with the model that wrote it.")


def _describe(source):
    if not source:
        return "source not recorded"
    return f"zoo {source['zoo']}" if source.get("zoo") else f"from {source.get('path')}"


def decode(data, model, progress=None):
    """The images of a compressed file (see `encode`), bit for bit, or a FormatError."""
    import constriction

    header, payload = read_header(data)
    check_model(header, model)
    n, batch_size = header["num_images"], header["batch_size"]
    conditioning = _array_from_json(header["conditioning"])
    steps = stepper(model)
    chunks = _chunks(n, batch_size)
    if steps.fingerprint(chunks[0][1]) != header["probe_sha256"]:
        raise FingerprintMismatch(
            "This model computes other probabilities on the probe input than when the file "
            f"was written ({header.get('platform')}; here {_platform()}): decoding would give "
            "wrong pixels. Decode on the platform that wrote the file.")
    family = constriction.stream.model.Categorical(perfect=False)
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, "<u4").astype(
        np.uint32))
    out = np.zeros((n,) + tuple(model.image_shape), np.uint8)
    for start, stop in chunks:
        def code(p, i, j, ch):
            return decoder.decode(family, p)

        out[start:stop] = steps.walk(
            stop - start, code, None if conditioning is None else conditioning[start:stop])
        if progress:
            progress(stop, n)
    if _short_sha(out.tobytes()) != header["pixels_sha256"]:
        raise PixelChecksumMismatch(
            "The decoded pixels do not match the file's checksum: the coder lost "
            "synchronization (the model's floats differ from the encoder's beyond the probe).")
    return Decoded(out, conditioning, header["names"], header)


class ProgressLine:
    """`progress(done, total)` for encode/decode: one line updated in place (images, images/s,
    ETA), on `stream`."""

    def __init__(self, verb, stream):
        self.verb, self.stream, self.start = verb, stream, time.time()

    def __call__(self, done, total):
        elapsed = time.time() - self.start
        rate = done / max(elapsed, 1e-9)
        self.stream.write(f"\r{self.verb} {done}/{total} images  {rate:.1f} images/s  "
                          f"ETA {(total - done) / max(rate, 1e-9):.0f} s ")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()
