"""Subprocess entry for the distribution tests (logical devices and TF_CONFIG must be set
before TensorFlow initializes, so these run in fresh processes).

  python -m tests.distributed_check mirrored OUT.json
  python -m tests.distributed_check keras_fit OUT.json
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


def keras_fit(out):
    """model.fit / evaluate of the Keras API inside a MirroredStrategy over two logical CPUs,
    against the same step on one device (same initial weights, same batch)."""
    import keras

    import models

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    images = _images()[:BATCH]
    results = {}
    # One strategy object of each kind for the process: two MirroredStrategy objects in one
    # process reuse collective instance keys and abort each other's all-reduce.
    strategies = {s: distribution.make_strategy(s) for s in ("one_device", "mirrored")}
    # A recurrent and a convolutional network; fit's distribution (batch split, all-reduce,
    # metrics) is the same for every model (PixelCNN++ here took 50 s more on 2 cores).
    for name in ("row_lstm", "gated_pixel_cnn"):
        config = tiny_config(name, SHAPE, LEVELS)
        for strategy in ("one_device", "mirrored"):
            strategy_obj = strategies[strategy]
            with strategy_obj.scope():
                keras.utils.set_random_seed(0)
                model = models.build(name, **config)
                model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
            initial = [w.numpy().tolist() for w in model.trainable_weights]
            before = model.evaluate(images, batch_size=BATCH, return_dict=True, verbose=0)
            history = model.fit(images, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
            results[f"{name}/{strategy}"] = dict(
                replicas=strategy_obj.num_replicas_in_sync, before=before,
                history=history.history, initial=initial,
                weights=[w.numpy().tolist() for w in model.trainable_weights])
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    {"mirrored": mirrored, "keras_fit": keras_fit}[sys.argv[1]](sys.argv[2])
