"""Where a Multi-Scale model's NLL goes: the validation NLL of campaign checkpoints split into
the pixels of the small image x[::2, ::2] and the rest (for a single-scale run: what it pays
at those same positions), on the first N validation images:

    python docs/benchmarks/multiscale_parts.py --data_dir=/tmp/tfds --images=2000 \
        campaign_mnist_multiscale_row_lstm campaign_mnist_row_lstm
"""
import sys

import numpy as np
import tensorflow as tf

import models  # noqa: F401  (fills the registry)
from models.multiscale_pixelrnn import small_positions
from pixelrnn_tf import data
from pixelrnn_tf.campaign import CAMPAIGN_DIR
from pixelrnn_tf.training.restore import restore_model

flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
runs = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(flags.get("images", 2000))
images = data.load_split("binarized_mnist", "validation", flags.get("data_dir", "/tmp/tfds"),
                         max_examples=n)
mask = small_positions(*images.shape[1:3])
for run in runs:
    model, _, step = restore_model(f"{CAMPAIGN_DIR}/{run}")
    small = rest = 0.0
    for i in range(0, n, 100):
        nll = -model.pixel_log_prob(tf.constant(images[i:i + 100])).numpy().sum(axis=-1)
        small, rest = small + nll[:, mask].sum(), rest + nll[:, ~mask].sum()
    print(f"{run} step {step}: {(small + rest) / n:.3f} nats = x[::2, ::2] {small / n:.3f} "
          f"+ the rest {rest / n:.3f} ({n} validation images)", flush=True)
