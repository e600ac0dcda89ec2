"""Choosing a tf.distribute strategy, and feeding it deterministic global batches."""

import json
import os

import tensorflow as tf

from pixelrnn_tf import data


def make_strategy(name):
    """`auto`: multi-worker when TF_CONFIG lists several workers, else Mirrored over all local
    devices when there is more than one, else one device."""
    if name == "auto":
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
        if len(cluster.get("worker", [])) > 1:
            name = "multi_worker"
        else:
            gpus = tf.config.list_logical_devices("GPU")
            cpus = tf.config.list_logical_devices("CPU")
            name = "mirrored" if len(gpus) > 1 or (not gpus and len(cpus) > 1) else "one_device"
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"Unknown strategy {name!r}.")


def per_replica_batch(batch_size, strategy):
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"--batch_size={batch_size} is not divisible by the {replicas} replicas "
                         f"of {type(strategy).__name__}; use a multiple of {replicas}.")
    return batch_size // replicas


def distributed_batches(strategy, images, batch_size, seed, start_step, labels=None):
    """Iterator over per-replica batches: step s's global batch is
    images[data.batch_indices(N, batch_size, seed, s)], the same for any replica count;
    replica r (over all workers) takes its r-th slice. With `labels` (N,), each element is
    (images, labels) of the same examples."""
    per_replica = per_replica_batch(batch_size, strategy)
    num = len(images)
    shape = images.shape[1:]

    def dataset_fn(context):
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def gen():
            step = start_step
            while True:
                idx = data.batch_indices(num, batch_size, seed, step)
                for r in range(first, first + local):
                    mine = idx[r * per_replica:(r + 1) * per_replica]
                    yield images[mine] if labels is None else (images[mine], labels[mine])
                step += 1

        signature = tf.TensorSpec((per_replica,) + shape, tf.uint8)
        if labels is not None:
            signature = (signature, tf.TensorSpec((per_replica,), tf.int32))
        ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
        return ds.prefetch(4)

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return iter(strategy.distribute_datasets_from_function(dataset_fn, options))

