"""The training campaign's pieces: a wall-time budget that checkpoints and resumes exactly,
SIGTERM checkpoint-and-stop, validation learning curves, the campaign's report and plot."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import models  # noqa: F401  (fills the registry)
from pixelrnn_tf import campaign
from pixelrnn_tf.training import config as config_lib, trainer as trainer_lib
from tests.test_training import ROOT, _env, _losses, npz_dataset  # noqa: F401


def _config(npz, workdir, **kw):
    args = dict(model="pixel_cnn", dataset=npz, overrides=dict(num_layers=1, units=6,
                                                               output_units=12),
                steps=6, batch_size=4, checkpoint_every=100, log_every=2, num_samples=1,
                seed=5, workdir=str(workdir))
    args.update(kw)
    return config_lib.resolve(**args)


def test_wall_time_budget_stops_with_a_checkpoint_and_resumes_exactly(tmp_path, npz_dataset):
    full = tmp_path / "full"
    trainer_lib.run(_config(npz_dataset, full), str(full))
    cut = tmp_path / "cut"
    # A tiny budget stops after one step each call: every call must checkpoint, even with
    # checkpoint_every far away, and the last call (no budget) finishes the run.
    for expected_step in (1, 2, 3):
        result = trainer_lib.run(_config(npz_dataset, cut), str(cut), max_seconds=1e-9)
        assert result == {"step": expected_step, "stopped": "max_seconds"}
        assert not (cut / "eval_test.json").exists()
    final = trainer_lib.run(_config(npz_dataset, cut), str(cut))
    assert final["step"] == 6 and (cut / "eval_test.json").exists()
    resumed, reference = _losses(cut), _losses(full)
    np.testing.assert_array_equal([resumed[s] for s in range(1, 7)],
                                  [reference[s] for s in range(1, 7)])
    assert abs(final["nll_nats"] - json.loads((full / "eval_test.json").read_text())[
        "nll_nats"]) < 1e-6 * final["nll_nats"]


def test_sigterm_checkpoints_and_stops(tmp_path, npz_dataset, monkeypatch):
    original = trainer_lib.Trainer.train_step

    def step_then_terminate(self, batch):
        nats = original(self, batch)
        if int(self.step.numpy()) == 2:  # the step counter is assigned after the call
            os.kill(os.getpid(), signal.SIGTERM)
        return nats

    monkeypatch.setattr(trainer_lib.Trainer, "train_step", step_then_terminate)
    workdir = tmp_path / "w"
    result = trainer_lib.run(_config(npz_dataset, workdir, steps=50), str(workdir))
    assert result["stopped"] == "SIGTERM" and 3 <= result["step"] < 50
    ckpts = os.listdir(workdir / "checkpoints")
    assert f"ckpt-{result['step']}.index" in ckpts
    # The handler is removed afterwards: SIGTERM is the default action again.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_eval_log_records_the_learning_curve_on_the_eval_split(tmp_path, npz_dataset):
    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz_dataset, workdir, eval_every=2, eval_split="train",
                            keep_checkpoints=1, checkpoint_every=2), str(workdir))
    log = campaign.read_eval_log(str(workdir))
    assert [r["step"] for r in log] == [2, 4]  # not at the last step: the final eval is test
    assert all(r["split"] == "train" and r["num_images"] > 0 for r in log)
    assert log[0]["train_nll_nats"] > 0 and log[1]["epoch"] > log[0]["epoch"] > 0
    assert len([f for f in os.listdir(workdir / "checkpoints") if f.endswith(".index")]) == 1
    rows = campaign.summary(str(tmp_path), ["w"])
    assert rows[0]["step"] == 4 and rows[0]["best_nll"] == min(r["nll_nats"] for r in log)
    assert "| w | " in campaign.format_summary(rows)
    png = tmp_path / "curves.png"
    assert campaign.plot_curves(str(tmp_path), ["w", "absent"], str(png)) == 1
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_eval_split_is_refused_before_training(tmp_path, npz_dataset):
    workdir = tmp_path / "w"
    with pytest.raises(ValueError, match="has no split 'validation'"):
        trainer_lib.run(_config(npz_dataset, workdir, eval_every=2, eval_split="validation"),
                        str(workdir))
    assert not (workdir / "checkpoints").exists()


def test_campaign_cli_report_and_unknown_run():
    cmd = [sys.executable, "-m", "pixelrnn_tf.campaign"]
    report = subprocess.run(cmd + ["--report"], cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    for name in campaign.run_names():
        assert f"| {name} |" in report.stdout
    bad = subprocess.run(cmd + ["--runs=mnist_nope"], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "Unknown campaign run(s) mnist_nope" in bad.stderr


def test_every_committed_campaign_workdir_belongs_to_its_config():
    # A committed workdir must resume with its config (the campaign never starts over).
    from pixelrnn_tf.training import workdir as workdir_lib

    for name in campaign.run_names():
        workdir = os.path.join(campaign.CAMPAIGN_DIR, name)
        if not os.path.exists(os.path.join(workdir, "config.json")):
            continue
        saved = workdir_lib.load_config(workdir)
        fresh = config_lib.resolve(name, data_dir=saved.data_dir, workdir=saved.workdir)
        for field in config_lib.IDENTITY_FIELDS:
            assert getattr(saved, field) == getattr(fresh, field), (name, field)
