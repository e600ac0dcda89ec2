"""The training loop: the Trainer (strategy, model, optimizer, checkpoints, the step) and
`run()` (resume, NaN stop, wall-time budget, TensorBoard, final evaluation and samples).
Schedules, evaluation, progress and restoring live in their own modules beside it."""

import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import data, sampling
from pixelrnn_tf.layers import seeded_dropout
from pixelrnn_tf.training import checkpoints as checkpoints_lib
from pixelrnn_tf.training import distribution, hardware, workdir as workdir_lib
# The jobs a run uses, each in its own module (and re-exported: callers use trainer.X).
from pixelrnn_tf.training.evaluation import append_eval_log, evaluate, write_eval  # noqa: F401
from pixelrnn_tf.training.progress import Progress, TrainClock  # noqa: F401
from pixelrnn_tf.training.restore import build_model, restore_model  # noqa: F401
from pixelrnn_tf.training.schedules import (WarmupCosine, learning_rate,  # noqa: F401
                                            make_optimizer, total_steps)
from pixelrnn_tf.training.checkpoints import CheckpointDamaged  # noqa: F401 (re-exported)
from pixelrnn_tf.training.weight_average import WeightAverage


# Model arguments that change how a network trains but not its weights: a run may start
# from another's weights with a different value (e.g. add dropout to an overfitting run).
TRAINING_ONLY_MODEL_ARGS = ("dropout_rate",)


def weight_defining(model_config):
    """The model config without TRAINING_ONLY_MODEL_ARGS."""
    if not isinstance(model_config, dict):
        return model_config
    return {k: v for k, v in model_config.items() if k not in TRAINING_ONLY_MODEL_ARGS}


class TrainingDiverged(RuntimeError):
    pass


