"""Every public layer and network through the shared `run_layer_test` (tests/layer_test_helper.py):
output shape and dtype (eager and symbolic), weight counts, config round trip with identical
outputs, serialization round trip, and, for masked layers, causality of the untrained layer.

CASES lists each layer with the causal check that applies to it (or NotCausal and why); the
test ids say which ("...-causal" / "...-no_causal"). `test_every_public_layer_is_covered`
fails when a layer class is added to pixelrnn_tf.layers or pixelrnn_tf.networks without a case
here. Tiny sizes: batch 2, images 4 x 5, a few features."""

import dataclasses
import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

import pixelrnn_tf.layers
import pixelrnn_tf.networks
from pixelrnn_tf.layers import masked_conv2d
from pixelrnn_tf.layers.causal_attention import CausalAttention
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
from pixelrnn_tf.layers.recurrent_residual_block import RecurrentResidualBlock
from pixelrnn_tf.layers.row_lstm import RowLSTM
from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork
from pixelrnn_tf.networks.upsampler import Upsampler
from tests.layer_test_helper import (CHECKS, CausalCheck, NotCausal, Rule, at, both, group_of,
                                     nothing, raster, raster_positions, rows_up_to,
                                     run_causal_check, run_layer_test, same_row,
                                     upsampled_rows)

B, H, W = 2, 4, 5

@dataclasses.dataclass
class Case:
    id: str
    cls: type
    init_kwargs: dict
    input_shape: object
    output_shape: object
    num_trainable_weights: int
    causal: object
    call_kwargs: dict = dataclasses.field(default_factory=dict)
    call_kwarg_shapes: dict = dataclasses.field(default_factory=dict)
    marks: dict = dataclasses.field(default_factory=dict)  # check -> pytest marks (xfail)


def _raster_case(mask_type, in_features, out_features, groups, in_blocks=1, out_blocks=1,
                 required=((0, -1), (-1, 0))):
    return CausalCheck([Rule(0, raster(mask_type, group_of(in_features, groups, in_blocks),
                                       group_of(out_features, groups, out_blocks)),
                             at(*required))])


