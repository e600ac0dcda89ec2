"""`run_layer_test`: the checks every public layer passes (keras-hub's TestCase.run_layer_test).

For one layer class and its constructor arguments, on random inputs:
  * output: the eager call gives the expected shape(s), float32, finite; the symbolic call
    (KerasTensor inputs, i.e. `compute_output_shape`) gives the same shape(s);
  * weights: the expected numbers of trainable and non-trainable weights;
  * config round trip: `from_config(get_config())` has an identical config, the same weight
    count and shapes, and after `set_weights(get_weights())` identical outputs;
  * serialization round trip: `keras.saving.serialize_keras_object` (JSON-serializable,
    registered as "pixelrnn_tf>ClassName") and `deserialize_keras_object` without custom
    objects give the class back with an identical config and, with the weights copied,
    identical outputs;
  * causality ("masks hold before training"): a `CausalCheck` says, for each (input, output)
    pair, which output entries may depend on which input entries. Every input entry is
    perturbed in its own batch copy (forward passes only, so hand-written gradients do not
    matter); an output change outside the allowed set is a leak, and the check is not vacuous:
    every output position must change with the input position(s) it is required to see.
    A layer with no mask passes `NotCausal(reason)` instead, so the skip is explicit.
"""

import dataclasses
import json
from typing import Callable, Optional

import keras
import numpy as np

from pixelrnn_tf.layers.masking import channel_groups

# ---------------------------------------------------------------- causality rules
#
# A rule is allowed(o, i) -> bool array, broadcast over index grids: `o` and `i` are dicts
# with "row", "col", "feat" arrays (output and input entry coordinates). `required(o, i)` is
# a position-level (row, col only) predicate: each output position must depend on at least
# one input feature at each input position it marks.


def _named(fn, name):
    fn.__qualname__ = name
    return fn


def _raster_before(o, i):
    return (i["row"] < o["row"]) | ((i["row"] == o["row"]) & (i["col"] < o["col"]))


def _same_position(o, i):
    return (i["row"] == o["row"]) & (i["col"] == o["col"])


def raster(mask_type, in_groups, out_groups):
    """PixelRNN mask: any feature of an earlier pixel (raster order); at the same pixel, input
    group g' < g (mask "A") or g' <= g (mask "B") for output group g. Groups are arrays of the
    group of each input / output feature (see masking.channel_groups)."""
    in_groups, out_groups = np.asarray(in_groups), np.asarray(out_groups)

    def allowed(o, i):
        gin, gout = in_groups[i["feat"]], out_groups[o["feat"]]
        centre = gin < gout if mask_type == "A" else gin <= gout
        return _raster_before(o, i) | (_same_position(o, i) & centre)

    return _named(allowed, f"raster(mask {mask_type})")


def raster_positions(strict):
    """Any feature of an earlier position in raster order, the same one too unless strict."""
    def allowed(o, i):
        before = _raster_before(o, i)
        return before if strict else before | _same_position(o, i)

    return _named(allowed, "raster_positions(" + ("strict" if strict else "<=") + ")")


def rows_up_to(stride=1, right=False, strict=False):
    """Input row <= stride * output row (< if strict); with `right`, input column <=
    stride * output column too (PixelCNN++'s down- and down-right-shifted convolutions)."""
    def allowed(o, i):
        ok = i["row"] < stride * o["row"] if strict else i["row"] <= stride * o["row"]
        if right:
            ok = ok & (i["col"] <= stride * o["col"])
        return ok

    return _named(allowed, f"rows_up_to(stride={stride}, right={right}, strict={strict})")


def upsampled_rows(stride, right=False):
    """stride * input row <= output row (and column, with `right`): transposed convolutions."""
    def allowed(o, i):
        ok = stride * i["row"] <= o["row"]
        if right:
            ok = ok & (stride * i["col"] <= o["col"])
        return ok

    return _named(allowed, f"upsampled_rows(stride={stride}, right={right})")


