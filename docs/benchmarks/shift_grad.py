"""Forward + backward time of a one-row down shift, written as a strided slice and as the
pad-then-slice of `pixelrnn_tf/layers/shifts.py`, on one TF thread (as each campaign run
trains). Prints one line per shape and form; the forms give identical values and gradients
(checked here before timing).

    python docs/benchmarks/shift_grad.py
"""

import os
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pixelrnn_tf.layers.shifts import down_shift  # noqa: E402


def strided_down_shift(x):
    return tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def timed_gradient(shift, x, repeats):
    @tf.function
    def value_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = shift(x)
            loss = tf.reduce_sum(y * tf.sin(y))
        return y, tape.gradient(loss, x)

    out = value_and_gradient(x)  # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        value_and_gradient(x)[1].numpy()
    return (time.perf_counter() - start) / repeats, out


def main():
    # The Gated PixelCNN campaign run's vertical-stack map; a PixelCNN++ CIFAR-10 map.
    for shape in [(32, 28, 28, 48), (16, 32, 32, 160)]:
        x = tf.random.normal(shape, seed=0)
        times = {}
        outs = {}
        for name, fn in (("strided slice", strided_down_shift), ("pad + tf.slice", down_shift)):
            times[name], outs[name] = timed_gradient(fn, x, 20)
        for a, b in zip(outs["strided slice"], outs["pad + tf.slice"]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        print(f"{shape}: strided slice {times['strided slice'] * 1e3:.2f} ms, pad + tf.slice "
              f"{times['pad + tf.slice'] * 1e3:.2f} ms "
              f"({times['strided slice'] / times['pad + tf.slice']:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