CASES = [
    # ---- PixelRNN layers: the paper's masks A / B over raster order and colour groups.
    Case("MaskedConv2D-A", MaskedConv2D, dict(filters=6, kernel_size=3, mask_type="A",
                                              num_groups=3),
         (B, H, W, 3), (B, H, W, 6), 2, _raster_case("A", 3, 6, 3)),
    Case("MaskedConv2D-B-blocks-1x3", MaskedConv2D,
         dict(filters=6, kernel_size=(1, 3), mask_type="B", num_groups=3, in_blocks=2,
              out_blocks=2, use_bias=False),
         (B, H, W, 6), (B, H, W, 6), 1,
         _raster_case("B", 6, 6, 3, 2, 2, required=((0, 0), (0, -1)))),
    Case("RowLSTM", RowLSTM, dict(units=4, kernel_size=3, num_groups=3),
         (B, H, W, 3), (B, H, W, 4), 5,
         _raster_case("B", 3, 4, 3, required=((0, 0), (0, -1), (-1, 0), (-1, 1)))),
    Case("RowLSTM-conditional", RowLSTM,
         dict(units=3, kernel_size=5, num_groups=1, conditioning_features=2),
         (B, H, W, 2), (B, H, W, 3), 7,
         _raster_case("B", 2, 3, 1, required=((0, 0), (0, -2), (-1, 0))),
         call_kwarg_shapes=dict(conditioning=(B, H, W, 2))),
    Case("DiagonalBiLSTM", DiagonalBiLSTM, dict(units=4, num_groups=3),
         (B, H, W, 3), (B, H, W, 4), 3,
         # Both directions: the left-to-right one sees (i, j - 1), the shifted right-to-left
         # one the row above on the right.
         _raster_case("B", 3, 4, 3, required=((0, 0), (0, -1), (-1, 0), (-1, 1)))),
    Case("DiagonalBiLSTM-conditional", DiagonalBiLSTM,
         dict(units=3, num_groups=1, conditioning_features=2),
         (B, H, W, 2), (B, H, W, 3), 5,
         _raster_case("B", 2, 3, 1, required=((0, 0), (0, -1), (-1, 0), (-1, 1))),
         call_kwarg_shapes=dict(conditioning=(B, H, W, 2))),
    Case("ConvResidualBlock", ConvResidualBlock, dict(units=3, kernel_size=3, num_groups=3),
         (B, H, W, 6), (B, H, W, 6), 6,
         _raster_case("B", 6, 6, 3, required=((0, 0), (0, -1), (-1, 0), (-1, 1)))),
    Case("ConvResidualBlock-conditional-no_residual", ConvResidualBlock,
         dict(units=3, kernel_size=5, num_groups=1, residual=False, conditioning_features=2),
         (B, H, W, 4), (B, H, W, 6), 8,
         _raster_case("B", 4, 6, 1, required=((0, 0), (0, -2), (-2, 2))),
         call_kwarg_shapes=dict(conditioning=(B, H, W, 2))),
    Case("RecurrentResidualBlock-row_lstm", RecurrentResidualBlock,
         dict(units=3, kind="row_lstm", num_groups=3),
         (B, H, W, 6), (B, H, W, 6), 7,
         _raster_case("B", 6, 6, 3, required=((0, 0), (0, -1), (-1, 0), (-1, 1)))),
    Case("RecurrentResidualBlock-diagonal_bilstm-conditional-no_residual",
         RecurrentResidualBlock,
         dict(units=3, kind="diagonal_bilstm", num_groups=1, residual=False,
              conditioning_features=2),
         (B, H, W, 2), (B, H, W, 6), 7,
         _raster_case("B", 2, 6, 1, required=((0, 0), (0, -1), (-1, 0), (-1, 1))),
         call_kwarg_shapes=dict(conditioning=(B, H, W, 2))),
    # ---- PixelCNN++ / PixelSNAIL layers: shifted convolutions, no colour groups.
    Case("DownShiftedConv2D", DownShiftedConv2D, dict(filters=4),
         (B, H, W, 2), (B, H, W, 4), 2,
         CausalCheck([Rule(0, rows_up_to(), at((0, 0), (-1, 0), (0, -1), (0, 1)))])),
    Case("DownShiftedConv2D-stride2", DownShiftedConv2D,
         dict(filters=4, kernel_size=(2, 3), strides=2),
         (B, H, W, 2), (B, 2, 3, 4), 2,
         CausalCheck([Rule(0, rows_up_to(2), at((0, 0), (-1, 0), stride=2))])),
    Case("DownRightShiftedConv2D", DownRightShiftedConv2D, dict(filters=4),
         (B, H, W, 2), (B, H, W, 4), 2,
         CausalCheck([Rule(0, rows_up_to(right=True),
                           at((0, 0), (-1, 0), (0, -1), (-1, -1)))])),
    Case("DownRightShiftedConv2D-stride2-2x1", DownRightShiftedConv2D,
         dict(filters=4, kernel_size=(2, 1), strides=2),
         (B, H, W, 2), (B, 2, 3, 4), 2,
         CausalCheck([Rule(0, rows_up_to(2, right=True), at((0, 0), (-1, 0), stride=2))])),
    Case("DownShiftedConvTranspose2D-crop", DownShiftedConvTranspose2D, dict(filters=4),
         (B, 2, 3, 2), (B, H, W, 4), 2,
         CausalCheck([Rule(0, upsampled_rows(2), at((0, 0), stride=2, upsample=True))]),
         call_kwargs=dict(output_size=(H, W))),
    Case("DownShiftedConvTranspose2D-full", DownShiftedConvTranspose2D,
         dict(filters=4, kernel_size=(2, 3), strides=2),
         (B, 2, 3, 2), (B, 4, 6, 4), 2,
         CausalCheck([Rule(0, upsampled_rows(2), at((0, 0), stride=2, upsample=True))])),
    Case("DownRightShiftedConvTranspose2D-crop", DownRightShiftedConvTranspose2D,
         dict(filters=4), (B, 2, 3, 2), (B, 3, 5, 4), 2,
         CausalCheck([Rule(0, upsampled_rows(2, right=True),
                           at((0, 0), stride=2, upsample=True))]),
         call_kwargs=dict(output_size=(3, 5))),
    Case("GatedResNetBlock-down_shifted", GatedResNetBlock, dict(conv_type="down_shifted"),
         (B, H, W, 4), (B, H, W, 4), 4,
         CausalCheck([Rule(0, rows_up_to(), at((0, 0), (-1, 1), (-1, -1)))])),
    Case("GatedResNetBlock-down_right-aux-conditional-elu", GatedResNetBlock,
         dict(conv_type="down_right_shifted", dropout_rate=0.3, conditioning_dim=3,
              nonlinearity="elu"),
         [(B, H, W, 4), (B, H, W, 3)], (B, H, W, 4), 6,
         CausalCheck([Rule(0, rows_up_to(right=True), at((0, 0), (-1, -1))),
                      Rule(1, rows_up_to(right=True), at((0, 0), (-1, -1)))]),
         call_kwarg_shapes=dict(conditioning=(B, 3))),
    Case("GatedPixelCNNLayer-A", GatedPixelCNNLayer,
         dict(units=3, kernel_size=3, mask_type="A", num_groups=3, residual=False),
         [(B, H, W, 3), (B, H, W, 3)], ((B, H, W, 3), (B, H, W, 3)), 7,
         CausalCheck([
             # vertical stack: rows <= i, all columns of the kernel; never the horizontal
             Rule(0, rows_up_to(), at((0, 0), (-1, 0), (0, 1)), output_index=0),
             Rule(1, nothing, output_index=0),
             # horizontal stack: the vertical one strictly above, its own row masked
             Rule(0, rows_up_to(strict=True), at((-1, 0), (-1, 1)), output_index=1),
             Rule(1, both(raster("A", group_of(3, 3), group_of(3, 3)), same_row),
                  at((0, -1)), output_index=1)])),
    Case("GatedPixelCNNLayer-B-residual-conditional-dropout", GatedPixelCNNLayer,
         dict(units=4, kernel_size=3, mask_type="B", num_groups=3, residual=True,
              conditioning_dim=2, dropout_rate=0.3),
         [(B, H, W, 3), (B, H, W, 4)], ((B, H, W, 4), (B, H, W, 4)), 9,
         CausalCheck([
             Rule(0, rows_up_to(), at((0, 0), (-1, 0), (0, 1)), output_index=0),
             Rule(1, nothing, output_index=0),
             Rule(0, rows_up_to(strict=True), at((-1, 0), (-1, 1)), output_index=1),
             Rule(1, both(raster("B", group_of(4, 3), group_of(4, 3)), same_row),
                  at((0, 0), (0, -1)), output_index=1)]),
         call_kwarg_shapes=dict(conditioning=(B, 2))),
    # A network's last layer: the horizontal output alone, no vertical conditioning weights.
    Case("GatedPixelCNNLayer-B-conditional-no_vertical_output", GatedPixelCNNLayer,
         dict(units=4, kernel_size=3, mask_type="B", num_groups=3, residual=True,
              conditioning_dim=2, vertical_output=False),
         [(B, H, W, 3), (B, H, W, 4)], (B, H, W, 4), 8,
         CausalCheck([
             Rule(0, rows_up_to(strict=True), at((-1, 0), (-1, 1))),
             Rule(1, both(raster("B", group_of(4, 3), group_of(4, 3)), same_row),
                  at((0, 0), (0, -1)))]),
         call_kwarg_shapes=dict(conditioning=(B, 2))),
    Case("CausalAttention", CausalAttention, dict(key_size=4, value_size=4),
         [(B, H, W, 4), (B, H, W, 3)], (B, H, W, 4), 12,
         # x at positions <= t (the query at t), the image strictly before t; untrained,
         # every earlier position is seen.
         CausalCheck([Rule(0, raster_positions(strict=False), raster_positions(strict=True)),
                      Rule(1, raster_positions(strict=True), raster_positions(strict=True))])),
    Case("CausalAttention-heads2-conditional-concat_elu", CausalAttention,
         dict(key_size=4, value_size=6, num_heads=2, dropout_rate=0.2, conditioning_dim=3,
              nonlinearity="concat_elu"),
         [(B, H, W, 4), (B, H, W, 1)], (B, H, W, 6), 14,
         CausalCheck([Rule(0, raster_positions(strict=False), raster_positions(strict=True)),
                      Rule(1, raster_positions(strict=True), raster_positions(strict=True))]),
         call_kwarg_shapes=dict(conditioning=(B, 3))),
    # ---- networks
    Case("PixelRNNNetwork-pixel_cnn", PixelRNNNetwork,
         dict(num_channels=3, num_levels=4, block="pixel_cnn", num_layers=2, units=3,
              output_units=6),
         (B, H, W, 3), (B, H, W, 3, 4), 18,
         # logits (C, L) flattened channel-major: channel c's levels are colour group c.
         _raster_case("A", 3, 12, 3, required=((0, -1), (-1, 0), (-1, 1)))),
    Case("PixelRNNNetwork-row_lstm-binary-no_skip-no_residual", PixelRNNNetwork,
         dict(num_channels=1, num_levels=2, block="row_lstm", num_layers=1, units=2,
              output_units=4, residual=False, skip=False),
         (B, H, W, 1), (B, H, W, 1, 2), 13,
         _raster_case("A", 1, 2, 1, required=((0, -1), (-1, 0), (-1, 1)))),
    Case("PixelRNNNetwork-diagonal_bilstm-conditional", PixelRNNNetwork,
         dict(num_channels=3, num_levels=4, block="diagonal_bilstm", num_layers=1, units=3,
              output_units=6, conditioning_features=2),
         (B, H, W, 3), (B, H, W, 3, 4), 13,
         _raster_case("A", 3, 12, 3, required=((0, -1), (-1, 0), (-1, 1))),
         call_kwarg_shapes=dict(conditioning=(B, H, W, 2))),
    Case("Upsampler", Upsampler, dict(features=4, height=H, width=W),
         (B, 2, 3, 3), (B, H, W, 4), 4,
         NotCausal("unmasked by design: it reads the small image of a Multi-Scale model, "
                   "all of which is known before the conditional network runs")),
    Case("Upsampler_layers", Upsampler, dict(features=4, height=H, width=W, num_layers=2),
         (B, 2, 3, 3), (B, H, W, 4), 8,
         NotCausal("unmasked by design, as Upsampler")),
]


