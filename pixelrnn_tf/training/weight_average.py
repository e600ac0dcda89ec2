"""WeightAverage: an exponential moving average (Polyak averaging) of a model's weights."""

import contextlib

import tensorflow as tf


class WeightAverage(tf.Module):
    """Shadow copies of `variables`, updated after every optimizer step.

    The decay at update n is min(decay, (1 + n) / (10 + n)) so that the average of a short run
    is not dominated by the random initialization. Create it under the strategy's scope: the
    shadows are mirrored, written with the (identical) value of the first replica.
    """

    def __init__(self, variables, decay, name="weight_average"):
        super().__init__(name=name)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}.")
        self.decay = float(decay)
        self.model_variables = list(variables)
        self.shadows = [tf.Variable(v, trainable=False, name="ema",
                                    synchronization=tf.VariableSynchronization.ON_WRITE,
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                        for v in self.model_variables]

    def update(self, num_updates):
        n = tf.cast(num_updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
        for shadow, v in zip(self.shadows, self.model_variables):
            shadow.assign(decay * shadow + (1.0 - decay) * tf.cast(v, shadow.dtype))

    def copy_to_model(self):
        """Overwrite the model's weights with the averages (for evaluation-only uses)."""
        for shadow, v in zip(self.shadows, self.model_variables):
            v.assign(shadow)

    @contextlib.contextmanager
    def averaged_weights(self):
        """Temporarily evaluate with the averages; the training weights come back after."""
        saved = [tf.identity(v) for v in self.model_variables]
        self.copy_to_model()
        try:
            yield
        finally:
            for value, v in zip(saved, self.model_variables):
                v.assign(value)
