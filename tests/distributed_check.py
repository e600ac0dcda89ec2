"""Subprocess entry for the distribution tests (logical devices and TF_CONFIG must be set
before TensorFlow initializes, so these run in fresh processes).

  python -m tests.distributed_check mirrored OUT.json
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models.configs.tiny import tiny_config  # noqa: E402
from pixelrnn_tf.training import distribution  # noqa: E402
from pixelrnn_tf.training.config import TrainConfig  # noqa: E402
from pixelrnn_tf.training.trainer import Trainer  # noqa: E402

SHAPE, LEVELS, BATCH = (4, 4, 3), 8, 8


def _config(strategy, seed=0):
    return TrainConfig(model="row_lstm", model_config=tiny_config("row_lstm", SHAPE, LEVELS),
                       dataset="npz:none", batch_size=BATCH, strategy=strategy, seed=seed,
                       learning_rate=1e-2)


def _images():
    return np.random.default_rng(0).integers(0, LEVELS, size=(32,) + SHAPE).astype(np.uint8)


def _train(strategy, workdir, steps):
    trainer = Trainer(_config(strategy), workdir)
    batches = distribution.distributed_batches(trainer.strategy, _images(), BATCH, 0, 0)
    losses = [trainer.train_step(next(batches)) for _ in range(steps)]
    return trainer, losses


def mirrored(out):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    results = {}
    for name in ("one_device", "mirrored"):
        trainer, losses = _train(name, f"/tmp/unused_{os.getpid()}_{name}", steps=1)
        results[name] = dict(replicas=trainer.strategy.num_replicas_in_sync, losses=losses,
                             weights=[w.numpy().tolist() for w in trainer.model.weights])
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    {"mirrored": mirrored}[sys.argv[1]](sys.argv[2])
