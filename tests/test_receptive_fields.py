"""Receptive fields as the paper describes them (Figure 4), measured by exact gradients."""

import numpy as np
import pytest

from pixelrnn_tf.layers import masked_conv2d
from tests.conftest import build_tiny
from tests.helpers import dependence


def _preceding(shape):
    k = int(np.prod(shape))
    return np.tril(np.ones((k, k), bool), -1)  # raster order: input index < output index


def _idx(shape, *pos):
    return np.ravel_multi_index(pos, shape)


@pytest.mark.parametrize("shape", [(4, 8, 1), (3, 8, 3)])
def test_diagonal_bilstm_sees_every_preceding_subpixel_but_one(shape):
    """Every earlier sub-pixel, except the LAST sub-pixel of the previous row for pixels more
    than 3 columns (the 7x7 mask-A reach) from it.

    This exception is in the paper's architecture, not in this implementation: under mask A no
    feature at (i, j) depends on the last channel of x(i, j), so x(i-1, W-1, C-1) appears only
    at (i-1, >W-1) (outside the image) and in row i via the 7x7 convolution; the shifted
    right-to-left map of row i-1 therefore never carries it. All other earlier sub-pixels,
    including the right part of the row above, are seen, unlike the Row LSTM and PixelCNN.
    """
    h, w, c = shape
    model = build_tiny("diagonal_bilstm", shape, num_levels=4)
    seen = dependence(model) != 0
    expected = _preceding(shape)
    for i in range(1, h):
        for j in range(w - 4):
            for ch in range(c):
                expected[_idx(shape, i, j, ch), _idx(shape, i - 1, w - 1, c - 1)] = False
    diff = [(np.unravel_index(k, shape), np.unravel_index(m, shape))
            for k, m in np.argwhere(seen != expected)]
    assert not diff, f"(output, input) pairs differing from the expected field: {diff[:8]}"


def test_row_lstm_context_is_the_triangle_above():
    shape = (4, 12, 1)
    h, w, _ = shape
    model = build_tiny("row_lstm", shape, num_levels=4)
    seen = dependence(model) != 0
    assert not np.any(seen & ~_preceding(shape))
    # The triangle: row i - d, columns j - d .. j + d (the state-to-state 1x3 conv widens
    # the context by one column per row) are all seen.
    for i, j in [(3, 6), (3, 0), (2, 11)]:
        for d in range(1, i + 1):
            for jj in range(max(0, j - d), min(w, j + d + 1)):
                assert seen[_idx(shape, i, j, 0), _idx(shape, i - d, jj, 0)], (i, j, d, jj)
    # It misses earlier pixels of a wide image: the start of its own row and of the row above.
    last = _idx(shape, h - 1, w - 1, 0)
    assert not seen[last, _idx(shape, h - 1, 0, 0)]
    assert not seen[last, _idx(shape, h - 2, 0, 0)]
    assert not seen[_idx(shape, h - 1, 0, 0), _idx(shape, h - 2, w - 1, 0)]


def test_pixel_cnn_has_the_blind_spot():
    """Stacked masked 3x3 convs never look right within a row: (i, j) sees (i-1, j+1..j+3)
    (the 7x7 reach) but not (i-1, j+4..), which the Diagonal BiLSTM sees."""
    shape = (3, 8, 1)
    pcnn = dependence(build_tiny("pixel_cnn", shape, num_levels=4)) != 0
    diag = dependence(build_tiny("diagonal_bilstm", shape, num_levels=4)) != 0
    out = _idx(shape, 2, 0, 0)
    for j in (1, 2, 3):
        assert pcnn[out, _idx(shape, 1, j, 0)]
    for j in (4, 5, 6):
        assert not pcnn[out, _idx(shape, 1, j, 0)], f"PixelCNN sees (1, {j})"
        assert diag[out, _idx(shape, 1, j, 0)], f"Diagonal BiLSTM misses (1, {j})"
    assert pcnn.sum() < diag.sum()


def test_causality_check_catches_an_unmasked_kernel(monkeypatch):
    """Negative control: with the masks disabled the dependence checker reports leaks."""
    monkeypatch.setattr(masked_conv2d, "causal_mask",
                        lambda kernel_size, fin, fout, *a, **k: np.ones(
                            tuple(kernel_size) + (fin, fout), np.float32))
    shape = (3, 3, 1)
    model = build_tiny("pixel_cnn", shape, num_levels=2)
    seen = dependence(model) != 0
    assert np.any(seen & ~_preceding(shape))
