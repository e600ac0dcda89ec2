"""Dropout whose masks are a function of (seed, optimizer step), so a resumed run is exact.

`tf.nn.dropout` draws from a stateful kernel whose position is not in any checkpoint: a run
resumed in a new process restarts that stream and draws the masks of its first steps again, so
it no longer reproduces the uninterrupted run. Inside `dropout_seed(seed)` (the trainer enters it
in each replica's step with (config seed, optimizer step, replica)), `dropout` is stateless: the
n-th dropout call traced in the step uses fold_in(seed, n), which every process traces alike.
Outside it (Keras `fit`, a user's own loop) it is `tf.nn.dropout`.
"""

import contextlib
import threading

import tensorflow as tf

# MirroredStrategy traces each replica's step in its own thread: one seed scope per thread.
_SCOPE = threading.local()


@contextlib.contextmanager
def dropout_seed(seed):
    """Makes `dropout` inside the block stateless, seeded by `seed` (int shape (2,))."""
    previous = getattr(_SCOPE, "state", None)
    _SCOPE.state = [tf.cast(seed, tf.int64), 0]
    try:
        yield
    finally:
        _SCOPE.state = previous


def dropout(x, rate):
    """`x` with a fraction `rate` of entries zeroed and the rest scaled by 1 / (1 - rate)."""
    state = getattr(_SCOPE, "state", None)
    if state is None:
        return tf.nn.dropout(x, rate=rate)
    seed, calls = state
    state[1] = calls + 1
    return tf.nn.experimental.stateless_dropout(
        x, rate=rate, seed=tf.random.experimental.stateless_fold_in(seed, calls))
