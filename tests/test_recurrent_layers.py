"""The tf.while_loop layers equal a plain numpy loop over the paper's Equation 3.

The numpy references are written in image coordinates (no skewing), so the Diagonal BiLSTM
test also checks the skew / unskew and the right-to-left shift.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixelrnn_tf.layers import DiagonalBiLSTM, RowLSTM
from pixelrnn_tf.layers.diagonal_bilstm import (_state_to_state, diagonal_lstm_bands,
                                               diagonal_lstm_sweep,
                                               diagonal_lstm_sweep_autodiff)
from pixelrnn_tf.layers.masking import causal_mask
from pixelrnn_tf.layers.row_lstm import lstm_gates
from pixelrnn_tf.layers.skew import SkewIndex, skew_columns, unskew_columns


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_gates(z, c_prev):
    o, f, i, g = np.split(z, 4, axis=-1)
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def np_conv_same(x, kernel):
    """'SAME' 2-D convolution (cross-correlation) of one (H, W, F) map, float64."""
    kh, kw, _, out = kernel.shape
    h, w, _ = x.shape
    pad = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((h, w, out))
    for a in range(kh):
        for b in range(kw):
            y += pad[a:a + h, b:b + w] @ kernel[a, b]
    return y


def np_masked_conv(layer, x):
    kernel = layer.kernel.numpy().astype(np.float64)
    mask = causal_mask(layer.kernel_size, kernel.shape[2], kernel.shape[3], layer.num_groups,
                       layer.mask_type, layer.in_blocks, layer.out_blocks)
    return np_conv_same(x, kernel * mask) + layer.bias.numpy()


def np_row_lstm(layer, x, cond=None):
    """Row by row: z_i = K^is * x_i + K^ss * h_{i-1}; gates; (B, H, W, F) -> (B, H, W, h)."""
    kss = layer.state_to_state_kernel.numpy().astype(np.float64)  # (k, h, 4h)
    out = []
    for image, cimage in zip(x, cond if cond is not None else [None] * len(x)):
        z_is = np_masked_conv(layer.input_to_state, image)
        if cimage is not None:
            z_is += cimage @ layer.conditioning_conv.kernel.numpy()[0, 0] + \
                layer.conditioning_conv.bias.numpy()
        h_prev = np.tile(layer.initial_h.numpy(), (image.shape[1], 1))
        c_prev = np.tile(layer.initial_c.numpy(), (image.shape[1], 1))
        rows = []
        for i in range(image.shape[0]):
            z_ss = np_conv_same(h_prev[None], kss[None])[0]
            h_prev, c_prev = np_gates(z_is[i] + z_ss, c_prev)
            rows.append(h_prev)
        out.append(np.stack(rows))
    return np.stack(out)


def np_diagonal_bilstm(layer, x):
    """Each direction, pixel by pixel: z(i,j) = K^is x(i,j) + U h(i-1,j) + L h(i,j-1)."""
    units = layer.units
    kss = layer.state_to_state_kernel.numpy().astype(np.float64)  # (2, 2h, 4h)
    out = []
    for image in x:
        height, width, _ = image.shape
        z_all = np_masked_conv(layer.input_to_state, image)
        maps = []
        for d, z in enumerate([z_all[..., :4 * units], z_all[:, ::-1, 4 * units:]]):
            hs = np.zeros((height + 1, width + 1, units))  # index 0 = outside the image
            cs = np.zeros_like(hs)
            for i in range(height):
                for j in range(width):
                    pre = (z[i, j] + hs[i, j + 1] @ kss[d, :units]
                           + hs[i + 1, j] @ kss[d, units:])
                    hs[i + 1, j + 1], cs[i + 1, j + 1] = np_gates(pre, cs[i + 1, j])
            maps.append(hs[1:, 1:])
        right = maps[1][:, ::-1]
        shifted = np.concatenate([np.zeros_like(right[:1]), right[:-1]], axis=0)
        out.append(maps[0] + shifted)
    return np.stack(out)


@pytest.fixture
def inputs():
    return np.random.default_rng(0).normal(size=(2, 5, 6, 6)).astype(np.float32)


def _randomize(layer, seed=1):
    """Non-zero learned initial states and biases, so the test covers them."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype(np.float32))


