"""Deterministic batches: the training order is a pure function of (seed, step).

Training reads an endless stream of example indices made of epochs, epoch e being
`np.random.default_rng([seed, e]).permutation(N)`; step s takes stream positions
s*B .. s*B+B-1, so a batch may straddle two epochs. Because nothing depends on how many
batches were drawn before, a run resumed at step k sees exactly the batches an
uninterrupted run would have seen from step k on.
"""

import functools

import numpy as np

# Dataset.range needs an end; this one is never reached by any real run.
_ENDLESS = 2**62


def _check_count(what, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


@functools.lru_cache(maxsize=8)
def _epoch_permutation(num_examples, seed, epoch):
    # Consecutive steps nearly always fall in the same epoch; caching its permutation keeps a
    # step O(B) instead of O(N). Read-only so that no caller can corrupt the cache.
    perm = np.random.default_rng([seed, epoch]).permutation(num_examples)
    perm.flags.writeable = False
    return perm


def batch_indices(num_examples, batch_size, seed, step):
    """Example indices of step `step`'s batch (int64, length `batch_size`)."""
    n = _check_count("num_examples", num_examples, 1)
    b = _check_count("batch_size", batch_size, 1)
    seed = _check_count("seed", seed, 0)  # default_rng refuses negative seed entries
    start = _check_count("step", step, 0) * b
    first_epoch, last_epoch = start // n, (start + b - 1) // n
    stream = np.concatenate([_epoch_permutation(n, seed, e)
                             for e in range(first_epoch, last_epoch + 1)])
    offset = start - first_epoch * n
    return stream[offset:offset + b].astype(np.int64)


def train_batches(images, batch_size, seed, start_step=0):
    """An endless tf.data.Dataset of training batches, beginning at `start_step`.

    Its k-th element is `images[batch_indices(len(images), batch_size, seed, start_step + k)]`,
    so resuming at step k is the tail of the stream started at 0.
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.ndim < 1 or len(images) == 0:
        raise ValueError(f"train_batches needs at least one image, got shape {images.shape}.")
    num = len(images)
    batch_size = _check_count("batch_size", batch_size, 1)
    seed = _check_count("seed", seed, 0)
    start_step = _check_count("start_step", start_step, 0)

    def gather(step):
        return images[batch_indices(num, batch_size, seed, int(step))]

    def fetch(step):
        # The gather runs in NumPy: a tf.constant of the whole split would be copied into the
        # graph and break the 2 GB graph limit on ImageNet-sized data.
        batch = tf.numpy_function(gather, [step], tf.as_dtype(images.dtype), stateful=False)
        batch.set_shape((batch_size,) + images.shape[1:])
        return batch

    steps = tf.data.Dataset.range(start_step, _ENDLESS)
    # deterministic=True keeps step order even though batches are gathered in parallel.
    return (steps.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_batches(images, batch_size):
    """The whole split in order, in batches of `batch_size` (the last may be smaller)."""
    batch_size = _check_count("batch_size", batch_size, 1)  # checked now, not at first next()

    def batches():
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size]

    return batches()