def _params():
    """(case, check) for every case and every check that applies to it: a NotCausal case has
    no "causal" test (its id says "no_causal" on the other checks instead)."""
    params = []
    for case in CASES:
        for check in CHECKS:
            if check == "causal" and not case.causal.applies:
                continue
            suffix = "" if case.causal.applies else "-no_causal"
            marks = case.marks.get(check, ())
            params.append(pytest.param(case, check, id=f"{case.id}{suffix}-{check}",
                                       marks=marks))
    return params


@pytest.mark.parametrize("case, check", _params())
def test_layer(case, check):
    run_layer_test(case.cls, case.init_kwargs, case.input_shape, case.output_shape,
                   call_kwargs=case.call_kwargs, call_kwarg_shapes=case.call_kwarg_shapes,
                   expected_num_trainable_weights=case.num_trainable_weights,
                   causal=case.causal, checks=(check,))


def _public_layer_classes():
    """Every keras Layer subclass defined in a module of pixelrnn_tf.layers / .networks."""
    found = set()
    for package in (pixelrnn_tf.layers, pixelrnn_tf.networks):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if obj.__module__ == module.__name__ and issubclass(obj, keras.layers.Layer):
                    found.add(obj)
    return found


def test_every_public_layer_is_covered():
    found = _public_layer_classes()
    assert len(found) >= 14, sorted(c.__name__ for c in found)  # the enumeration works
    covered = {case.cls for case in CASES}
    missing = sorted(c.__name__ for c in found - covered)
    assert not missing, f"layers without a case in tests/test_layers.py CASES: {missing}"


