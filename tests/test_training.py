"""Training CLI and library: main job, resume after SIGKILL, workdir safety, NaN stop."""

import json
import os
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import models
from pixelrnn_tf.training import config as config_lib
from pixelrnn_tf.training import distribution, trainer as trainer_lib, workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


@pytest.fixture(scope="module")
def npz_dataset(tmp_path_factory):
    """A small real-valued dataset file: 64 images 4x4x1 from the sklearn digits (0..16 ->
    scaled to 0..255 as uint8)."""
    from sklearn.datasets import load_digits

    digits = load_digits().images[:64, 2:6, 2:6]
    images = np.round(digits * 255 / 16).astype(np.uint8)[..., None]
    path = tmp_path_factory.mktemp("npz") / "digits4.npz"
    np.savez(path, images=images)
    return f"npz:{path}"


def _train_cmd(workdir, *extra):
    return [sys.executable, "-m", "pixelrnn_tf.train", f"--workdir={workdir}", *extra]


def test_main_job_cli_end_to_end(tmp_path):
    """The README's main job with fewer steps: default dataset (offline digits)."""
    workdir = tmp_path / "run"
    out = subprocess.run(_train_cmd(workdir, "--steps=12", "--log_every=4", "--num_samples=4",
                                    "--num_layers=1", "--units=8", "--output_units=16",
                                    "--checkpoint_every=6"),
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test NLL" in out.stdout and "bits/dim" in out.stdout
    png = out.stdout.split("samples: ")[1].split()[0]
    assert os.path.exists(png) and open(png, "rb").read(4) == b"\x89PNG"
    assert "step 12/12" in out.stderr and "img/s" in out.stderr and "ETA" in out.stderr
    config = json.loads((workdir / "config.json").read_text())
    assert config["dataset"] == "digits" and config["model_config"]["num_levels"] == 17
    for sub in ("train", "eval"):
        assert any(f.startswith("events.out.tfevents") for f in os.listdir(workdir / sub))
    metrics = json.loads((workdir / "eval_test.json").read_text())
    assert metrics["step"] == 12 and metrics["nll_nats"] > 0
    # Evaluate CLI reproduces the number from the checkpoint.
    ev = subprocess.run([sys.executable, "-m", "pixelrnn_tf.evaluate", f"--workdir={workdir}"],
                        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]
    again = json.loads((workdir / "eval_test.json").read_text())
    assert again["step"] == 12
    assert abs(again["nll_nats"] - metrics["nll_nats"]) < 1e-4 * metrics["nll_nats"]


def _losses(workdir):
    """Last logged loss of every step (a resumed run re-logs the steps after its checkpoint)."""
    losses = {}
    for line in open(os.path.join(workdir, "train_log.jsonl")):
        rec = json.loads(line)
        losses[rec["step"]] = rec["nll_nats"]
    return losses


def test_resume_after_sigkill_reproduces_the_uninterrupted_run(tmp_path, npz_dataset):
    common = ["--steps=40", "--checkpoint_every=5", "--log_every=5", "--num_samples=1",
              f"--dataset={npz_dataset}", "--model=row_lstm", "--num_layers=1", "--units=6",
              "--output_units=12", "--batch_size=8", "--seed=3"]
    full = tmp_path / "full"
    subprocess.run(_train_cmd(full, *common), cwd=ROOT, env=_env(), check=True,
                   capture_output=True, timeout=600)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, *common), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = killed / "train_log.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 13 and \
                any(f.startswith("ckpt-10") for f in os.listdir(killed / "checkpoints")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _losses(killed)
    assert 10 <= max(before) < 40, f"killed at step {max(before)}"
    out = subprocess.run(_train_cmd(killed, *common), cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resumed from" in out.stdout
    resumed, reference = _losses(killed), _losses(full)
    assert sorted(resumed) == list(range(1, 41))
    np.testing.assert_array_equal([resumed[s] for s in range(1, 41)],
                                  [reference[s] for s in range(1, 41)])


def _config(tmp_path, npz, **kw):
    args = dict(model="pixel_cnn", dataset=npz, overrides=dict(num_layers=1, units=6,
                                                               output_units=12),
                steps=4, batch_size=4, checkpoint_every=2, log_every=2, num_samples=1)
    args.update(kw)
    return config_lib.resolve(**args)


def test_workdir_of_another_model_is_refused(tmp_path, npz_dataset):
    workdir = tmp_path / "w"
    first = _config(tmp_path, npz_dataset)
    trainer_lib.run(first, str(workdir))
    snapshot = {f: (workdir / "checkpoints" / f).read_bytes()
                for f in os.listdir(workdir / "checkpoints")}
    saved_config = (workdir / "config.json").read_text()
    other = _config(tmp_path, npz_dataset, model="row_lstm")
    with pytest.raises(workdir_lib.WorkdirMismatch, match="model: saved 'pixel_cnn', now 'row_lstm'"):
        trainer_lib.run(other, str(workdir))
    wider = _config(tmp_path, npz_dataset, overrides=dict(num_layers=1, units=8, output_units=12))
    with pytest.raises(workdir_lib.WorkdirMismatch, match="model_config"):
        trainer_lib.run(wider, str(workdir))
    assert (workdir / "config.json").read_text() == saved_config
    assert snapshot == {f: (workdir / "checkpoints" / f).read_bytes()
                        for f in os.listdir(workdir / "checkpoints")}
    # More steps with the same configuration is a resume, not a conflict.
    more = _config(tmp_path, npz_dataset, steps=6)
    assert trainer_lib.run(more, str(workdir))["step"] == 6


def test_a_dropout_run_resumes_exactly(tmp_path, npz_dataset):
    """Dropout masks follow (seed, optimizer step): 4 steps in one go log the same losses as 2
    steps and a resume to 4 by a new Trainer (which, with tf.nn.dropout's stateful stream,
    drew the masks of steps 1-2 again). PixelCNN++'s and PixelSNAIL's blocks use the same
    seeded dropout (tests/test_seeded_dropout.py)."""
    def run(workdir, steps):
        cfg = _config(tmp_path, npz_dataset, model="gated_pixel_cnn", steps=steps,
                      overrides=dict(num_layers=2, units=6, dropout_rate=0.5),
                      log_every=1, checkpoint_every=2)
        trainer_lib.run(cfg, str(workdir))

    run(tmp_path / "full", 4)
    run(tmp_path / "resumed", 2)
    run(tmp_path / "resumed", 4)
    full, resumed = _losses(tmp_path / "full"), _losses(tmp_path / "resumed")
    assert sorted(resumed) == [1, 2, 3, 4]
    np.testing.assert_array_equal([resumed[s] for s in range(1, 5)],
                                  [full[s] for s in range(1, 5)])


def test_checkpoints_without_config_are_refused(tmp_path, npz_dataset):
    (tmp_path / "w" / "checkpoints").mkdir(parents=True)
    (tmp_path / "w" / "checkpoints" / "checkpoint").write_text("foreign")
    with pytest.raises(workdir_lib.WorkdirMismatch, match="no config.json"):
        trainer_lib.run(_config(tmp_path, npz_dataset), str(tmp_path / "w"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, npz_dataset, monkeypatch):
    real = trainer_lib.Trainer.train_step

    def poisoned(self, batch):
        loss = real(self, batch)
        return float("nan") if int(self.step.numpy()) == 4 else loss  # the 5th step

    monkeypatch.setattr(trainer_lib.Trainer, "train_step", poisoned)
    cfg = _config(tmp_path, npz_dataset, steps=10)
    with pytest.raises(trainer_lib.TrainingDiverged, match="at step 5"):
        trainer_lib.run(cfg, str(tmp_path / "w"))
    ckpts = sorted(f for f in os.listdir(tmp_path / "w" / "checkpoints") if f.endswith(".index"))
    assert ckpts == ["ckpt-2.index", "ckpt-4.index"]


def test_batch_size_must_divide_by_replicas():
    fake = types.SimpleNamespace(num_replicas_in_sync=2)
    with pytest.raises(ValueError, match="--batch_size=3 is not divisible by the 2 replicas"):
        distribution.per_replica_batch(3, fake)


def test_unknown_names_list_the_valid_ones(npz_dataset):
    with pytest.raises(ValueError, match="Registered models: .*pixel_cnn.*Paper configs: .*cifar10"):
        config_lib.resolve("pixelsnail")
    with pytest.raises(ValueError, match="digits"):
        config_lib.resolve("pixel_cnn", dataset="imagenet")
    with pytest.raises(ValueError, match="strategy"):
        config_lib.resolve("pixel_cnn", strategy="tpu")


def test_paper_config_must_match_the_dataset(npz_dataset):
    with pytest.raises(ValueError, match=r"is for \(32, 32, 3\) images"):
        config_lib.resolve("cifar10_pixel_cnn", dataset="digits")


@pytest.mark.parametrize("dropout_rate", [0.5, 0.0])
def test_the_training_step_runs_dropout_and_evaluation_does_not(tmp_path, npz_dataset,
                                                                dropout_rate):
    """PixelCNN++ has dropout on its residual paths: the trainer's step must run the model in
    training mode (two steps on the same batch at a negligible learning rate give different losses),
    evaluation in inference mode (the same NLL twice)."""
    import tensorflow as tf

    cfg = _config(tmp_path, npz_dataset, model="pixel_cnn_pp", learning_rate=1e-12,
                  optimizer="sgd", overrides=dict(num_resnet=1, units=8, num_mixtures=2,
                                                  dropout_rate=dropout_rate))
    t = trainer_lib.Trainer(cfg, str(tmp_path / "w"))
    batch = tf.constant(np.random.default_rng(0).integers(0, 256, (4, 4, 4, 1)), tf.int32)
    losses = [t.train_step(batch) for _ in range(2)]
    if dropout_rate:
        assert losses[0] != losses[1], losses
    else:
        assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    images = batch.numpy()
    first, second = trainer_lib.evaluate(t.model, images), trainer_lib.evaluate(t.model, images)
    assert first == second


def test_an_argument_the_model_does_not_take_is_refused(npz_dataset):
    with pytest.raises(ValueError, match=r"'pixel_cnn_pp' takes no --num_layers; its arguments:"
                                         r".*num_resnet"):
        config_lib.resolve(model="pixel_cnn_pp", dataset=npz_dataset,
                           overrides=dict(num_layers=3))
    # The defaults of the small registry-name runs are only those the model takes.
    cfg = config_lib.resolve(model="pixel_cnn_pp", dataset=npz_dataset)
    assert "num_layers" not in cfg.model_config and "output_units" not in cfg.model_config
    assert config_lib.resolve(model="pixel_cnn", dataset=npz_dataset).model_config[
        "num_layers"] == config_lib.DEFAULT_MODEL_CONFIG["num_layers"]


@pytest.mark.parametrize("name", models.names())
def test_a_registry_name_run_is_small(name):
    # `--model=<registry name>` trains a small model on the default data, not a model at the
    # constructor's paper size (PixelSNAIL's defaults are 12 attention blocks, 46M parameters).
    cfg = config_lib.resolve(name)
    model = models.build(cfg.model, **cfg.model_config)
    assert model.count_params() < 1_000_000, (cfg.model_config, model.count_params())
