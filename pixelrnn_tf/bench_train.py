"""Training throughput of the paper networks against a measured peak and a plain Keras
reference PixelCNN (stock Conv2D layers whose masks are `kernel_constraint`s, as in the
keras.io example and TFP). Run through `python -m pixelrnn_tf.bench train`."""

import contextlib
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import likelihood
from pixelrnn_tf.layers import (ConvResidualBlock, DiagonalBiLSTM, MaskedConv2D,
                                RecurrentResidualBlock, RowLSTM)
from pixelrnn_tf.layers.masking import causal_mask
from pixelrnn_tf.layers.skew import SkewIndex


def machine():
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"TF {tf.__version__}, Python {platform.python_version()}")


def count_macs(model):
    """Multiply-adds of one forward pass per image (convolutions and matmuls; masked-out
    kernel taps count, since they are computed)."""
    h, w, _ = model.image_shape
    total = 0

    def conv(layer, hh, ww):
        kh, kw, fin, fout = layer.kernel.shape
        return hh * ww * kh * kw * fin * fout

    def walk(layer, hh, ww):
        nonlocal total
        if isinstance(layer, MaskedConv2D) or isinstance(layer, (keras.layers.Conv2D,)):
            total += conv(layer, hh, ww)
        elif isinstance(layer, RowLSTM):
            total += conv(layer.input_to_state, hh, ww)
            k, u, g = layer.state_to_state_kernel.shape
            total += hh * ww * k * u * g
            if layer.conditioning_features:
                total += conv(layer.conditioning_conv, hh, ww)
        elif isinstance(layer, DiagonalBiLSTM):
            total += conv(layer.input_to_state, hh, ww)
            d, k2, g = layer.state_to_state_kernel.shape
            # The positions inside the image but the first (its state is the zero initial
            # one): what diagonal_lstm_bands computes at a known size (the while-loop sweep
            # of unknown sizes computes all H x (W + H - 1)).
            total += d * (hh * ww - 1) * k2 * g
            if layer.conditioning_features:
                total += conv(layer.conditioning_conv, hh, ww)
        elif isinstance(layer, (ConvResidualBlock, RecurrentResidualBlock)):
            for child in layer._layers:
                walk(child, hh, ww)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, fout, fin = layer.kernel.shape
            total += hh * ww * kh * kw * fin * fout
        elif hasattr(layer, "_layers"):
            for child in layer._layers:
                walk(child, hh, ww)

    for sub in model._layers:
        if getattr(sub, "name", "") in ("small_network",):
            sh, sw, _ = model.small_shape
            walk(sub, sh, sw)
        elif getattr(sub, "name", "") == "upsampler":
            sh, sw, _ = model.small_shape
            total += conv(sub.conv, sh, sw)
            kh, kw, fout, fin = sub.deconv.kernel.shape
            total += 4 * sh * sw * kh * kw * fin * fout
        else:
            walk(sub, h, w)
    return total


class MaskConstraint(keras.constraints.Constraint):
    def __init__(self, mask):
        self.mask = tf.constant(mask)

    def __call__(self, w):
        return w * self.mask


def reference_pixel_cnn(image_shape, num_levels, num_layers, units, output_units):
    """The same PixelCNN from stock Keras layers, masks as kernel constraints (applied by the
    optimizer after each update, so the untrained model is NOT causal: a speed reference)."""
    h, w, c = image_shape

    def conv(x, filters, k, mask_type="B", in_blocks=1):
        mask = causal_mask((k, k), x.shape[-1], filters, c, mask_type, in_blocks)
        return keras.layers.Conv2D(filters, k, padding="same",
                                   kernel_constraint=MaskConstraint(mask))(x)

    inputs = keras.Input(image_shape)
    x = conv(inputs, 2 * units, 7, "A")
    outs = []
    for _ in range(num_layers):
        y = conv(keras.layers.ReLU()(x), units, 1)
        y = conv(keras.layers.ReLU()(y), units, 3)
        y = conv(keras.layers.ReLU()(y), 2 * units, 1)
        x = keras.layers.Add()([x, y])
        outs.append(x)
    y = conv(keras.layers.ReLU()(keras.layers.Concatenate()(outs)), output_units, 1,
             in_blocks=num_layers)
    y = conv(keras.layers.ReLU()(y), c * num_levels, 1)
    y = keras.layers.Reshape((h, w, c, num_levels))(y)
    return keras.Model(inputs, y)