def test_every_public_layer_is_registered():
    for cls in _public_layer_classes():
        assert keras.saving.get_registered_name(cls) == f"pixelrnn_tf>{cls.__name__}", cls
        assert keras.saving.get_registered_object(f"pixelrnn_tf>{cls.__name__}") is cls


def test_every_case_says_which_causal_check_applies():
    for case in CASES:
        assert isinstance(case.causal, (CausalCheck, NotCausal)), case.id
        if isinstance(case.causal, NotCausal):
            assert case.causal.reason.strip(), case.id
        else:
            assert case.causal.rules, case.id
    # Every layer with a mask or a shift has at least one checked case.
    unchecked = {c.cls for c in CASES if c.causal.applies is False}
    assert unchecked == {Upsampler}, unchecked


# ---------------------------------------------------------------- negative controls
# The causal check fails when a mask is broken (and is not vacuous).

def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_causal_check_catches_an_unmasked_convolution(monkeypatch):
    monkeypatch.setattr(masked_conv2d, "causal_mask",
                        lambda kernel_size, i, o, *args: np.ones(kernel_size + (i, o),
                                                                 np.float32))
    layer = MaskedConv2D(6, 3, "A", num_groups=3)
    x = _inputs((B, H, W, 3))
    layer(x)
    with pytest.raises(AssertionError, match="leaks"):
        run_causal_check(layer, x, {}, _raster_case("A", 3, 6, 3))


