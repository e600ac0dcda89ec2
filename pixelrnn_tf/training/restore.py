"""Building a run's model and restoring it from a workdir: the one restore path of the CLIs
(evaluate, sample, complete) and of the SavedModel export."""

import os

import keras
import tensorflow as tf

from pixelrnn_tf import registry
from pixelrnn_tf.training import checkpoints as checkpoints_lib, workdir as workdir_lib
from pixelrnn_tf.training.weight_average import WeightAverage


def dtype_policy(config):
    """The Keras dtype policy of a run's model (--mixed_precision)."""
    return "float32" if config.mixed_precision == "none" else config.mixed_precision


def build_model(config):
    keras.utils.set_random_seed(config.seed)
    return registry.build(config.model, dtype=dtype_policy(config), **config.model_config)


def restore_model(workdir):
    """The model of a training workdir at its latest checkpoint (no optimizer state needed)."""
    config = workdir_lib.load_config(workdir)
    model = build_model(config)
    step = tf.Variable(0, dtype=tf.int64)
    average = (WeightAverage(model.trainable_variables, config.ema_decay)
               if config.ema_decay else None)
    extra = {"ema": average} if average else {}
    # partial: the optimizer's slots are not wanted here; every model variable must still get
    # a value (assert_existing_objects_matched), never silently keep its initialization.
    latest, _ = checkpoints_lib.restore(tf.train.Checkpoint(step=step, model=model, **extra),
                                        os.path.join(workdir, "checkpoints"), partial=True)
    if not latest:
        raise FileNotFoundError(f"--workdir {workdir} has no checkpoint.")
    if average:
        average.copy_to_model()
    return model, config, int(step.numpy())