def _unknown_height(layer, x):
    """A tf.function of unknown height (as a signature of unknown shape): RowLSTM's loop,
    not its unrolled rows."""
    spec = tf.TensorSpec([None, None, None, x.shape[-1]], tf.float32)
    return tf.function(lambda t: layer(t), input_signature=[spec])


@pytest.mark.parametrize("mode", ["eager", "tf.function", "unknown height"])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_row_lstm_matches_numpy_loop(inputs, mode, kernel_size):
    layer = RowLSTM(4, kernel_size=kernel_size, num_groups=3)
    layer.build(inputs.shape)
    _randomize(layer)
    fn = {"eager": layer, "tf.function": tf.function(lambda t: layer(t)),
          "unknown height": _unknown_height(layer, inputs)}[mode]
    got = fn(tf.constant(inputs)).numpy()
    want = np_row_lstm(layer, inputs.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_row_lstm_unrolled_rows_and_loop_give_the_same_gradients(inputs):
    """The unrolled rows (known height, what training runs) against the loop (unknown
    height): the same values, and gradients equal to rounding, for the input, both kernels
    and the learned initial state."""
    layer = RowLSTM(4, num_groups=3)
    layer.build(inputs.shape)
    _randomize(layer)
    weights = layer.trainable_weights
    target = tf.constant(np.random.default_rng(5).normal(size=inputs.shape[:3] + (4,)),
                         tf.float32)

    def value_and_grads(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            loss = tf.reduce_sum(layer(t) * target)
        return [loss] + tape.gradient(loss, [t] + weights)

    spec = tf.TensorSpec([None, None, None, inputs.shape[-1]], tf.float32)
    unrolled = tf.function(value_and_grads)(tf.constant(inputs))
    looped = tf.function(value_and_grads, input_signature=[spec])(tf.constant(inputs))
    assert len(unrolled) == len(weights) + 2 == 2 + 5  # kernels, biases, initial h and c
    for a, b in zip(unrolled, looped):
        assert a is not None and b is not None
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        assert np.any(a.numpy() != 0)


def test_conditional_row_lstm_matches_numpy_loop(inputs):
    cond = np.random.default_rng(2).normal(size=inputs.shape[:3] + (3,)).astype(np.float32)
    layer = RowLSTM(4, num_groups=3, conditioning_features=3)
    layer.build(inputs.shape)
    _randomize(layer)
    got = tf.function(lambda a, b: layer(a, b))(inputs, cond).numpy()
    np.testing.assert_allclose(got, np_row_lstm(layer, inputs, cond), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="conditioning"):
        layer(inputs)


@pytest.mark.parametrize("mode", ["eager", "tf.function", "unknown height"])
@pytest.mark.parametrize("shape", [(2, 5, 6, 6), (1, 7, 3, 3), (1, 1, 4, 3)])
def test_diagonal_bilstm_matches_numpy_loop(mode, shape):
    # Known sizes run the unrolled bands, an unknown one the loop (diagonal_lstm_sweep).
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    layer = DiagonalBiLSTM(3, num_groups=3)
    layer.build(x.shape)
    _randomize(layer)
    fn = {"eager": layer, "tf.function": tf.function(lambda t: layer(t)),
          "unknown height": _unknown_height(layer, x)}[mode]
    got = fn(tf.constant(x)).numpy()
    np.testing.assert_allclose(got, np_diagonal_bilstm(layer, x.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)


def test_tf_function_retraces_for_new_image_sizes():
    layer = DiagonalBiLSTM(2, num_groups=1)
    fn = tf.function(lambda t: layer(t))
    for shape in [(1, 3, 3, 1), (2, 4, 6, 1)]:
        x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(fn(x).numpy(), np_diagonal_bilstm(layer, x), atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 1, 2), (2, 3, 5, 4), (1, 6, 2, 2)])
def test_skew_columns_and_unskew_columns_match_numpy_and_their_gradients(shape):
    b, h, w, c = shape
    t_len = h + w - 1
    rng = np.random.default_rng(0)
    z = rng.normal(size=(b, h, w, 2 * c))
    index = SkewIndex(b, h, w)
    # Column t, row i of direction 0 is pixel (i, t - i); of direction 1 pixel (i, W-1-(t-i)).
    columns = skew_columns(tf.constant(z), index).numpy()
    valid = index.valid.numpy()[:, 0, 0, :, 0]
    assert columns.shape == (t_len, 2, b, h, c)
    for t in range(t_len):
        for i in range(h):
            inside = 0 <= t - i < w
            assert valid[t, i] == inside
            if inside:
                np.testing.assert_array_equal(columns[t, 0, :, i], z[:, i, t - i, :c])
                np.testing.assert_array_equal(columns[t, 1, :, i], z[:, i, w - 1 - (t - i), c:])
    # Unskew: each pixel's left-to-right state plus the right-to-left state of the pixel above.
    states = rng.normal(size=(t_len, 2, b, h, c)) * valid[:, None, None, :, None]
    want = np.zeros((b, h, w, c))
    for i in range(h):
        for j in range(w):
            want[:, i, j] = states[j + i, 0, :, i]
            if i:
                want[:, i, j] += states[(w - 1 - j) + i - 1, 1, :, i - 1]
    got = unskew_columns(tf.constant(states), index, w).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The hand-written gradients (inverse gathers) equal autodiff of a dense formulation: the
    # adjoint identity <skew(z), u> = <z, skew^T(u)> with u zero outside the image.
    upstream = rng.normal(size=columns.shape) * valid[:, None, None, :, None]
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        loss = tf.reduce_sum(skew_columns(zt, index) * upstream)
    grad = tape.gradient(loss, zt).numpy()
    want_grad = np.zeros_like(z)
    for t in range(t_len):
        for i in range(h):
            if 0 <= t - i < w:
                want_grad[:, i, t - i, :c] += upstream[t, 0, :, i]
                want_grad[:, i, w - 1 - (t - i), c:] += upstream[t, 1, :, i]
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12)
    st = tf.constant(states)
    up_img = rng.normal(size=want.shape)
    with tf.GradientTape() as tape:
        tape.watch(st)
        loss = tf.reduce_sum(unskew_columns(st, index, w) * up_img)
    grad = tape.gradient(loss, st).numpy()
    want_grad = np.zeros_like(states)
    for i in range(h):
        for j in range(w):
            want_grad[j + i, 0, :, i] += up_img[:, i, j]
            if i:
                want_grad[(w - 1 - j) + i - 1, 1, :, i - 1] += up_img[:, i, j]
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12)


