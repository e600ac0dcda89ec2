"""Every layer's one-position step equals its call(): written once, run over every layer
that has a step (the incremental samplers are built of these steps only)."""

import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf.layers
import pixelrnn_tf.networks
from pixelrnn_tf.layers.causal_attention import CausalAttention, position_features
from pixelrnn_tf.layers.conv_residual_block import ConvResidualBlock
from pixelrnn_tf.layers.diagonal_bilstm import DiagonalBiLSTM
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_right_shifted_conv_transpose2d import (
    DownRightShiftedConvTranspose2D)
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D
from pixelrnn_tf.layers.gated_pixel_cnn_layer import GatedPixelCNNLayer
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.position_cache import Grid, commit, past_taps
from pixelrnn_tf.layers.recurrent_residual_block import RecurrentResidualBlock
from pixelrnn_tf.layers.row_lstm import RowLSTM
from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork

SHAPE = (2, 4, 5)  # batch, height, width: not square, so a row / column mix-up shows
COND = 3  # features of a conditioning map (Multi-Scale biasing)
TOL = dict(rtol=1e-5, atol=1e-5)


def _randomize(layer, seed=0):
    """Non-zero values everywhere (zero-initialized biases and initial states would hide a
    step that forgets them)."""
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0, 0.5, v.shape).astype(np.float32))


def step_through(layer, x, conditioning=None, grid_class=Grid, rows=None):
    """Walk `layer`'s one-position step over every pixel in raster order, feeding x there;
    the outputs (B, H, W, F'). The protocol of the blocks and LSTM layers: step_cache,
    step_begin_row, step_conditioning, step_past, step_at, then position_cache.commit.
    rows: the caches keep this many rows (a ring; default all)."""
    b, h, w, _ = x.shape
    grid = grid_class(h, w, rows)
    cache = layer.step_cache(grid, b, tf.float32)
    bias = None if conditioning is None else layer.step_conditioning(conditioning)
    rows = []
    for i in range(h):
        if i > 0:
            cache = layer.step_begin_row(cache, grid, tf.constant(i))
        row = []
        for j in range(w):
            p = tf.constant(i * w + j)
            past = layer.step_past(cache, grid, p, None if bias is None else bias[:, i, j])
            y, values = layer.step_at(past, x[:, i, j])
            cache = commit(cache, grid.slot(i, j), values)
            row.append(y)
        rows.append(tf.stack(row, 1))
    return tf.stack(rows, 1).numpy()


# (id, constructor, input features, conditional?)
BLOCKS = [
    ("conv_block", lambda c: ConvResidualBlock(4, 3, 1, conditioning_features=c), 8, False),
    ("conv_block_rgb_k5", lambda c: ConvResidualBlock(6, 5, 3, conditioning_features=c), 12,
     False),
    ("conv_block_conditional", lambda c: ConvResidualBlock(4, 3, 1, conditioning_features=c),
     8, True),
    ("row_lstm", lambda c: RowLSTM(4, 3, 1, conditioning_features=c), 8, False),
    ("row_lstm_rgb_k5", lambda c: RowLSTM(6, 5, 3, conditioning_features=c), 5, False),
    ("row_lstm_conditional", lambda c: RowLSTM(4, 3, 1, conditioning_features=c), 8, True),
    ("diagonal_bilstm", lambda c: DiagonalBiLSTM(4, 1, conditioning_features=c), 8, False),
    ("diagonal_bilstm_rgb", lambda c: DiagonalBiLSTM(6, 3, conditioning_features=c), 5, False),
    ("diagonal_bilstm_conditional", lambda c: DiagonalBiLSTM(4, 1, conditioning_features=c), 8,
     True),
    ("recurrent_block_row", lambda c: RecurrentResidualBlock(
        4, "row_lstm", 3, 1, conditioning_features=c), 8, False),
    ("recurrent_block_diagonal", lambda c: RecurrentResidualBlock(
        6, "diagonal_bilstm", 3, 3, conditioning_features=c), 12, True),
]


@pytest.mark.parametrize("make, features, conditional", [b[1:] for b in BLOCKS],
                         ids=[b[0] for b in BLOCKS])