def _train_step_fn(model, call, scale, num_dims, jit):
    """call: logits of scaled images, or None to use the model's own log-likelihood (mixture
    models compute it without the (B, H, W, C, 256) table)."""
    optimizer = keras.optimizers.RMSprop(1e-4)
    optimizer.build(model.trainable_variables)

    def step(images):
        with tf.GradientTape() as tape:
            if call is None:
                log_p = likelihood.image_log_prob(model.pixel_log_prob_unchecked(images))
            else:
                log_p = likelihood.image_log_prob(
                    likelihood.pixel_log_prob_from_logits(call(scale(images)), images))
            loss = -tf.reduce_mean(log_p) / num_dims
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return tf.function(step, jit_compile=jit)


@contextlib.contextmanager
def _while_loop_sweep(enabled):
    """Within: DiagonalBiLSTM layers traced at a known size use the while_loop sweep over
    all H rows (hand-written gradient) instead of the unrolled bands of rows inside."""
    from pixelrnn_tf.layers import diagonal_bilstm

    bands = diagonal_bilstm.diagonal_lstm_bands

    def sweep(columns, kernel, height):
        width = int(columns.shape[0]) - height + 1
        valid = SkewIndex(tf.shape(columns)[2], height, width).valid
        return diagonal_bilstm.diagonal_lstm_sweep(columns, kernel, int(columns.shape[0]),
                                                   tf.cast(valid, columns.dtype))

    if enabled:
        diagonal_bilstm.diagonal_lstm_bands = sweep
    try:
        yield
    finally:
        diagonal_bilstm.diagonal_lstm_bands = bands


def _columns_by_pads(z):
    """The skew this project used before skew_columns, kept as the benchmark's reference:
    pads, reshapes, a stack and a transpose. (B, H, W, 2F) -> (W + H - 1, 2, B, H, F)."""

    def skew(x):
        b, h, w, c = tf.unstack(tf.shape(x))
        x = tf.pad(x, [[0, 0], [0, 0], [0, h], [0, 0]])  # (B, H, W + H, C)
        x = tf.reshape(x, [b, h * (w + h), c])[:, : h * (w + h - 1)]
        return tf.reshape(x, [b, h, w + h - 1, c])

    left, right = tf.split(z, 2, axis=-1)
    return tf.transpose(tf.stack([skew(left), skew(tf.reverse(right, [2]))]), [3, 0, 1, 2, 4])


def time_skew(batch, units, reps=5):
    """Forward + backward of the Diagonal BiLSTM's skew at the CIFAR-10 paper size: the row
    gather (skew_columns) and the pads / reshapes reference, in ms, side by side."""
    from pixelrnn_tf.layers.skew import SkewIndex, skew_columns

    z = tf.random.normal([batch, 32, 32, 8 * units])
    index = SkewIndex(batch, 32, 32)
    upstream = tf.random.normal([63, 2, batch, 32, 4 * units]) * index.valid

    def timed(fn):
        @tf.function
        def f():
            with tf.GradientTape() as tape:
                tape.watch(z)
                loss = tf.reduce_sum(fn(z) * upstream)
            return tape.gradient(loss, z)

        f().numpy()
        start = time.perf_counter()
        for _ in range(reps):
            f().numpy()
        return (time.perf_counter() - start) / reps * 1e3

    return timed(lambda x: skew_columns(x, index)), timed(_columns_by_pads)


def time_training(model, call, image_shape, num_levels, batch, steps, jit):
    images = tf.constant(np.random.default_rng(0).integers(
        0, num_levels, size=(batch,) + tuple(image_shape)), tf.int32)
    scale = (lambda x: tf.cast(x, tf.float32) * (2.0 / (num_levels - 1)) - 1.0)
    step = _train_step_fn(model, call, scale, int(np.prod(image_shape)), jit)
    float(step(images))  # trace / compile
    start = time.perf_counter()
    for _ in range(steps):
        float(step(images))
    return (time.perf_counter() - start) / steps


