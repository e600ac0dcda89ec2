"""Learning-rate schedules and optimizers of a training run."""

import math

import keras
import tensorflow as tf


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over `warmup_steps`, then constant or cosine decay to 0 at `total_steps`."""

    def __init__(self, learning_rate, total_steps, warmup_steps=0, cosine=True):
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.cosine = bool(cosine)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.learning_rate, tf.float32)
        if self.warmup_steps:
            lr = lr * tf.minimum(1.0, (step + 1.0) / self.warmup_steps)
        if self.cosine:
            span = float(max(self.total_steps - self.warmup_steps, 1))
            done = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = lr * 0.5 * (1.0 + tf.cos(math.pi * done))
        return lr

    def get_config(self):
        return dict(learning_rate=self.learning_rate, total_steps=self.total_steps,
                    warmup_steps=self.warmup_steps, cosine=self.cosine)


def learning_rate(config, total_steps):
    """The optimizer's learning rate: a float, or a schedule over `total_steps`."""
    if config.lr_schedule == "constant" and not config.warmup_steps:
        return config.learning_rate
    return WarmupCosine(config.learning_rate, total_steps, config.warmup_steps,
                        cosine=config.lr_schedule == "cosine")


def total_steps(config, num_train_images):
    if config.epochs:
        return int(math.ceil(config.epochs * num_train_images / config.batch_size))
    return config.steps


def make_optimizer(name, learning_rate):
    if name == "rmsprop":  # the paper's choice
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    raise ValueError(f"Unknown optimizer {name!r}.")
