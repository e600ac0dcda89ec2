"""Floating-point operations of one forward pass per image, counted from the traced graph
(the FLOP limit of the sampling benchmark: a cached sampler does about one forward pass of
work per image, so its time cannot go below these FLOPs at the machine's peak)."""

import math

import tensorflow as tf


def _dims(op, index):
    return [int(d) for d in op.inputs[index].shape]


def _einsum_flops(op):
    equation = op.get_attr("equation").decode()
    inputs = equation.split("->")[0].split(",")
    sizes, ellipsis = {}, 1
    for n, term in enumerate(inputs):
        shape = _dims(op, n)
        letters = term.replace("...", "")
        lead = len(shape) - len(letters)
        if "..." in term:
            start = term.index("...")
            ellipsis = max(ellipsis, math.prod(shape[start:start + lead]))
            shape = shape[:start] + shape[start + lead:]
        sizes.update(zip(letters, shape))
    return 2 * ellipsis * math.prod(sizes.values())


def _op_flops(op):
    if op.type == "Conv2D":
        kh, kw, c_in, _ = _dims(op, 1)
        return 2 * math.prod(int(d) for d in op.outputs[0].shape) * kh * kw * c_in
    if op.type == "Conv2DBackpropInput":  # conv2d_transpose: every input meets the kernel
        kh, kw, c_out, _ = _dims(op, 1)
        return 2 * math.prod(_dims(op, 2)) * kh * kw * c_out
    if op.type == "MatMul":
        a, b = _dims(op, 0), _dims(op, 1)
        inner = a[0] if op.get_attr("transpose_a") else a[1]
        return 2 * a[0] * a[1] * b[0] * b[1] // inner
    if op.type in ("BatchMatMulV2", "BatchMatMulV3"):
        a, b = _dims(op, 0), _dims(op, 1)
        out = [int(d) for d in op.outputs[0].shape]
        inner = a[-2] if op.get_attr("adj_x") else a[-1]
        return 2 * math.prod(out) * inner
    if op.type == "Einsum":
        return _einsum_flops(op)
    return 0


def graph_flops(fn, *specs):
    """FLOPs of `fn` traced on the TensorSpecs `specs` (static shapes); ValueError if the
    graph has a loop (its body's trip count is not in the graph)."""
    graph = tf.function(fn).get_concrete_function(*specs).graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("While", "StatelessWhile"):
            raise ValueError("the graph has a while loop: count it per layer instead")
        total += _op_flops(op)
    return total


def forward_flops(model):
    """FLOPs of one forward pass of `model`'s network for one image: the mixture parameters
    of the logistic-mixture models, the logits of the others. The recurrent layers unroll
    their rows / diagonals at the static image size traced here; a graph that still holds a
    loop is counted per layer by bench_train.count_macs."""
    spec = tf.TensorSpec((1,) + tuple(model.image_shape), tf.int32)
    conditioning = model.zero_conditioning()
    if hasattr(model, "mixture_parameters"):
        def forward(images):
            return model.mixture_parameters(model.scale(images), conditioning)
    else:
        def forward(images):
            return model(images, conditioning) if conditioning is not None else model(images)
    try:
        return graph_flops(forward, spec)
    except ValueError:
        from pixelrnn_tf.bench_train import count_macs

        return 2 * count_macs(model)