def nothing(o, i):
    """The output may not depend on this input at all."""
    return np.zeros(np.broadcast_shapes(o["row"].shape, i["row"].shape), bool)


def same_row(o, i):
    return i["row"] == o["row"]


def both(*rules):
    """Allowed by every one of `rules`."""
    def allowed(o, i):
        return np.logical_and.reduce([rule(o, i) for rule in rules])

    allowed.__qualname__ = " & ".join(r.__qualname__ for r in rules)
    return allowed


def at(*offsets, stride=1, upsample=False):
    """Required: the input positions (row + drow, col + dcol) for each (drow, dcol) in
    `offsets`, of the output's (row, col) scaled by `stride` (divided by it, `upsample`)."""
    def required(o, i):
        if upsample:
            row, col = o["row"] // stride, o["col"] // stride
        else:
            row, col = o["row"] * stride, o["col"] * stride
        return np.logical_or.reduce([(i["row"] == row + dr) & (i["col"] == col + dc)
                                     for dr, dc in offsets])

    return required


@dataclasses.dataclass
class Rule:
    input_index: int  # which input tensor (0 for a single-input layer)
    allowed: Callable
    required: Optional[Callable] = None
    output_index: int = 0  # which output tensor (0 for a single-output layer)


@dataclasses.dataclass
class CausalCheck:
    """The rules of a masked layer. Inputs not listed (e.g. a conditioning vector or map,
    known before sampling) are not checked; listed pairs are checked both ways (no leak, and
    the required dependences exist)."""
    rules: list
    perturbation: float = 1.0
    # An output change above atol is a dependence. Not 0: identical batch copies already
    # differ by up to ~3e-8 (a copy's position in the batch changes the kernels' rounding,
    # measured on RowLSTM); real dependences are ~1e-3 and more, a broken mask ~0.1.
    atol: float = 1e-6

    @property
    def applies(self):
        return True

    def describe(self):
        return "causal check: " + ", ".join(
            f"input {r.input_index} -> output {r.output_index}: {r.allowed.__qualname__}"
            for r in self.rules)


@dataclasses.dataclass
class NotCausal:
    """The layer has no mask to check; `reason` says why (e.g. it sees only known inputs)."""
    reason: str

    @property
    def applies(self):
        return False

    def describe(self):
        return "no causal check: " + self.reason


def group_of(num_features, num_groups, num_blocks=1):
    return channel_groups(num_features, num_groups, num_blocks)


# ---------------------------------------------------------------- the helper

def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_shape(x):
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def _random_inputs(input_shapes, rng):
    if _is_shape(input_shapes):
        return rng.normal(size=input_shapes).astype(np.float32)
    return [rng.normal(size=s).astype(np.float32) for s in input_shapes]


def _numpy_outputs(outputs):
    return [np.asarray(keras.ops.convert_to_numpy(y)) for y in _as_list(outputs)]


def _call(layer, inputs, call_kwargs):
    return layer(inputs, **call_kwargs)


def _assert_same_outputs(a, b, what):
    for k, (ya, yb) in enumerate(zip(_numpy_outputs(a), _numpy_outputs(b))):
        np.testing.assert_array_equal(ya, yb, err_msg=f"{what}: output {k} differs")


