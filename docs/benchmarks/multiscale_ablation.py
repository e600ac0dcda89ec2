"""One-epoch ablations behind campaign_mnist_multiscale_row_lstm_wide (one thread, seed 0,
batch 32, Adam 1e-3; NLL on the first 2,000 validation images):

    # the small network alone: a Row LSTM on x[::2, ::2] (14 x 14), h = 16 / 32 / 64
    python docs/benchmarks/multiscale_ablation.py --data_dir=/tmp/tfds small 16
    # the conditional network's part (the rest given x[::2, ::2]), upsampler_layers = 0 / 3
    python docs/benchmarks/multiscale_ablation.py --data_dir=/tmp/tfds conditional 3

Both train for --steps (default 1,500, about one epoch). The conditional ablation uses a
1-layer, h = 4 small network: only the rest's NLL is reported.
"""
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import models  # noqa: F401  (fills the registry)
from models import registry
from models.multiscale_pixelrnn import small_positions
from pixelrnn_tf import data

flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
what, value = [a for a in sys.argv[1:] if not a.startswith("--")]
steps, data_dir = int(flags.get("steps", 1500)), flags.get("data_dir", "/tmp/tfds")
tf.config.threading.set_intra_op_parallelism_threads(1)
train = data.load_split("binarized_mnist", "train", data_dir)
val = data.load_split("binarized_mnist", "validation", data_dir, max_examples=2000)
keras.utils.set_random_seed(0)
if what == "small":
    train, val = train[:, ::2, ::2], val[:, ::2, ::2]
    model = registry.build("row_lstm", image_shape=(14, 14, 1), num_levels=2, num_layers=7,
                           units=int(value), output_units=32, kernel_size=3)
else:
    model = registry.build("multiscale_pixelrnn", image_shape=(28, 28, 1), num_levels=2,
                           small_layers=1, small_units=4, small_output_units=8, num_layers=7,
                           units=16, output_units=32, conditioning_features=16,
                           upsampler_layers=int(value))
model.build_by_calling()
optimizer = keras.optimizers.Adam(1e-3)


@tf.function
def step(x):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob_unchecked(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))


rng = np.random.default_rng(0)
start = time.time()
for _ in range(steps):
    step(tf.constant(train[rng.integers(0, len(train), 32)]))
seconds = (time.time() - start) / steps
nll = np.concatenate([-model.pixel_log_prob(tf.constant(val[i:i + 200])).numpy().sum(axis=-1)
                      for i in range(0, len(val), 200)])  # (N, H, W)
if what == "small":
    result = f"small network h={value}: {nll.sum() / len(val):.3f} nats on x[::2, ::2]"
else:
    rest = nll[:, ~small_positions(28, 28)].sum() / len(val)
    result = f"upsampler_layers={value}: the rest given x[::2, ::2] {rest:.3f} nats"
print(f"{result} after {steps} steps ({model.count_params():,} parameters, "
      f"{seconds:.3f} s/step)", flush=True)
