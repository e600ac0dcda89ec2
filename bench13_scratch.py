import sys, time, numpy as np, tensorflow as tf, models
from models import configs
from pixelrnn_tf import sampling
name, b, xla = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
m = configs.build(name)
h, w, c = m.image_shape
x = tf.zeros((b, h, w, c), tf.int32); k = tf.zeros((b, h, w), tf.bool); s = tf.constant(0, tf.int64)
n = int(sys.argv[4]) if len(sys.argv) > 4 else None
f = tf.function(lambda a, kk, ss: m.cached_complete(a, kk, ss, num_pixels=n), jit_compile=xla)
t0 = time.perf_counter(); f.get_concrete_function(x, k, s); print('trace', time.perf_counter() - t0, flush=True)
t0 = time.perf_counter(); f(x, k, s).numpy(); print('first', time.perf_counter() - t0, flush=True)
t0 = time.perf_counter(); f(x, k, s).numpy(); print('second', time.perf_counter() - t0, flush=True)