CHECKS = ("output", "symbolic", "weights", "config", "serialization", "causal")


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape, *,
                   call_kwargs=None, call_kwarg_shapes=None, expected_num_trainable_weights,
                   expected_num_non_trainable_weights=0, causal, seed=0, checks=CHECKS):
    """Run the checks of the module docstring on `layer_cls(**init_kwargs)`.

    input_shape: a shape tuple, or a list of them for a layer called on a list of tensors.
    expected_output_shape: a shape tuple, or a tuple/list of them for several outputs.
    call_kwargs: extra call arguments passed as they are (e.g. output_size=(4, 5)).
    call_kwarg_shapes: extra call arguments drawn at random with these shapes (e.g.
        conditioning=(2, 3)).
    causal: a CausalCheck, or NotCausal(reason) for a layer without a mask (required: every
        layer says which applies; "causal" in `checks` is then a no-op).
    checks: a subset of CHECKS to run (all by default), so that a test can run, and mark,
        each check on its own.
    """
    if not isinstance(causal, (CausalCheck, NotCausal)):
        raise TypeError("causal must be a CausalCheck or NotCausal(reason), got "
                        f"{causal!r}")
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; known: {CHECKS}")
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    inputs = _random_inputs(input_shape, rng)
    kwargs = dict(call_kwargs or {})
    for name, shape in (call_kwarg_shapes or {}).items():
        kwargs[name] = rng.normal(size=shape).astype(np.float32)
    expected = (list(expected_output_shape) if not _is_shape(expected_output_shape)
                else [expected_output_shape])

    layer = layer_cls(**init_kwargs)
    outputs = _call(layer, inputs, kwargs)
    if "output" in checks:
        # Output shape, dtype, finiteness of the eager call.
        got = _numpy_outputs(outputs)
        assert len(got) == len(expected), (len(got), len(expected))
        for y, shape in zip(got, expected):
            assert y.shape == tuple(shape), (y.shape, shape)
            assert y.dtype == np.float32, y.dtype
            assert np.isfinite(y).all()

    if "symbolic" in checks:
        # The symbolic call (KerasTensors, as in a functional model) gives the same shapes.
        symbolic_inputs = ([keras.KerasTensor(s) for s in input_shape]
                           if not _is_shape(input_shape) else keras.KerasTensor(input_shape))
        symbolic_kwargs = {name: (keras.KerasTensor(v.shape) if isinstance(v, np.ndarray)
                                  else v) for name, v in kwargs.items()}
        symbolic = _as_list(layer_cls(**init_kwargs)(symbolic_inputs, **symbolic_kwargs))
        assert [tuple(s.shape) for s in symbolic] == [tuple(s) for s in expected], (
            [s.shape for s in symbolic], expected)

    if "weights" in checks:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, [
            w.path for w in layer.trainable_weights]
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, [
            w.path for w in layer.non_trainable_weights]
    weights = layer.get_weights()
    config = layer.get_config()

    if "config" in checks:
        clone = layer_cls.from_config(config)
        assert type(clone) is layer_cls
        assert clone.get_config() == config
        _call(clone, inputs, kwargs)
        assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
        assert len(clone.trainable_weights) == len(layer.trainable_weights)
        clone.set_weights(weights)
        _assert_same_outputs(_call(clone, inputs, kwargs), outputs, "from_config clone")

    if "serialization" in checks:
        # JSON, as a .keras file stores it, under the registered name; no custom_objects.
        serialized = keras.saving.serialize_keras_object(layer)
        assert serialized["registered_name"] == f"pixelrnn_tf>{layer_cls.__name__}", (
            serialized)
        serialized = json.loads(json.dumps(serialized))
        restored = keras.saving.deserialize_keras_object(serialized)
        assert type(restored) is layer_cls
        assert restored.get_config() == config
        if not restored.built:
            _call(restored, inputs, kwargs)
        assert [w.shape for w in restored.weights] == [w.shape for w in layer.weights]
        restored.set_weights(weights)
        _assert_same_outputs(_call(restored, inputs, kwargs), outputs, "deserialized layer")

    if "causal" in checks and causal.applies:
        # Causality of the untrained layer.
        run_causal_check(layer, inputs, kwargs, causal)
    return layer


def _entry_grid(shape3):
    rows, cols, feats = np.meshgrid(*[np.arange(n) for n in shape3], indexing="ij")
    return {"row": rows, "col": cols, "feat": feats}


