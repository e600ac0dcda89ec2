"""Training-step time of candidate campaign runs on binarized MNIST (batch 32, one TF thread,
as each campaign run trains), before committing CPU-days to one. Each candidate is a registry
model or an experiment config plus constructor overrides, as JSON:

    python docs/benchmarks/candidate_step.py '{"gated": ["campaign_mnist_gated_pixel_cnn", {}],
        "pp": ["pixel_cnn_pp", {"num_resnet": 1, "units": 48, "num_mixtures": 2}]}' \
        [--mixed_precision=none]

Prints parameters, the time of the first step (tracing) and the median of 6 timed steps.
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_bfloat16"], "Policy of every run.")
flags.DEFINE_integer("steps", 6, "Timed steps per candidate.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("Give the candidates as one JSON argument: "
                             '{"label": ["model or config", {overrides}], ...}')
    import numpy as np
    import tensorflow as tf

    import models  # noqa: F401  (fills the registry)
    from pixelrnn_tf.training import config as config_lib, trainer

    print("| candidate | parameters | first step (s) | step (s, median) | images/s |")
    print("|---|---:|---:|---:|---:|")
    for label, (name, overrides) in json.loads(argv[1]).items():
        config = config_lib.resolve(name, "binarized_mnist", overrides=overrides,
                                    workdir=tempfile.mkdtemp(),
                                    mixed_precision=FLAGS.mixed_precision)
        shape = (config.batch_size,) + tuple(config.model_config["image_shape"])
        images = tf.constant((np.random.default_rng(0).random(shape) < 0.2).astype(np.float32))
        t = trainer.Trainer(config, tempfile.mkdtemp())
        start = time.perf_counter()
        t.train_step(images)
        first = time.perf_counter() - start
        t.train_step(images)
        times = []
        for _ in range(FLAGS.steps):
            start = time.perf_counter()
            t.train_step(images)
            times.append(time.perf_counter() - start)
        step = float(np.median(times))
        params = sum(int(np.prod(v.shape)) for v in t.model.trainable_variables)
        print(f"| {label} | {params:,} | {first:.1f} | {step:.3f} | {config.batch_size / step:.0f} |",
              flush=True)


if __name__ == "__main__":
    app.run(main)
