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


def append_eval_log(workdir, step, epoch, split, metrics, train_losses, seconds,
                    cpu_seconds=None, mixed_precision="none"):
    """One line per periodic evaluation in eval_log.jsonl: the learning curve of the run
    (and the mean training loss since the previous evaluation). A record computed under a
    mixed precision policy names it (a run may switch between float32 and mixed_bfloat16
    on resume; its curve then says where).

    Records at or after `step` are dropped first: they were written after the checkpoint this
    run resumed from (a kill lost the steps between), so the curve keeps one point per step."""
    record = dict(step=step, epoch=round(epoch, 4), split=split, nll_nats=metrics["nll_nats"],
                  bits_per_dim=metrics["bits_per_dim"], num_images=metrics["num_images"],
                  train_nll_nats=float(np.mean(train_losses)) if train_losses else None,
                  train_seconds=round(seconds, 1))
    if cpu_seconds is not None:
        record["train_cpu_seconds"] = round(cpu_seconds, 1)
    if mixed_precision != "none":
        record["mixed_precision"] = mixed_precision
    path = os.path.join(workdir, "eval_log.jsonl")
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            kept = [line for line in f if line.strip()]
    stale = [line for line in kept if json.loads(line)["step"] >= step]
    if not stale:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(line for line in kept if json.loads(line)["step"] < step)
        f.write(json.dumps(record) + "\n")
    os.replace(tmp, path)


def write_eval(writer, step, metrics, split, log=True):
    with writer.as_default(step=step):
        tf.summary.scalar("loss_nats", metrics["nll_nats"])
        tf.summary.scalar("bits_per_dim", metrics["bits_per_dim"])
    if log:
        print(f"\neval@{step} {split}: {metrics['nll_nats']:.3f} nats, "
             f"{metrics['bits_per_dim']:.4f} bits/dim", flush=True)
