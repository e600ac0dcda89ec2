"""Learning-rate schedules and weight averaging (EMA): values, checkpoints, resume, use."""

import json

import numpy as np
import pytest
import tensorflow as tf

from pixelrnn_tf.training import config as config_lib, trainer as trainer_lib
from pixelrnn_tf.training.weight_average import WeightAverage
from tests.test_training import npz_dataset  # noqa: F401 (fixture)


def test_warmup_cosine_matches_its_formula():
    schedule = trainer_lib.WarmupCosine(0.01, total_steps=110, warmup_steps=10)
    for step in [0, 4, 9, 10, 35, 60, 85, 109, 110, 500]:
        warm = min(1.0, (step + 1) / 10)
        done = min(max((step - 10) / 100, 0.0), 1.0)
        expected = 0.01 * warm * 0.5 * (1 + np.cos(np.pi * done))
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5, atol=1e-9)
    constant = trainer_lib.WarmupCosine(0.01, 100, warmup_steps=4, cosine=False)
    assert [round(float(constant(s)), 6) for s in (0, 3, 50)] == [0.0025, 0.01, 0.01]


def test_weight_average_matches_a_numpy_reference():
    v = tf.Variable([1.0, -2.0])
    average = WeightAverage([v], decay=0.9)
    shadow = np.array([1.0, -2.0])
    for n, value in enumerate([[3.0, 0.0], [0.5, 1.0], [2.0, 2.0], [-1.0, 4.0]], start=1):
        v.assign(value)
        average.update(n)
        d = min(0.9, (1 + n) / (10 + n))
        shadow = d * shadow + (1 - d) * np.array(value)
    np.testing.assert_allclose(average.shadows[0].numpy(), shadow, rtol=1e-5, atol=1e-6)
    with average.averaged_weights():
        np.testing.assert_allclose(v.numpy(), shadow, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(v.numpy(), [-1.0, 4.0])  # training weights are back
    with pytest.raises(ValueError, match="ema_decay"):
        WeightAverage([v], decay=1.0)


def _config(npz, **kw):
    args = dict(model="pixel_cnn", dataset=npz, overrides=dict(num_layers=1, units=6,
                                                               output_units=12),
                steps=8, batch_size=4, checkpoint_every=3, log_every=2, num_samples=1,
                optimizer="adam", learning_rate=3e-3, lr_schedule="cosine", warmup_steps=2,
                ema_decay=0.8)
    args.update(kw)
    return config_lib.resolve(**args)


def test_interrupted_run_with_schedule_and_averaging_resumes_exactly(tmp_path, npz_dataset,  # noqa: F811
                                                                     monkeypatch):
    full = trainer_lib.run(_config(npz_dataset), str(tmp_path / "full"))
    real = trainer_lib.Trainer.train_step

    def interrupted(self, batch):
        if int(self.step.numpy()) == 4:  # after the checkpoint at step 3
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(trainer_lib.Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer_lib.run(_config(npz_dataset), str(tmp_path / "cut"))
    monkeypatch.setattr(trainer_lib.Trainer, "train_step", real)
    resumed = trainer_lib.run(_config(npz_dataset), str(tmp_path / "cut"))
    assert resumed["nll_nats"] == full["nll_nats"]
    assert resumed["raw_weights_nll_nats"] == full["raw_weights_nll_nats"]
    # Averaging is measured, and evaluation used the averages, not the raw weights.
    assert full["nll_nats"] != full["raw_weights_nll_nats"]
    saved = json.loads((tmp_path / "full" / "eval_test.json").read_text())
    assert saved["raw_weights_nll_nats"] == full["raw_weights_nll_nats"]

    # The CLIs' restore gives the averaged weights, exactly those in the checkpoint.
    model, _, step = trainer_lib.restore_model(str(tmp_path / "full"))
    t = trainer_lib.Trainer(_config(npz_dataset), str(tmp_path / "full"))
    t.restore()
    assert step == 8
    for got, shadow, raw in zip(model.trainable_variables, t.weight_average.shadows,
                                t.model.trainable_variables):
        np.testing.assert_array_equal(got.numpy(), shadow.numpy())
    assert any(not np.array_equal(s.numpy(), r.numpy())
               for s, r in zip(t.weight_average.shadows, t.model.trainable_variables))
    # The learning rate really decayed to 0 at the last step.
    assert t.current_learning_rate() == pytest.approx(0.0, abs=1e-9)


def test_bad_schedule_and_decay_are_refused(npz_dataset):  # noqa: F811
    with pytest.raises(ValueError, match="lr_schedule 'linear'"):
        _config(npz_dataset, lr_schedule="linear")
    with pytest.raises(ValueError, match="ema_decay must be 0"):
        _config(npz_dataset, ema_decay=1.5)


def test_changing_ema_on_resume_is_refused(tmp_path, npz_dataset):  # noqa: F811
    from pixelrnn_tf.training.workdir import WorkdirMismatch

    trainer_lib.run(_config(npz_dataset, steps=3), str(tmp_path / "w"))
    with pytest.raises(WorkdirMismatch, match="ema_decay"):
        trainer_lib.run(_config(npz_dataset, steps=6, ema_decay=0.0), str(tmp_path / "w"))