class Trainer:
    """Owns the strategy, model, optimizer, checkpoint manager and summary writers of a run."""

    def __init__(self, config, workdir, num_steps=None):
        self.config = config
        self.workdir = workdir
        self.strategy = distribution.make_strategy(config.strategy)
        distribution.per_replica_batch(config.batch_size, self.strategy)
        with self.strategy.scope():
            self.model = build_model(config)
            self.learning_rate = learning_rate(config, num_steps or config.steps)
            self.optimizer = make_optimizer(config.optimizer, self.learning_rate)
            if config.mixed_precision == "mixed_float16":
                # float16 gradients underflow below 6e-8: the step scales the loss up and the
                # optimizer unscales the gradients (and skips a step whose are not finite).
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.weight_average = (WeightAverage(self.model.trainable_variables,
                                                 config.ema_decay)
                                   if config.ema_decay else None)
        extra = {"ema": self.weight_average} if self.weight_average else {}
        self.checkpoint = tf.train.Checkpoint(step=self.step, model=self.model,
                                              optimizer=self.optimizer, **extra)
        # Multi-worker: every worker must save (saving is collective), but only the chief
        # writes into the workdir; the others write to private folders.
        self.is_chief = _is_chief_task()
        self.chief_dir = os.path.join(workdir, "checkpoints")
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
        own_dir = self.chief_dir if self.is_chief else os.path.join(
            workdir, ".workers", f"{task.get('type')}{task.get('index')}", "checkpoints")
        self.manager = tf.train.CheckpointManager(self.checkpoint, own_dir,
                                                  max_to_keep=config.keep_checkpoints)
        self._step_fn = None
        self._loss_fn = None

    def restore(self, inference=False, resume_from_intact=False):
        """Restore the latest checkpoint (None if there is none). inference=True: the model
        then holds the weights to evaluate, sample and export with (the moving average when
        the run keeps one). A damaged latest checkpoint raises CheckpointDamaged naming its
        files; resume_from_intact=True restores the newest intact one instead (the damaged
        ones are moved aside, see checkpoints.restore) and logs a warning."""
        # assert_existing_objects_matched (in checkpoints.restore): a checkpoint of another
        # architecture fails instead of loading half of its variables.
        latest, damaged = checkpoints_lib.restore(self.checkpoint, self.chief_dir,
                                                  resume_from_intact=resume_from_intact,
                                                  set_aside=self.is_chief)
        if damaged:
            _log("WARNING: set aside damaged checkpoint(s): " + "; ".join(damaged)
                 + f". Resuming from the newest intact one, {latest}.")
            # The manager read the old state file at construction.
            self.manager = tf.train.CheckpointManager(self.checkpoint, self.manager.directory,
                                                      max_to_keep=self.config.keep_checkpoints)
        if latest and inference and self.weight_average:
            self.weight_average.copy_to_model()
        return latest

    def initialize_from(self, source_dir):
        """A new run: the model's weights and weight average from the latest checkpoint of
        training workdir `source_dir` (its optimizer and step are not taken). The source must
        be a run of the same model on the same data, else a ValueError naming the field.
        Returns (checkpoint path, its step)."""
        source = workdir_lib.saved_config(source_dir)
        if source is None:
            raise ValueError(f"--init_from {source_dir} is not a training workdir (no "
                             f"{workdir_lib.CONFIG_FILE}).")
        # Not mixed_precision: the variables are float32 under every policy, and the source's
        # optimizer (a float16 run's loss scale) is not taken.
        for key in ("model", "model_config", "dataset", "image_size", "ema_decay"):
            mine, theirs = getattr(self.config, key), source.get(key)
            if key == "model_config":
                mine, theirs = weight_defining(mine), weight_defining(theirs)
            if mine != theirs:
                raise ValueError(f"--init_from {source_dir} is a run of another {key} "
                                 f"({theirs!r}, this run: {mine!r}).")
        step = tf.Variable(0, dtype=tf.int64)
        extra = {"ema": self.weight_average} if self.weight_average else {}
        latest, _ = checkpoints_lib.restore(tf.train.Checkpoint(step=step, model=self.model,
                                                                **extra),
                                            os.path.join(source_dir, "checkpoints"), partial=True)
        if not latest:
            raise ValueError(f"--init_from {source_dir} has no checkpoint.")
        return latest, int(step.numpy())

    def apply_learning_rate(self, previous=None):
        """After a restore: make the optimizer use the configured learning rate. A constant
        rate lives in an optimizer variable that the checkpoint has just overwritten with the
        previous run's value; a schedule is rebuilt from the config (nothing restored).
        `previous`: the config.json dict of the previous run. Returns a log line if the rate
        changed, else None."""
        if not callable(self.learning_rate):
            old = float(self.optimizer.learning_rate.numpy())
            new = float(np.float32(self.learning_rate))
            if old == new:
                return None
            self.optimizer.learning_rate.assign(self.learning_rate)
            return f"learning rate changed from {old:g} to {self.learning_rate:g} on resume"
        keys = ("learning_rate", "lr_schedule", "warmup_steps")
        if previous is None or all(previous.get(k) == getattr(self.config, k) for k in keys):
            return None
        describe = lambda c: (f"{c['learning_rate']:g} ({c['lr_schedule']}, "  # noqa: E731
                              f"warm-up {c['warmup_steps']})")
        return (f"learning rate changed from {describe(previous)} to "
                f"{describe({k: getattr(self.config, k) for k in keys})} on resume")

    def current_learning_rate(self):
        """The rate the optimizer applies now (a schedule's value at the current step)."""
        return float(np.asarray(self.optimizer.learning_rate))

    def evaluation_weights(self):
        """Context: the weights evaluation and samples use (the moving average if kept)."""
        import contextlib

        if self.weight_average:
            return self.weight_average.averaged_weights()
        return contextlib.nullcontext()

    def _build_step(self):
        model, optimizer, batch = self.model, self.optimizer, self.config.batch_size
        num_dims = model.num_dims
        average = self.weight_average
        seed_base = self.config.seed

        def replica_step(batch_data):
            # (images, labels) for a class-conditional model.
            images, *cond = batch_data if isinstance(batch_data, tuple) else (batch_data,)
            # Dropout masks from (seed, step, replica), which the checkpoint holds: exact resume.
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            seed = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.constant(seed_base, tf.int64),
                          tf.cast(optimizer.iterations, tf.int64)]), replica)
            with tf.GradientTape() as tape, seeded_dropout.dropout_seed(seed):
                log_p = model.log_prob_unchecked(images, *cond, training=True)
                # Mean over the GLOBAL batch of nats per dimension, so the gradient scale
                # does not depend on the number of replicas.
                loss = tf.reduce_sum(-log_p) / (batch * num_dims)
                scaled_loss = optimizer.scale_loss(loss)  # times the loss scale, if any
            grads = tape.gradient(scaled_loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            if average is not None:
                average.update(optimizer.iterations)
            return tf.reduce_sum(-log_p)

        return self._mean_over_replicas(
            tf.function(replica_step, jit_compile=self.config.jit_compile))

    def _mean_over_replicas(self, replica_fn):
        """A tf.function: `replica_fn`'s NLL sums over the replicas / the global batch."""
        batch = self.config.batch_size

        @tf.function
        def fn(dist_images):
            nll_sum = self.strategy.run(replica_fn, args=(dist_images,))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, nll_sum, axis=None) / batch

        return fn

    def train_step(self, dist_images):
        """One optimizer step; returns the batch's mean NLL in nats per image."""
        if self._step_fn is None:
            self._step_fn = self._build_step()
        return float(self._step_fn(dist_images))

    def _build_loss(self):
        model = self.model

        def replica_loss(batch_data):
            images, *cond = batch_data if isinstance(batch_data, tuple) else (batch_data,)
            return tf.reduce_sum(-model.log_prob_unchecked(images, *cond))

        return self._mean_over_replicas(replica_loss)

    def unsaveable(self, next_batch):
        """Why the current state must not be checkpointed, or None. A step's loss is computed
        from the weights before its update, so a finite loss says nothing about the weights
        the step wrote: they are checked here (every saved float variable finite, and a
        finite loss on the batch that the next step will train on)."""
        variables = list(self.model.variables) + list(self.optimizer.variables)
        if self.weight_average:
            variables += list(self.weight_average.shadows)
        bad = [v.name for v in variables if tf.as_dtype(v.dtype).is_floating
               and not np.isfinite(np.asarray(v.numpy())).all()]
        if bad:
            return (f"{len(bad)} variable(s) are not finite ({', '.join(bad[:3])}"
                    + (", ..." if len(bad) > 3 else "") + ")")
        if self._loss_fn is None:
            self._loss_fn = self._build_loss()
        loss = float(self._loss_fn(next_batch))
        if not math.isfinite(loss):
            return f"weights give a loss of {loss} on the next batch"
        return None

    def save(self):
        return self.manager.save(checkpoint_number=int(self.step.numpy()))