def _flatten_features(y):
    """(B, H, W, ...) -> (B, H, W, F): e.g. PixelRNNNetwork's (C, L) logits, channel-major,
    so feature c * L + l is in colour group c."""
    return y.reshape(y.shape[:3] + (-1,))


def dependence_by_perturbation(layer, inputs, call_kwargs, input_index, output_index,
                               perturbation=1.0, atol=1e-6):
    """Bool (Ho, Wo, Fo, Hi, Wi, Fi): output entry changes when the input entry (of the first
    batch element) is changed by `perturbation`. One batch copy per input entry, one call."""
    inputs_list = _as_list(inputs)
    base = [x[:1] for x in inputs_list]
    x = base[input_index]
    _, h, w, f = x.shape
    n = h * w * f
    copies = [np.repeat(b, n + 1, axis=0) for b in base]
    bump = np.zeros((n + 1, n), np.float32)
    bump[1:] = np.eye(n, dtype=np.float32) * perturbation
    copies[input_index] = copies[input_index] + bump.reshape(n + 1, h, w, f)
    kwargs = {k: (np.repeat(v[:1], n + 1, axis=0) if isinstance(v, np.ndarray) else v)
              for k, v in call_kwargs.items()}
    layer_inputs = copies if isinstance(inputs, (list, tuple)) else copies[0]
    y = _flatten_features(_numpy_outputs(layer(layer_inputs, **kwargs))[output_index])
    changed = np.abs(y[1:] - y[:1]) > atol  # (n, Ho, Wo, Fo)
    changed = changed.reshape((h, w, f) + y.shape[1:])
    return np.transpose(changed, (3, 4, 5, 0, 1, 2))


def run_causal_check(layer, inputs, call_kwargs, check, num_draws=2, seed=1):
    """Every rule of `check` on `layer`: no output change outside `allowed` for any of a few
    random inputs; each output position changes with every input position `required` marks
    (for at least one of the draws)."""
    rng = np.random.default_rng(seed)
    draws = [inputs] + [_random_inputs(
        [tuple(x.shape) for x in _as_list(inputs)] if isinstance(inputs, (list, tuple))
        else tuple(inputs.shape), rng) for _ in range(num_draws - 1)]
    for rule in check.rules:
        dep = np.any([dependence_by_perturbation(layer, x, call_kwargs, rule.input_index,
                                                 rule.output_index, check.perturbation,
                                                 check.atol) for x in draws], axis=0)
        out_shape, in_shape = dep.shape[:3], dep.shape[3:]
        o = {k: v[(...,) + (None,) * 3] for k, v in _entry_grid(out_shape).items()}
        i = {k: v[(None,) * 3] for k, v in _entry_grid(in_shape).items()}
        allowed = np.broadcast_to(rule.allowed(o, i), dep.shape)
        leaks = np.argwhere(dep & ~allowed)
        assert not len(leaks), (
            f"{type(layer).__name__} input {rule.input_index} -> output {rule.output_index}: "
            f"(out row, col, feat, in row, col, feat) leaks {leaks[:6].tolist()}")
        if allowed.any():
            assert dep.any(), (f"{type(layer).__name__} input {rule.input_index} -> output "
                               f"{rule.output_index}: vacuous, the output depends on nothing")
        if rule.required is not None:
            o_pos = {k: o[k][:, :, 0, :, :, 0] for k in ("row", "col")}  # (Ho, Wo, 1, 1)
            i_pos = {k: i[k][:, :, 0, :, :, 0] for k in ("row", "col")}
            required = np.broadcast_to(rule.required(o_pos, i_pos), dep.shape[:2] +
                                       dep.shape[3:5])
            seen = dep.any(axis=(2, 5))  # (Ho, Wo, Hi, Wi)
            missing = np.argwhere(required & ~seen)
            assert not len(missing), (
                f"{type(layer).__name__} input {rule.input_index} -> output "
                f"{rule.output_index}: (out row, col, in row, col) not seen "
                f"{missing[:6].tolist()}")
