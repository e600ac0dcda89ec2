"""Training-step time of campaign runs in float32 and under mixed_bfloat16, side by side in one
process, one TF thread (as each campaign run trains), the policies alternating in rounds:

    python docs/benchmarks/campaign_precision.py campaign_mnist_pixel_cnn_wide \
        campaign_mnist_gated_pixel_cnn campaign_mnist_row_lstm
"""
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402,F401  (fills the registry)
from pixelrnn_tf.training import config as config_lib, trainer  # noqa: E402

POLICIES = ("none", "mixed_bfloat16")


def build_step(run, policy):
    config = config_lib.resolve(run, None, overrides={}, workdir=tempfile.mkdtemp(),
                                mixed_precision=policy)
    shape = (config.batch_size,) + tuple(config.model_config["image_shape"])
    images = tf.constant((np.random.default_rng(0).random(shape) < 0.2).astype(np.float32))
    t = trainer.Trainer(config, tempfile.mkdtemp())
    t.train_step(images)  # traces
    return lambda: t.train_step(images)


print("| run | float32 s/step | mixed_bfloat16 s/step | speed-up |")
print("|---|---:|---:|---:|")
for run in sys.argv[1:]:
    steps = {p: build_step(run, p) for p in POLICIES}
    times = {p: [] for p in POLICIES}
    for _ in range(2):
        for policy, step in steps.items():
            step()  # warm-up after the other policy ran
            for _ in range(6):
                start = time.perf_counter()
                step()
                times[policy].append(time.perf_counter() - start)
    f32, bf16 = (float(np.median(times[p])) for p in POLICIES)
    print(f"| {run} | {f32:.3f} | {bf16:.3f} | {f32 / bf16:.2f}x |", flush=True)