def test_causal_check_catches_mask_b_where_a_is_required():
    layer = MaskedConv2D(6, 3, "B", num_groups=3)  # sees its own group at the centre
    x = _inputs((B, H, W, 3))
    layer(x)
    with pytest.raises(AssertionError, match="leaks"):
        run_causal_check(layer, x, {}, _raster_case("A", 3, 6, 3))


def test_causal_check_catches_a_centred_shifted_convolution(monkeypatch):
    # Padded as a plain SAME convolution: row i sees row i + 1.
    monkeypatch.setattr(DownShiftedConv2D, "padding", lambda self: [[1, 1], [1, 1]])
    layer = DownShiftedConv2D(4, (3, 3))
    x = _inputs((B, H, W, 2))
    layer(x)
    with pytest.raises(AssertionError, match="leaks"):
        run_causal_check(layer, x, {}, CausalCheck([Rule(0, rows_up_to())]))


def test_causal_check_is_not_vacuous():
    layer = MaskedConv2D(6, 3, "B", num_groups=3, kernel_initializer="zeros")
    x = _inputs((B, H, W, 3))
    layer(x)
    with pytest.raises(AssertionError, match="vacuous"):
        run_causal_check(layer, x, {}, _raster_case("B", 3, 6, 3))
    # A 1 x 3 kernel does not see the row above that the check requires.
    layer = MaskedConv2D(6, (1, 3), "B", num_groups=3)
    layer(x)
    with pytest.raises(AssertionError, match="not seen"):
        run_causal_check(layer, x, {}, _raster_case("B", 3, 6, 3))


class _ForgetfulMaskedConv2D(MaskedConv2D):
    """A broken layer for the control below: get_config drops mask_type."""

    def get_config(self):
        config = super().get_config()
        del config["mask_type"]
        return config


def test_config_check_catches_a_config_that_does_not_round_trip():
    with pytest.raises(AssertionError):
        run_layer_test(_ForgetfulMaskedConv2D, dict(filters=6, kernel_size=3, mask_type="A"),
                       (B, H, W, 3), (B, H, W, 6), expected_num_trainable_weights=2,
                       causal=_raster_case("A", 3, 6, 3), checks=("config",))