def test_block_step_equals_call(make, features, conditional):
    keras.utils.set_random_seed(0)
    layer = make(COND if conditional else 0)
    b, h, w = SHAPE
    layer.build((None, h, w, features))
    _randomize(layer)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(b, h, w, features)).astype(np.float32))
    cond = tf.constant(rng.normal(size=(b, h, w, COND)).astype(np.float32)) \
        if conditional else None
    expected = (layer(x, cond) if conditional else layer(x)).numpy()
    np.testing.assert_allclose(step_through(layer, x, cond), expected, **TOL)
    # The sampler's ring of rows: the fewest the layer's tables accept (every block reads
    # fewer rows up than SHAPE has) gives the same outputs; one row fewer is refused.
    rows = 1 + next(r for r in range(h) if _reads_at_most(layer, x, cond, r))
    np.testing.assert_allclose(step_through(layer, x, cond, rows=rows), expected, **TOL)
    assert rows < h


def _reads_at_most(layer, x, cond, rows_up):
    try:
        step_through(layer, x, cond, rows=rows_up + 1)
        return True
    except ValueError as e:
        assert "rows up" in str(e)
        return False


def test_the_step_test_catches_a_cache_off_by_one():
    """Negative control: the Row LSTM stepped with the state of the wrong row differs."""
    keras.utils.set_random_seed(0)
    layer = RowLSTM(4, 3, 1)
    b, h, w = SHAPE
    layer.build((None, h, w, 8))
    _randomize(layer)
    x = tf.constant(np.random.default_rng(1).normal(size=(b, h, w, 8)).astype(np.float32))
    expected = layer(x).numpy()

    class ShiftedGrid(Grid):
        def table(self, offsets, outside=None):  # reads two rows up instead of one
            return super().table([(2 * di, dj) if di else (di, dj) for di, dj in offsets],
                                 outside)

    np.testing.assert_allclose(step_through(layer, x), expected, **TOL)
    assert not np.allclose(step_through(layer, x, grid_class=ShiftedGrid), expected, **TOL)



@pytest.mark.parametrize("kernel, mask, groups", [(3, "B", 1), (5, "B", 3), ((1, 3), "B", 3),
                                                   (7, "A", 3), (7, "A", 1)])
def test_masked_conv_step_equals_call(kernel, mask, groups):
    keras.utils.set_random_seed(0)
    b, h, w = SHAPE
    f = 6 if groups == 3 else 4
    layer = MaskedConv2D(9, kernel, mask, groups)
    layer.build((None, h, w, f))
    _randomize(layer)
    x = tf.constant(np.random.default_rng(2).normal(size=(b, h, w, f)).astype(np.float32))
    expected = layer(x).numpy()
    grid = Grid(h, w)
    kh, kw = layer.kernel_size
    index = grid.table(past_taps((kh, kw)))
    cache = grid.new_cache(b, f, tf.float32)
    padded = tf.pad(x, [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]])
    for i in range(h):
        for j in range(w):
            p = i * w + j
            centre = layer.step_centre(x[:, i, j])
            # From the cache of earlier inputs (blocks), and from the input patch (the image).
            np.testing.assert_allclose(layer.step_past(cache, index[p]) + centre,
                                       expected[:, i, j], **TOL)
            np.testing.assert_allclose(
                layer.step_past_from_patch(padded[:, i:i + kh, j:j + kw]) + centre,
                expected[:, i, j], **TOL)
            cache = cache.write(p, x[:, i, j])
    dense = MaskedConv2D(7, 1, "B", groups)
    dense.build((None, h, w, f))
    _randomize(dense)
    np.testing.assert_allclose(dense.step_dense(tf.reshape(x, [-1, f])),
                               tf.reshape(dense(x), [-1, 7]), **TOL)