def measure_peak(width=256, batch=16):
    a = tf.random.normal([2048, 2048])
    mm = tf.function(lambda x: tf.matmul(x, x))
    mm(a).numpy()
    start, n = time.perf_counter(), 10
    for _ in range(n):
        mm(a).numpy()
    matmul = 2 * 2048 ** 3 * n / (time.perf_counter() - start) / 1e9
    x = tf.random.normal([batch, 32, 32, width])
    k = tf.random.normal([3, 3, width, width])
    cv = tf.function(lambda x: tf.nn.conv2d(x, k, 1, "SAME"))
    cv(x).numpy()
    start, n = time.perf_counter(), 5
    for _ in range(n):
        cv(x).numpy()
    conv = 2 * batch * 32 * 32 * 9 * width * width * n / (time.perf_counter() - start) / 1e9
    return matmul, conv


def run(batch, steps, only, rnn_jit=True):
    import models
    from models import configs

    matmul, conv = measure_peak()
    peak = max(matmul, conv)
    print(f"# training step, batch {batch}, {steps} timed steps; {machine()}")
    print(f"# peak measured in this run: 2048^2 fp32 matmul {matmul:.0f} GFLOP/s, 3x3 conv "
          f"256->256 maps on 32x32 (batch 16) {conv:.0f} GFLOP/s; peak = {peak:.0f}")
    print("| network | input | jit | params | images/s | GFLOP/s | % of peak | vs reference |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    if not only or "cifar10_diagonal_bilstm" in only:
        gather_ms, pads_ms = time_skew(batch, configs.get("cifar10_diagonal_bilstm")
                                       .model_config["units"])
        print(f"# Diagonal BiLSTM skew, forward + backward, (B={batch}, 32, 32, 8h) -> columns: "
              f"row gather {gather_ms:.0f} ms, pads / reshapes / transpose {pads_ms:.0f} ms "
              f"({pads_ms / gather_ms:.1f}x)")
    for name in ("cifar10_pixel_cnn", "cifar10_row_lstm", "cifar10_diagonal_bilstm"):
        if only and name not in only:
            continue
        base = configs.get(name)
        for shape in ((32, 32, 3), (28, 28, 1)):
            cfg = dict(base.model_config, image_shape=shape)
            model = models.build(base.model, **cfg)
            macs = count_macs(model)
            ref_rate = None
            if base.model == "pixel_cnn":
                ref = reference_pixel_cnn(shape, cfg["num_levels"], cfg["num_layers"],
                                          cfg["units"], cfg["output_units"])
                t = time_training(ref, ref, shape, cfg["num_levels"], batch, steps, False)
                ref_rate = batch / t
                print(f"| keras reference PixelCNN (kernel_constraint) | {shape} | no "
                      f"| {ref.count_params():,} | {ref_rate:.2f} | "
                      f"{6 * macs * batch / t / 1e9:.0f} | {600 * macs * batch / t / 1e9 / peak:.0f}"
                      f" | 1.00x |", flush=True)
            variants = [(False, "")]
            if base.model == "diagonal_bilstm":
                # Side by side: the same network with the while-loop sweep over all rows.
                variants.append((False, " (while loop)"))
            if rnn_jit or base.model == "pixel_cnn":
                variants.append((True, ""))
            for jit, label in variants:
                with _while_loop_sweep(bool(label)):
                    model = models.build(base.model, **cfg)
                    t = time_training(model, model.logits, shape, cfg["num_levels"], batch,
                                      steps, jit)
                gflops = 6 * macs * batch / t / 1e9
                vs = f"{batch / t / ref_rate:.2f}x" if ref_rate else "-"
                print(f"| {name}{label} | {shape} | {'yes' if jit else 'no'} | "
                      f"{model.count_params():,} | {batch / t:.2f} | {gflops:.0f} | "
                      f"{100 * gflops / peak:.0f} | {vs} |", flush=True)
    # The follow-up models (issue 6), at their CIFAR-10 configurations, 32x32x3, no XLA:
    # images/s only (their multiply-adds are not counted here).
    for name in FOLLOW_UP:
        if (only and name not in only) or name not in configs.names():
            continue
        base = configs.get(name)
        model = models.build(base.model, **base.model_config)
        shape, levels = model.image_shape, model.num_levels
        if model.is_conditional:
            print(f"| {name} | {shape} | no | {model.count_params():,} | skipped: conditional "
                  "| - | - | - |")
            continue
        t = time_training(model, None, shape, levels, batch, steps, False)
        print(f"| {name} | {shape} | no | {model.count_params():,} | {batch / t:.2f} | - | - "
              "| - |", flush=True)


FOLLOW_UP = ("cifar10_gated_pixel_cnn", "cifar10_pixel_cnn_pp", "cifar10_pixel_snail")
