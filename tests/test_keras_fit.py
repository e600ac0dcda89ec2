"""compile() / fit() / evaluate() of every zoo model: the exact NLL as the loss, the metrics,
equality with the project's own trainer and evaluation, conditional models, callbacks and
MirroredStrategy (in a subprocess: logical devices are set before TensorFlow initializes)."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.configs.tiny import tiny_config
from pixelrnn_tf.training import evaluation
from pixelrnn_tf.training.config import TrainConfig
from pixelrnn_tf.training.trainer import Trainer
from tests.conftest import build_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE, LEVELS = (4, 4, 1), 4


def _images(n=16, seed=0, shape=SHAPE, levels=LEVELS):
    return np.random.default_rng(seed).integers(0, levels, size=(n,) + shape).astype(np.uint8)


def _config(name, shape=SHAPE, levels=LEVELS, **extra):
    """A tiny config without dropout (so two runs see the same network), plus `extra`."""
    config = tiny_config(name, shape, levels)
    if "dropout_rate" in config:
        config["dropout_rate"] = 0.0
    config.update(extra)
    return config


def _build(name, config, seed=0):
    keras.utils.set_random_seed(seed)
    return models.build(name, **config)


@pytest.mark.parametrize("name", models.names())
def test_fit_decreases_the_loss_and_reports_the_metrics(name):
    model = build_tiny(name, SHAPE, LEVELS)  # dropout as configured: on in training
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = _images()
    history = model.fit(images, batch_size=16, epochs=5, shuffle=False, verbose=0).history
    assert set(history) == {"loss", "nll_nats", "bits_per_dim"}
    losses = history["loss"]
    assert losses[-1] < losses[0], losses
    # loss is nats/dim; the metrics are the same quantity per image and in bits.
    np.testing.assert_allclose(history["nll_nats"], np.array(losses) * model.num_dims, rtol=1e-5)
    np.testing.assert_allclose(history["bits_per_dim"], np.array(losses) / math.log(2), rtol=1e-5)
    # Near log(L) nats/dim at initialization (a random model is close to uniform).
    assert 0.5 * math.log(LEVELS) < losses[0] < 2 * math.log(LEVELS)


@pytest.mark.parametrize("name", models.names())
def test_evaluate_equals_the_project_evaluation(name):
    model = build_tiny(name, SHAPE, LEVELS)
    model.compile(optimizer="adam")
    images = _images(20, seed=3)
    # An uneven last batch (20 = 8 + 8 + 4): both averages are over images.
    got = model.evaluate(images, batch_size=8, return_dict=True, verbose=0)
    want = evaluation.evaluate(model, images, batch_size=16)
    np.testing.assert_allclose(got["nll_nats"], want["nll_nats"], rtol=1e-5)
    np.testing.assert_allclose(got["bits_per_dim"], want["bits_per_dim"], rtol=1e-5)
    np.testing.assert_allclose(got["loss"], want["nll_nats"] / model.num_dims, rtol=1e-5)
    # Evaluation is deterministic (dropout off) and depends on the images.
    again = model.evaluate(images, batch_size=20, return_dict=True, verbose=0)
    np.testing.assert_allclose(again["nll_nats"], got["nll_nats"], rtol=1e-5)
    other = model.evaluate(_images(20, seed=4), batch_size=8, return_dict=True, verbose=0)
    assert abs(other["nll_nats"] - got["nll_nats"]) > 1e-3


def _trainer(name, config, optimizer, learning_rate, batch_size, tmp_path):
    return Trainer(TrainConfig(model=name, model_config=config, dataset="npz:none",
                               batch_size=batch_size, strategy="one_device", seed=0,
                               optimizer=optimizer, learning_rate=learning_rate),
                   str(tmp_path / "unused"))


def _keras_optimizer(optimizer, learning_rate):
    # The project's make_optimizer: Adam(lr) or SGD(lr, momentum=0.9).
    if optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


CASES = [(name, "sgd", {}) for name in models.names()] + [
    ("pixel_cnn", "adam", {}),
    ("gated_pixel_cnn", "sgd", {"num_classes": 3}),
]


@pytest.mark.parametrize("name,optimizer,extra", CASES,
                         ids=[f"{n}-{o}" + ("-conditional" if e else "") for n, o, e in CASES])
def test_one_fit_step_equals_one_trainer_step(name, optimizer, extra, tmp_path):
    config = _config(name, **extra)
    batch, lr = 8, 0.05
    images = _images(batch, seed=5)
    labels = np.arange(batch, dtype=np.int32) % 3 if extra else None
    trainer = _trainer(name, config, optimizer, lr, batch, tmp_path)
    model = _build(name, config, seed=1)
    model.set_weights(trainer.model.get_weights())  # same initial weights
    initial = [w.numpy() for w in model.trainable_weights]
    initial_all = model.get_weights()
    model.compile(optimizer=_keras_optimizer(optimizer, lr))
    model.optimizer.build(model.trainable_variables)
    optimizer_initial = [v.numpy() for v in model.optimizer.variables]

    data = (tf.constant(images), tf.constant(labels)) if extra else tf.constant(images)
    trainer_nats = trainer.train_step(data)
    history = model.fit(images, labels, batch_size=batch, epochs=1, shuffle=False,
                        verbose=0).history
    np.testing.assert_allclose(history["nll_nats"][0], trainer_nats, rtol=1e-5)
    np.testing.assert_allclose(history["loss"][0], trainer_nats / model.num_dims, rtol=1e-5)
    assert len(model.trainable_weights) == len(trainer.model.trainable_weights)
    moved = 0.0
    for got, want, init in zip(model.trainable_weights, trainer.model.trainable_weights,
                               initial):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-7,
                                   err_msg=got.path)
        moved = max(moved, float(np.abs(got.numpy() - init).max()))
    assert moved > 1e-4  # the step really changed the weights

    # Negative control: from the same initial state (weights and optimizer, reset in place so
    # fit reuses its traced step), a step on another batch gives another loss and weights.
    model.set_weights(initial_all)
    for variable, value in zip(model.optimizer.variables, optimizer_initial):
        variable.assign(value)
    other = model.fit(_images(batch, seed=6), labels, batch_size=batch, epochs=1,
                      shuffle=False, verbose=0).history
    assert abs(other["nll_nats"][0] - trainer_nats) > 1e-3
    assert any(not np.allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
               for a, b in zip(model.trainable_weights, trainer.model.trainable_weights))


def test_conditional_model_trains_on_labels_from_arrays_and_datasets():
    config = _config("gated_pixel_cnn", num_classes=3)
    images = _images(12, seed=7)
    labels = (np.arange(12) % 3).astype(np.int32)
    model = _build("gated_pixel_cnn", config)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    from_arrays = model.evaluate(images, labels, batch_size=5, return_dict=True, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    from_dataset = model.evaluate(dataset, return_dict=True, verbose=0)
    want = evaluation.evaluate(model, images, labels=labels)
    for got in (from_arrays, from_dataset):
        np.testing.assert_allclose(got["nll_nats"], want["nll_nats"], rtol=1e-5)
    # The labels are the conditioning: other labels give another NLL.
    wrong = model.evaluate(images, (labels + 1) % 3, batch_size=5, return_dict=True, verbose=0)
    assert abs(wrong["nll_nats"] - from_arrays["nll_nats"]) > 1e-4
    losses = model.fit(dataset, epochs=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    # Without labels: a clear error.
    with pytest.raises(ValueError, match="conditional"):
        model.fit(images, epochs=1, verbose=0)


def test_datasets_of_images_and_integer_dtypes_train():
    model = build_tiny("pixel_cnn", SHAPE, LEVELS)
    model.compile(optimizer="adam")
    images = _images(12)
    want = model.evaluate(images, batch_size=12, return_dict=True, verbose=0)["nll_nats"]
    for data in (tf.data.Dataset.from_tensor_slices(images).batch(5),
                 tf.data.Dataset.from_tensor_slices(images.astype(np.int64)).batch(12)):
        got = model.evaluate(data, return_dict=True, verbose=0)["nll_nats"]
        np.testing.assert_allclose(got, want, rtol=1e-5)
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(6), epochs=1, verbose=0)


def test_bad_inputs_and_arguments_are_refused():
    model = build_tiny("pixel_cnn", SHAPE, LEVELS)
    with pytest.raises(ValueError, match="takes no `loss`"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="metrics"):
        model.compile(optimizer="adam", metrics=["accuracy"])
    with pytest.raises(ValueError, match="compile"):  # Keras refuses before our step
        model.evaluate(_images(4), verbose=0)
    model.compile(optimizer="adam")
    images = _images(8)
    # Scaled float images must not silently train.
    with pytest.raises(ValueError, match="integer dtype"):
        model.fit(images.astype(np.float32) / (LEVELS - 1), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        model.fit(_images(8, shape=(4, 4, 3)), epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        model.fit(np.full((8,) + SHAPE, LEVELS, np.uint8), epochs=1, verbose=0)  # out of range
    with pytest.raises(ValueError, match="unconditional"):
        model.fit(images, np.zeros(8, np.int32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sample weights"):
        model.fit(tf.data.Dataset.from_tensor_slices(
            (images, np.zeros(8, np.int32), np.ones(8, np.float32))).batch(4), verbose=0)


def test_callbacks_checkpoint_tensorboard_early_stopping(tmp_path):
    name = "row_lstm"
    model = build_tiny(name, SHAPE, LEVELS)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    train, val = _images(16, seed=8), _images(8, seed=9)
    weights_path = str(tmp_path / "best.weights.h5")
    callbacks = [
        keras.callbacks.ModelCheckpoint(weights_path, monitor="val_loss", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb")),
        # No improvement can reach min_delta: stops after the second epoch.
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=100.0),
    ]
    history = model.fit(train, validation_data=(val,), batch_size=8, epochs=10,
                        callbacks=callbacks, verbose=0).history
    assert len(history["loss"]) == 2
    assert {"val_loss", "val_nll_nats", "val_bits_per_dim"} <= set(history)
    want_val = evaluation.evaluate(model, val)["nll_nats"]
    np.testing.assert_allclose(history["val_nll_nats"][-1], want_val, rtol=1e-5)
    # The checkpoint holds the best epoch's weights; an uncompiled model loads them.
    best = int(np.argmin(history["val_loss"]))
    restored = build_tiny(name, SHAPE, LEVELS, seed=5)
    restored.load_weights(weights_path)
    np.testing.assert_allclose(evaluation.evaluate(restored, val)["nll_nats"],
                               history["val_nll_nats"][best], rtol=1e-5)
    events = [f for root, _, files in os.walk(tmp_path / "tb") for f in files
              if f.startswith("events.out.tfevents")]
    assert len(events) >= 2  # train and validation


def test_fit_under_mirrored_strategy_equals_one_device(tmp_path):
    out = tmp_path / "keras_fit.json"
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    subprocess.run([sys.executable, "-m", "tests.distributed_check", "keras_fit", str(out)],
                   cwd=ROOT, env=env, check=True, timeout=600)
    res = json.loads(out.read_text())
    for name in ("row_lstm", "gated_pixel_cnn"):
        one, mirrored = res[f"{name}/one_device"], res[f"{name}/mirrored"]
        assert one["replicas"] == 1 and mirrored["replicas"] == 2
        np.testing.assert_allclose(mirrored["before"]["nll_nats"], one["before"]["nll_nats"],
                                   rtol=1e-5)
        for key in ("loss", "nll_nats", "bits_per_dim"):
            np.testing.assert_allclose(mirrored["history"][key], one["history"][key],
                                       rtol=1e-5)
        moved = 0.0
        for a, b, init in zip(mirrored["weights"], one["weights"], one["initial"]):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-6)
            moved = max(moved, float(np.abs(np.array(b) - np.array(init)).max()))
        assert moved > 1e-4  # the step changed the weights