@pytest.mark.parametrize("block", ["pixel_cnn", "row_lstm", "diagonal_bilstm"])
@pytest.mark.parametrize("channels, conditional", [(1, False), (3, True)])
def test_network_step_equals_call(block, channels, conditional):
    keras.utils.set_random_seed(0)
    b, h, w = SHAPE
    net = PixelRNNNetwork(channels, 4, block, num_layers=2, units=3 * channels,
                          output_units=6 * channels, skip=channels == 3,
                          conditioning_features=COND if conditional else 0)
    net.build((None, h, w, channels))
    _randomize(net)
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(-1, 1, size=(b, h, w, channels)).astype(np.float32))
    cond = tf.constant(rng.normal(size=(b, h, w, COND)).astype(np.float32)) \
        if conditional else None
    expected = net(x, cond).numpy()  # (B, H, W, C, L)
    grid = Grid(h, w, net.step_rows())  # the sampler's ring of rows
    assert grid.rows < h
    caches = net.step_cache(grid, b, tf.float32)
    biases = None if cond is None else net.step_conditioning(cond)
    weights = net.step_weights()
    k = net.INPUT_KERNEL // 2
    padded = tf.pad(x, [[0, 0], [k, k], [k, k], [0, 0]])
    identity = lambda t: t  # noqa: E731 (x is already scaled)
    for i in range(h):
        if i > 0:
            caches = net.step_begin_row(caches, grid, tf.constant(i))
        for j in range(w):
            patch = net.step_patch(x, tf.constant(i), tf.constant(j), identity)
            np.testing.assert_array_equal(patch, padded[:, i:i + 2 * k + 1, j:j + 2 * k + 1])
            if i % 2 == 0 and j % 2 == 0:  # the strided view of the Multi-Scale small stage
                view = tf.pad(x[:, ::2, ::2], [[0, 0], [k, k], [k, k], [0, 0]])
                np.testing.assert_array_equal(
                    net.step_patch(x, tf.constant(i // 2), tf.constant(j // 2), identity, 2),
                    view[:, i // 2:i // 2 + 2 * k + 1, j // 2:j // 2 + 2 * k + 1])
            past = net.step_past(caches, grid, patch, tf.constant(i), tf.constant(j), biases,
                                 weights)
            logits, values = net.step_at(past, x[:, i, j])
            np.testing.assert_allclose(logits, expected[:, i, j], **TOL)
            # A channel at a time, as the sampler draws, with the channels not drawn yet
            # holding noise: channel g's logits must not read them.
            carry = ()
            for g in range(channels):
                noisy = tf.concat([x[:, i, j, :g], tf.constant(
                    rng.uniform(-1, 1, (b, channels - g)).astype(np.float32))], -1)
                channel_logits, carry = net.step_channel(past, weights, noisy, g, carry)
                np.testing.assert_allclose(channel_logits, expected[:, i, j, g], **TOL)
            for got, want in zip(tf.nest.flatten(net.step_values(carry)),
                                 tf.nest.flatten(values)):
                np.testing.assert_allclose(got, want, **TOL)
            caches = net.step_commit(caches, grid, tf.constant(i), tf.constant(j), values)


@pytest.mark.parametrize("mask, groups, conditional, vertical", [
    ("A", 1, False, True), ("B", 3, False, True), ("B", 3, True, True), ("B", 3, True, False)])
def test_gated_layer_step_equals_call(mask, groups, conditional, vertical):
    keras.utils.set_random_seed(0)
    b, h, w = SHAPE
    units, k, d = 6, 3, 4
    f = units if mask == "B" else groups
    layer = GatedPixelCNNLayer(units, k, mask, groups, residual=mask == "B",
                               conditioning_dim=d if conditional else 0, vertical_output=vertical)
    layer.build([(None, h, w, f), (None, h, w, f)])
    _randomize(layer)
    rng = np.random.default_rng(4)
    v = tf.constant(rng.normal(size=(b, h, w, f)).astype(np.float32))
    hz = tf.constant(rng.normal(size=(b, h, w, f)).astype(np.float32))
    vector = tf.constant(rng.normal(size=(b, d)).astype(np.float32)) if conditional else None
    outputs = layer([v, hz], vector)
    v_out, h_out = (x.numpy() for x in outputs) if vertical else (None, outputs.numpy())
    step = layer.step_weights(vector, tf.float32)
    half = k // 2
    window = tf.zeros([b, half, w + 2 * half, f])
    link = tf.zeros([b, w, 2 * units])
    for i in range(h):
        h_window = tf.zeros([b, half, f])
        for j in range(w):
            base = step.pixel_base(link[:, j], h_window)
            gated, groups_out = [], []
            for c in range(groups):
                groups_out.append(step.channel_group(base, hz[:, i, j], c, gated))
            np.testing.assert_allclose(tf.concat(groups_out, -1), h_out[:, i, j], **TOL)
            h_window = tf.concat([h_window[:, 1:], hz[:, i, j][:, None]], 1)
        # Row i is complete: the vertical stack on it, for row i + 1.
        window = tf.concat([window, tf.pad(v[:, i], [[0, 0], [half, half], [0, 0]])[:, None]],
                           1)
        link, v_row = step.vertical_row(window)
        if vertical:
            np.testing.assert_allclose(v_row, v_out[:, i], **TOL)
        else:
            assert v_row is None
        window = window[:, 1:]


# ------------------------------------------ PixelCNN++ / PixelSNAIL layers (row and pixel steps)

ODD = (2, 5, 7)  # batch, height, width: odd sizes, so stride-2 crops and ceil sizes show


def _random(shape, seed):
    return tf.constant(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def _built(layer, input_shape):
    keras.utils.set_random_seed(0)
    layer.build(input_shape)
    _randomize(layer)
    return layer


@pytest.mark.parametrize("cls, kernel, strides", [
    (DownShiftedConv2D, (2, 3), 1), (DownShiftedConv2D, (2, 3), 2),
    (DownShiftedConv2D, (1, 3), 1), (DownRightShiftedConv2D, (2, 2), 1),
    (DownRightShiftedConv2D, (2, 2), 2), (DownRightShiftedConv2D, (2, 1), 1)])
def test_shifted_conv_steps_equal_call(cls, kernel, strides):
    b, h, w = ODD
    layer = _built(cls(4, kernel, strides), (None, h, w, 3))
    x = _random((b, h, w, 3), 1)
    full = layer(x).numpy()  # (B, ceil(H / s), ceil(W / s), 4)
    kh, s = kernel[0], layer.strides[0]
    top = tf.pad(x, [[0, 0], [kh - 1, 0], [0, 0], [0, 0]])
    padded = layer.pad(x)
    for r in range(full.shape[1]):
        # Row step: the kh input rows ending at row s r.
        np.testing.assert_allclose(layer.step_row(top[:, s * r:s * r + kh]), full[:, r], **TOL)
        for q in range(full.shape[2]):
            np.testing.assert_allclose(layer.step_output(padded, r, q), full[:, r, q], **TOL)
    if cls is DownRightShiftedConv2D:
        # Pixel steps: write the inputs in raster order; an output once its window is in.
        # With the rows above computed once per output row (step_above), too.
        cache = layer.step_cache(b, w, 3, tf.float32)
        for i in range(h):
            above = layer.step_above(cache, i // s) if i % s == 0 else None
            for j in range(w):
                cache = layer.step_write(cache, i, j, x[:, i, j])
                if i % s == 0 and j % s == 0:
                    want = full[:, i // s, j // s]
                    np.testing.assert_allclose(layer.step_window(cache, i // s, j // s),
                                               want, **TOL)
                    np.testing.assert_allclose(
                        layer.step_window(cache, i // s, j // s, above), want, **TOL)


def test_transposed_conv_steps_equal_call():
    b, h, w = ODD
    small = _random((b, -(-h // 2), -(-w // 2), 3), 2)
    vertical = _built(DownShiftedConvTranspose2D(4, (2, 3), 2), (None,) + small.shape[1:])
    full = vertical(small, output_size=(h, w)).numpy()
    for c in range(small.shape[1]):
        rows = vertical.step_row(small[:, c], w).numpy()  # (B, 2, W, 4)
        np.testing.assert_allclose(rows[:, :h - 2 * c], full[:, 2 * c:2 * c + 2], **TOL)
    horizontal = _built(DownRightShiftedConvTranspose2D(4, (2, 2), 2), (None,) + small.shape[1:])
    full = horizontal(small, output_size=(h, w)).numpy()
    for c in range(small.shape[1]):
        for d in range(small.shape[2]):
            block = horizontal.step_pixel(small[:, c, d]).numpy()  # (B, 2, 2, 4)
            want = full[:, 2 * c:2 * c + 2, 2 * d:2 * d + 2]
            np.testing.assert_allclose(block[:, :want.shape[1], :want.shape[2]], want, **TOL)


@pytest.mark.parametrize("conv_type, kernel, nonlinearity, aux, conditional", [
    ("down_shifted", None, "concat_elu", 0, False), ("down_shifted", None, "concat_elu", 3, True),
    ("down_right_shifted", None, "concat_elu", 6, True),
    ("down_right_shifted", (2, 2), "elu", 0, False),
    ("down_right_shifted", (1, 1), "elu", 5, True)])
def test_gated_resnet_block_steps_equal_call(conv_type, kernel, nonlinearity, aux, conditional):
    b, h, w = ODD
    f, d = 4, 3
    block = GatedResNetBlock(conv_type, kernel, conditioning_dim=d if conditional else 0,
                             nonlinearity=nonlinearity)
    _built(block, [(None, h, w, f), (None, h, w, aux)] if aux else (None, h, w, f))
    x, a = _random((b, h, w, f), 3), _random((b, h, w, aux or 1), 4)
    vector = _random((b, d), 5) if conditional else None
    full = block([x, a] if aux else x, conditioning=vector).numpy()
    aux_at = (lambda *index: a[(slice(None),) + index]) if aux else (lambda *index: None)
    cache = block.step_cache(b, w, tf.float32)
    for i in range(h):
        if conv_type == "down_shifted":
            cache, row = block.step_row(cache, x[:, i], aux_at(i), vector)
            np.testing.assert_allclose(row, full[:, i], **TOL)
            continue
        if i > 0:
            cache = block.step_begin_row(cache, tf.constant(i))
        for j in range(w):
            cache, out = block.step_pixel(cache, i, j, x[:, i, j], aux_at(i, j), vector)
            np.testing.assert_allclose(out, full[:, i, j], **TOL)


@pytest.mark.parametrize("heads, conditional", [(1, False), (2, True)])
def test_causal_attention_steps_equal_call(heads, conditional):
    b, h, w = ODD
    f, c, d = 4, 3, 2
    layer = CausalAttention(4, 6, heads, conditioning_dim=d if conditional else 0)
    _built(layer, [(None, h, w, f), (None, h, w, c)])
    x, image = _random((b, h, w, f), 6), _random((b, h, w, c), 7)
    vector = _random((b, d), 8) if conditional else None
    full = layer([x, image], conditioning=vector).numpy()
    positions = tf.reshape(position_features(h, w), [h * w, 2])
    cache = layer.step_cache(b, h * w, tf.float32)
    for t in range(h * w):
        i, j = divmod(t, w)
        out = layer.step_query(cache, t, x[:, i, j], positions[t], vector)
        np.testing.assert_allclose(out, full[:, i, j], **TOL)
        cache = layer.step_commit(cache, t, x[:, i, j], image[:, i, j], positions[t], vector)


STEP_METHODS = ("step_at", "step_weights", "step_past", "step_row", "step_pixel",
                "step_window", "step_query")


def _stepping_classes():
    """Every layer class of the library with a one-position step."""
    found = set()
    for package in (pixelrnn_tf.layers, pixelrnn_tf.networks):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, keras.layers.Layer) and cls.__module__ == module.__name__ \
                        and any(hasattr(cls, m) for m in STEP_METHODS):
                    found.add(cls)
    return found


def test_every_stepping_layer_is_tested_here():
    covered = {ConvResidualBlock, RowLSTM, DiagonalBiLSTM, RecurrentResidualBlock,
               MaskedConv2D, PixelRNNNetwork, GatedPixelCNNLayer, DownShiftedConv2D,
               DownRightShiftedConv2D, DownShiftedConvTranspose2D,
               DownRightShiftedConvTranspose2D, GatedResNetBlock, CausalAttention}
    missing = _stepping_classes() - covered
    assert not missing, f"layers with a step but no step-equals-call test: {missing}"
    assert covered <= _stepping_classes()
