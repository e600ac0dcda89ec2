"""Data: data sets as uint8 arrays, offline TFDS preparation, deterministic batches."""

from pixelrnn_tf.data.datasets import (DATASET_NAMES, DEFAULT_DATASET, PREFIXES, DatasetSpec,
                                       batch_indices, eval_batches, find_shared_data,
                                       load_labels, load_split, prepare_offline_tfds, spec,
                                       train_batches)

__all__ = ["DATASET_NAMES", "DEFAULT_DATASET", "PREFIXES", "DatasetSpec", "batch_indices",
           "eval_batches", "find_shared_data", "load_labels", "load_split",
           "prepare_offline_tfds", "spec",
           "train_batches"]