def test_row_lstm_rejects_even_or_small_kernels():
    with pytest.raises(ValueError, match="odd and >= 3"):
        RowLSTM(4, kernel_size=2)
    with pytest.raises(ValueError, match="odd and >= 3"):
        RowLSTM(4, kernel_size=1)


def _autodiff_sweep(columns, kernel, valid=None):
    """The recurrence as plain TF ops in a Python loop, differentiated by autodiff."""
    h = c = tf.zeros_like(columns[0][..., :kernel.shape[1] // 2])
    out = []
    for j, column in enumerate(tf.unstack(columns)):
        h, c = lstm_gates(column + _state_to_state(h, kernel), c)
        if valid is not None:
            h, c = h * valid[j], c * valid[j]
        out.append(h)
    return tf.stack(out)


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
@pytest.mark.parametrize("static_length", [True, False])
def test_diagonal_sweep_gradient_equals_autodiff(mode, static_length):
    # The sweep's hand-written gradient (kernel gradient formed after the backward loop)
    # against autodiff of the same recurrence, for the columns and the kernel.
    rng = np.random.default_rng(4)
    units, length = 3, 6
    columns = tf.constant(rng.normal(size=(length, 2, 2, 4, 4 * units)), tf.float64)
    kernel = tf.constant(rng.normal(scale=0.5, size=(2, 2 * units, 4 * units)), tf.float64)
    upstream = tf.constant(rng.normal(size=(length, 2, 2, 4, units)), tf.float64)

    def value_and_grads(fn, cols, k):
        with tf.GradientTape() as tape:
            tape.watch([cols, k])
            out = fn(cols, k)
            loss = tf.reduce_sum(out * upstream)
        return (out,) + tuple(tape.gradient(loss, [cols, k]))

    def ours(cols, k):
        return diagonal_lstm_sweep(cols, k, length if static_length else tf.shape(cols)[0])

    def loop(cols, k):  # the tf.while_loop the benchmark compares with
        return diagonal_lstm_sweep_autodiff(cols, k, length)

    run = value_and_grads if mode == "eager" else tf.function(value_and_grads)
    want = value_and_grads(_autodiff_sweep, columns, kernel)
    for fn in (ours, loop):
        got = run(fn, columns, kernel)
        for g, w, what in zip(got, want, ("output", "d columns", "d kernel")):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{fn.__name__}: {what}")
    assert np.abs(want[2].numpy()).min() > 0  # every kernel entry gets a gradient here


@pytest.mark.parametrize("height, width", [(4, 5), (5, 2), (1, 3), (3, 1), (3, 3)])
def test_diagonal_bands_equal_the_masked_recurrence_with_gradients(height, width):
    # The unrolled bands (only the rows inside the image) against autodiff of the full
    # recurrence that zeroes the state outside the image, in float64: outputs, d columns
    # (zero outside the image in both) and d kernel.
    rng = np.random.default_rng(6)
    units, batch, length = 2, 2, height + width - 1
    index = SkewIndex(batch, height, width)
    valid = tf.cast(index.valid, tf.float64)
    columns = tf.constant(rng.normal(size=(length, 2, batch, height, 4 * units)), tf.float64)
    kernel = tf.constant(rng.normal(scale=0.5, size=(2, 2 * units, 4 * units)), tf.float64)
    upstream = tf.constant(rng.normal(size=(length, 2, batch, height, units)), tf.float64)

    def value_and_grads(fn):
        with tf.GradientTape() as tape:
            tape.watch([columns, kernel])
            out = fn(columns, kernel)
            loss = tf.reduce_sum(out * upstream)
        return (out,) + tuple(tape.gradient(loss, [columns, kernel]))

    got = value_and_grads(lambda c, k: diagonal_lstm_bands(c, k, height))
    want = value_and_grads(lambda c, k: _autodiff_sweep(c, k, valid))
    for g, w, what in zip(got, want, ("output", "d columns", "d kernel")):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12, err_msg=what)
    inside = np.broadcast_to(index.valid.numpy()[..., 0] > 0, got[1].shape[:-1])
    assert np.all(np.abs(got[1].numpy()).max(-1)[inside] > 0)  # every pixel gets a gradient
    if height > 1 and width > 1:
        assert np.abs(want[2].numpy()).min() > 0


def test_diagonal_bilstm_layer_gradient_equals_autodiff(monkeypatch):
    # The whole layer (skew, both directions, unskew, shift) with and without the sweep.
    import pixelrnn_tf.layers.diagonal_bilstm as module

    x = tf.constant(np.random.default_rng(5).normal(size=(2, 4, 5, 6)), tf.float32)
    layer = DiagonalBiLSTM(3, num_groups=3)
    layer.build(x.shape)
    _randomize(layer)

    def grads():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * tf.sin(tf.range(3.0)))
        return [t.numpy() for t in tape.gradient(loss, [x] + layer.trainable_weights)]

    got = grads()
    monkeypatch.setattr(module, "diagonal_lstm_sweep",
                        lambda cols, k, n, valid: _autodiff_sweep(cols, k, valid))
    for g, w in zip(got, grads()):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