def _log(message):
    print(message, flush=True)


# Written by a run started with --init_from: its source checkpoint, step and epoch.
INIT_FILE = "init_from.json"


def run(config, workdir, max_seconds=None, resume_from_intact=False):
    """Train (or resume) in `workdir`; then evaluate on the test split and write samples.

    With several workers only the chief writes the workdir's files, evaluates and samples.
    `max_seconds`: a wall-time budget for this call's training loop; when it is spent the run
    checkpoints and returns {"step": ..., "stopped": "max_seconds"} without the final
    evaluation, so a later call resumes exactly where it stopped.
    `resume_from_intact`: if the latest checkpoint is damaged, resume from the newest intact
    one (see checkpoints.restore) instead of failing.

    Everything that can refuse the run (configuration, workdir, data, replicas, checkpoint)
    is checked before config.json, the first file it writes, is written.
    """
    from pixelrnn_tf.training import config as config_lib

    config_lib.validate(config)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"--max_seconds must be > 0, got {max_seconds}.")
    is_chief = _is_chief_task()
    if is_chief:
        workdir_lib.check(workdir, config)
        warning = hardware.emulated_bfloat16_warning(
            config.mixed_precision, "--mixed_precision=none trains the same checkpoint in float32.")
        if warning:
            _log(warning)
    spec = data.spec(config.dataset, image_size=config.image_size)
    train_images = data.load_split(config.dataset, "train", config.data_dir, config.image_size)
    test_split = "test" if "test" in spec.splits else spec.splits[-1]
    test_images = data.load_split(config.dataset, test_split, config.data_dir, config.image_size,
                                  max_examples=config.max_eval_examples)
    train_labels = test_labels = None
    if config.model_config.get("num_classes"):
        train_labels = data.load_labels(config.dataset, "train", config.data_dir)
        test_labels = data.load_labels(config.dataset, test_split, config.data_dir,
                                       max_examples=config.max_eval_examples)
    eval_split = config.eval_split or test_split
    if eval_split not in spec.splits:
        raise ValueError(f"Dataset {config.dataset!r} has no split {eval_split!r} "
                         f"(--eval_split); splits: {', '.join(spec.splits)}.")
    eval_images, eval_labels = test_images, test_labels
    if config.eval_every and eval_split != test_split:
        eval_images = data.load_split(config.dataset, eval_split, config.data_dir,
                                      config.image_size, max_examples=config.max_eval_examples)
        if test_labels is not None:
            eval_labels = data.load_labels(config.dataset, eval_split, config.data_dir,
                                           max_examples=config.max_eval_examples)
    num_steps = total_steps(config, len(train_images))
    trainer = Trainer(config, workdir, num_steps)
    restored = trainer.restore(resume_from_intact=resume_from_intact)
    initialized = None  # checked before config.json is written, as every refusal
    if not restored and config.init_from:
        initialized = trainer.initialize_from(config.init_from)
    previous = workdir_lib.saved_config(workdir)
    if is_chief:
        workdir_lib.claim(workdir, config)
        if initialized:
            # Where the run's weights came from, for its learning curve's epoch axis.
            with open(os.path.join(workdir, INIT_FILE), "w") as f:
                json.dump(dict(source=os.path.abspath(config.init_from),
                               checkpoint=initialized[0], step=initialized[1],
                               epoch=initialized[1] * config.batch_size / len(train_images)),
                          f, indent=2)
    # The configured rate, not the restored one: config.json records what the optimizer uses.
    changed = trainer.apply_learning_rate(previous) if restored else None
    start = int(trainer.step.numpy())
    _log(f"{config.model} on {config.dataset} {spec.image_shape} x {spec.num_levels} levels: "
         f"{trainer.model.count_params():,} parameters, {len(train_images)} train / "
         f"{len(test_images)} {test_split} images, {trainer.strategy.num_replicas_in_sync} "
         f"replica(s), workdir {workdir}")
    _log(f"resumed from {restored} at step {start}" if restored else "starting from step 0"
         + (f" with the weights of {initialized[0]} (step {initialized[1]})" if initialized
            else ""))
    if changed:
        _log(changed)
    was = (previous or {}).get("mixed_precision", "none")
    if restored and was != config.mixed_precision:
        # Allowed only between float32 and mixed_bfloat16 (workdir.check): same checkpoint.
        _log(f"mixed_precision changed from {was} to {config.mixed_precision} on resume at "
             f"step {start}")
    log_dir = workdir if trainer.is_chief else os.path.dirname(trainer.manager.directory)
    writers = {k: tf.summary.create_file_writer(os.path.join(log_dir, k))
               for k in ("train", "eval")}
    loss_log = open(os.path.join(log_dir, "train_log.jsonl"), "a")
    batches = distribution.distributed_batches(
        trainer.strategy, train_images, config.batch_size, config.seed, start, train_labels)
    progress = Progress(num_steps, config.batch_size, start_step=start)
    clock = TrainClock(workdir if trainer.is_chief else None, start)
    num_dims = int(np.prod(spec.image_shape))
    step = start
    since_eval = []  # training losses since the last periodic evaluation
    loop_start = time.time()
    stopped = None
    terminate = _TerminationRequest()
    # The batch of the next step, when a checkpoint's check has already fetched it.
    lookahead = []
    saved_step = start

    def diverged(what):
        kept = trainer.manager.latest_checkpoint
        progress.stream.write("\n")  # end the progress line
        return TrainingDiverged(
            f"{what}; training stopped and nothing was saved. "
            + (f"The newest checkpoint, {kept}, was checked (finite weights with a finite "
               "loss): " if kept else "There is no checkpoint: ")
            + f"re-run with a smaller --learning_rate (now {config.learning_rate:g}) to "
            + ("resume from it." if kept else "start again."))

    def save():
        nonlocal saved_step
        if not lookahead:
            lookahead.append(next(batches))
        problem = trainer.unsaveable(lookahead[0])
        if problem:
            raise diverged(f"After step {step} the {problem}")
        trainer.save()
        clock.save()
        saved_step = step

    try:
        while step < num_steps:
            nats = trainer.train_step(lookahead.pop() if lookahead else next(batches))
            step += 1
            if not math.isfinite(nats):
                raise diverged(f"Loss is {nats} at step {step}")
            trainer.step.assign(step)
            since_eval.append(nats)
            bpd = nats / (num_dims * math.log(2.0))
            loss_log.write(json.dumps({"step": step, "nll_nats": nats}) + "\n")
            if step % config.log_every == 0 or step == num_steps:
                rate = progress.update(step, nats, bpd, final=step == num_steps)
                with writers["train"].as_default(step=step):
                    tf.summary.scalar("loss_nats", nats)
                    tf.summary.scalar("bits_per_dim", bpd)
                    tf.summary.scalar("learning_rate", trainer.current_learning_rate())
                    tf.summary.scalar("images_per_sec", rate)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                loss_log.flush()
                save()
            # The curve ends at the final weights; on the test split the final evaluation
            # below does that.
            if config.eval_every and (step % config.eval_every == 0 and step < num_steps
                                      or step == num_steps and eval_split != test_split):
                with trainer.evaluation_weights():
                    metrics = evaluate(trainer.model, eval_images, labels=eval_labels)
                write_eval(writers["eval"], step, metrics, eval_split)
                if trainer.is_chief:
                    append_eval_log(workdir, step, step * config.batch_size / len(train_images),
                                     eval_split, metrics, since_eval, clock.total(),
                                     cpu_seconds=clock.cpu_total(),
                                     mixed_precision=config.mixed_precision)
                since_eval = []
            if max_seconds is not None and time.time() - loop_start >= max_seconds \
                    and step < num_steps:
                stopped = "max_seconds"
                break
            if terminate.requested and step < num_steps:
                stopped = "SIGTERM"
                break
    finally:
        terminate.restore()
        loss_log.close()
    if step > saved_step:
        save()
    if stopped:
        progress.stream.write("\n")
        reason = (f"wall-time budget of {max_seconds:.0f} s spent" if stopped == "max_seconds"
                  else "SIGTERM received")
        _log(f"{reason}: stopped at step {step}/{num_steps}, checkpoint "
             f"{trainer.manager.latest_checkpoint}; re-run to resume.")
        return {"step": step, "stopped": stopped}
    if not trainer.is_chief:
        return {"step": step}
    if trainer.weight_average:
        # Both, so the effect of averaging is measured in every run that uses it.
        raw = evaluate(trainer.model, test_images, labels=test_labels)
        trainer.weight_average.copy_to_model()  # training is over: keep the averages
    metrics = evaluate(trainer.model, test_images, labels=test_labels)
    metrics.update(step=step, split=test_split, dataset=config.dataset, model=config.model,
                   mixed_precision=config.mixed_precision,
                   train_seconds=round(clock.total(), 1),
                   train_cpu_seconds=round(clock.cpu_total(), 1),
                   cpu_from_step=clock.cpu_from_step)
    if trainer.weight_average:
        metrics.update(raw_weights_nll_nats=raw["nll_nats"],
                       raw_weights_bits_per_dim=raw["bits_per_dim"])
        _log(f"without weight averaging: {raw['nll_nats']:.3f} nats/image, "
             f"{raw['bits_per_dim']:.4f} bits/dim")
    write_eval(writers["eval"], step, metrics, test_split, log=False)
    with open(os.path.join(workdir, f"eval_{test_split}.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    samples = sampling.sample(trainer.model, config.num_samples, seed=config.seed,
                              conditioning=sample_labels(trainer.model, config.num_samples))
    grid = sampling.image_grid(samples, spec.num_levels)
    path = sampling.save_png(grid, os.path.join(workdir, "samples.png"))
    with writers["eval"].as_default(step=step):
        tf.summary.image("samples", grid[None].astype(np.float32) / 255.0)
    for w in writers.values():
        w.flush()
    _log(f"test NLL ({test_split}, {metrics['num_images']} images): "
         f"{metrics['nll_nats']:.3f} nats/image, {metrics['bits_per_dim']:.4f} bits/dim")
    _log(f"samples: {os.path.abspath(path)}")
    return metrics


class _TerminationRequest:
    """SIGTERM during training: finish the current step, checkpoint, return (instead of dying
    and losing the steps since the last checkpoint). Only in the main thread, where Python can
    install signal handlers."""

    def __init__(self):
        import signal
        import threading

        self.requested = False
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
            self._old = None


def sample_labels(model, num_samples):
    """Labels for a grid of samples of a class-conditional model: 0, 1, 2, ... cyclically
    (one column per class when the grid has num_classes columns); None otherwise."""
    if not model.num_classes:
        return None
    return np.arange(num_samples, dtype=np.int32) % model.num_classes


def _is_chief_task():
    """The task that writes the workdir: the "chief" if TF_CONFIG has one, else worker 0."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task, cluster = tf_config.get("task", {}), tf_config.get("cluster", {})
    if task.get("type") == "chief" or not task:
        return True
    return "chief" not in cluster and task.get("type") == "worker" and int(task["index"]) == 0
