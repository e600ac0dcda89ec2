"""Exact evaluation of a model over a split, and its records (TensorBoard, eval_log.jsonl)."""

import json
import math
import os

import numpy as np
import tensorflow as tf

from pixelrnn_tf import data


def evaluate(model, images, batch_size=64, labels=None):
    """Exact NLL over every image (given its label, for a class-conditional model): mean nats
    per image and bits/dim."""

    batch_log_prob = tf.function(model.log_prob_unchecked, reduce_retracing=True)

    if model.is_conditional and labels is None:
        raise ValueError(f"{model.name} is class-conditional: evaluate it with labels.")
    total, count = 0.0, 0
    for start, batch in zip(range(0, len(images), batch_size),
                            data.eval_batches(images, batch_size)):
        cond = [] if labels is None else [labels[start:start + len(batch)]]
        total += float(tf.reduce_sum(tf.cast(batch_log_prob(batch, *cond), tf.float64)))
        count += len(batch)
    nll = -total / count
    return {"nll_nats": nll, "bits_per_dim": nll / (model.num_dims * math.log(2.0)),
            "num_images": count}


def append_eval_log(workdir, step, epoch, split, metrics, train_losses, seconds):
    """One line per periodic evaluation in eval_log.jsonl: the learning curve of the run
    (and the mean training loss since the previous evaluation)."""
    record = dict(step=step, epoch=round(epoch, 4), split=split, nll_nats=metrics["nll_nats"],
                  bits_per_dim=metrics["bits_per_dim"], num_images=metrics["num_images"],
                  train_nll_nats=float(np.mean(train_losses)) if train_losses else None,
                  train_seconds=round(seconds, 1))
    with open(os.path.join(workdir, "eval_log.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def write_eval(writer, step, metrics, split, log=True):
    with writer.as_default(step=step):
        tf.summary.scalar("loss_nats", metrics["nll_nats"])
        tf.summary.scalar("bits_per_dim", metrics["bits_per_dim"])
    if log:
        print(f"\neval@{step} {split}: {metrics['nll_nats']:.3f} nats, "
             f"{metrics['bits_per_dim']:.4f} bits/dim", flush=True)
