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
    # Every eval_every steps, and at the last step: the curve ends at the final weights.
    assert [r["step"] for r in log] == [2, 4, 6]
    assert all(r["split"] == "train" and r["num_images"] > 0 for r in log)
    assert log[0]["train_nll_nats"] > 0 and log[2]["epoch"] > log[1]["epoch"] > 0
    assert len([f for f in os.listdir(workdir / "checkpoints") if f.endswith(".index")]) == 1
    rows = campaign.summary(str(tmp_path), ["w"])
    assert rows[0]["step"] == 6 and rows[0]["best_nll"] == min(r["nll_nats"] for r in log)
    assert rows[0]["per_epoch"] == pytest.approx(
        (log[2]["nll_nats"] - log[0]["nll_nats"]) / (log[2]["epoch"] - log[0]["epoch"]))
    assert "| w | " in campaign.format_summary(rows)
    png = tmp_path / "curves.png"
    assert campaign.plot_curves(str(tmp_path), ["w", "absent"], str(png)) == 1
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cpu_time_is_kept_from_step_0_or_marked_partial(tmp_path, npz_dataset):
    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz_dataset, workdir, eval_every=3, eval_split="train"),
                    str(workdir), max_seconds=1e-9)
    clock = json.loads((workdir / "train_time.json").read_text())
    assert clock["cpu_from_step"] == 0 and clock["cpu_seconds"] > 0
    # A workdir from before CPU time was kept: counted from the step it resumes at.
    (workdir / "train_time.json").write_text(json.dumps({"seconds": 50.0}))
    trainer_lib.run(_config(npz_dataset, workdir, eval_every=3, eval_split="train"),
                    str(workdir))
    clock = json.loads((workdir / "train_time.json").read_text())
    assert clock["cpu_from_step"] == 1 and clock["seconds"] > 50.0
    assert clock["cpu_seconds"] > 0
    log = campaign.read_eval_log(str(workdir))
    assert [r["step"] for r in log] == [3, 6] and all(r["train_cpu_seconds"] > 0 for r in log)
    row = campaign.summary(str(tmp_path), ["w"])[0]
    assert row["cpu_from_step"] == 1
    assert row["cpu_total_hours"] == pytest.approx(clock["cpu_seconds"] / 5 * 6 / 3600)
    assert " since step 1 (~" in campaign.format_summary([row])
    row.update(cpu_from_step=0)
    assert f"| {row['cpu_hours']:.2f} |" in campaign.format_summary([row])


def test_an_evaluation_after_a_lost_stretch_replaces_its_records(tmp_path):
    from pixelrnn_tf.training.evaluation import append_eval_log

    metrics = dict(nll_nats=80.0, bits_per_dim=0.1, num_images=10)
    for step in (10, 20, 30):
        append_eval_log(str(tmp_path), step, step / 10, "validation",
                        dict(metrics, nll_nats=90.0 - step / 10), [1.0], step)
    # Resumed from the checkpoint at step 15: the records of 20 and 30 belong to lost steps.
    append_eval_log(str(tmp_path), 20, 2.0, "validation", metrics, [2.0], 25.0,
                    cpu_seconds=4.0)
    log = campaign.read_eval_log(str(tmp_path))
    assert [(r["step"], r["nll_nats"]) for r in log] == [(10, 89.0), (20, 80.0)]
    assert "train_cpu_seconds" not in log[0] and log[1]["train_cpu_seconds"] == 4.0
    assert not os.path.exists(tmp_path / "eval_log.jsonl.tmp")


def test_trend_is_the_change_per_epoch_over_the_last_evaluations():
    log = [dict(epoch=float(e), nll_nats=n) for e, n in enumerate([90.0, 86.0, 85.0, 84.5, 84.2],
                                                                  start=1)]
    assert campaign.trend(log) == pytest.approx((84.2 - 86.0) / 3)
    assert campaign.trend(log, intervals=1) == pytest.approx(-0.3)
    assert campaign.trend(log[:2]) == pytest.approx(-4.0)  # fewer than asked: all there are
    assert campaign.trend(log[:1]) is None and campaign.trend([]) is None
    row = dict(run="r", epoch=5.0, hours=1.0, last_nll=84.2, best_nll=84.2, best_epoch=5.0,
               per_epoch=campaign.trend(log))
    assert campaign.format_summary([row]).splitlines()[-1].endswith("| -0.600 | - |")


def test_power_law_fit_recovers_a_known_curve_and_needs_four_epochs():
    truth = dict(a=80.0, b=12.0, c=0.6)
    log = [dict(epoch=float(e), nll_nats=campaign.fitted(truth, e)) for e in range(1, 16)]
    fit = campaign.power_law_fit(log)
    assert fit["a"] == pytest.approx(80.0, abs=0.05) and fit["c"] == pytest.approx(0.6, abs=0.01)
    assert campaign.fitted(fit, 30) == pytest.approx(campaign.fitted(truth, 30), abs=0.02)
    # Only epochs >= 4 count, each once (a resumed run may log an epoch twice).
    assert campaign.power_law_fit(log[:6] + log[5:6]) is None
    assert campaign.power_law_fit(log[:7] + log[6:7])["a"] == pytest.approx(80.0, abs=0.5)
    row = dict(run="r", epoch=15.0, hours=1.0, last_nll=log[-1]["nll_nats"],
               best_nll=log[-1]["nll_nats"], best_epoch=15.0, per_epoch=None, fit=fit)
    assert campaign.format_summary([row]).splitlines()[-1].endswith(
        f"| {campaign.fitted(fit, 30):.2f}, {fit['a']:.2f} |")
    # A curve still falling about linearly has no level yet: the fit's exponent sits at the
    # bottom of its range, and its level is not shown.
    straight = [dict(epoch=float(e), nll_nats=100.0 - 0.5 * e) for e in range(1, 16)]
    row.update(fit=campaign.power_law_fit(straight))
    assert campaign.format_summary([row]).splitlines()[-1].endswith(", not levelling yet |")
    # Nor does a curve whose fitted level lies further below its last epoch than it fell over
    # the fitted epochs (a small exponent): the same truth with c = 0.15 over epochs 4..15
    # falls 1.75 nats and would have 8.0 left; with c = 0.6 it fell 2.9 and has 2.4 left.
    slow = [dict(epoch=float(e), nll_nats=campaign.fitted(dict(truth, c=0.15), e))
            for e in range(1, 16)]
    fit = campaign.power_law_fit(slow)
    assert fit["c"] == pytest.approx(0.15, abs=0.01) and not fit["levels"]
    assert campaign.power_law_fit(log)["levels"]


def test_eval_log_on_the_test_split_leaves_the_last_step_to_the_final_evaluation(
        tmp_path, npz_dataset):
    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz_dataset, workdir, eval_every=2), str(workdir))
    assert [r["step"] for r in campaign.read_eval_log(str(workdir))] == [2, 4]
    assert json.loads((workdir / "eval_test.json").read_text())["step"] == 6


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

    # A stopped run is a campaign run whose work a decay phase continues from its workdir,
    # one that finished its schedule (the trainer writes eval_test.json only then), or one
    # replaced by another campaign run that is not stopped.
    assert set(campaign.STOPPED) <= set(campaign.run_names())
    starts = {config_lib.resolve(n).init_from for n in campaign.run_names()}
    for name in campaign.STOPPED:
        workdir = os.path.join(campaign.CAMPAIGN_DIR, name)
        successor = campaign.REPLACED.get(name)
        if successor:
            assert successor in campaign.run_names() and successor not in campaign.STOPPED
            continue
        if name in campaign.PLATEAUED:
            # Its committed curve must show it: no better evaluation in the last PATIENCE.
            assert campaign.stopped_improving(campaign.read_eval_log(workdir)), name
            continue
        assert workdir in starts or os.path.exists(os.path.join(workdir, "eval_test.json")), name
    for name in campaign.run_names():
        workdir = os.path.join(campaign.CAMPAIGN_DIR, name)
        if not os.path.exists(os.path.join(workdir, "config.json")):
            continue
        saved = workdir_lib.load_config(workdir)
        fresh = config_lib.resolve(name, data_dir=saved.data_dir, workdir=saved.workdir)
        workdir_lib.check(workdir, fresh)  # the trainer's own refusal, which names the field



def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path, npz_dataset):
    """A decay phase appended to a run: step 0 with the source's weights and weight average,
    a fresh optimizer and its own schedule; once the new run has a checkpoint it resumes from
    its own; a source of another model, or no workdir, is refused before the new workdir
    gets a file."""
    source = tmp_path / "source"
    common = dict(ema_decay=0.9, optimizer="adam")
    trainer_lib.run(_config(npz_dataset, source, **common), str(source))
    original = trainer_lib.Trainer(_config(npz_dataset, source, **common), str(source))
    assert original.restore()
    kw = dict(common, lr_schedule="cosine", steps=3, init_from=str(source),
              max_eval_examples=2)
    probe = tmp_path / "probe"
    started = trainer_lib.Trainer(_config(npz_dataset, probe, **kw), str(probe))
    assert started.initialize_from(str(source))[1] == 6
    assert int(started.step.numpy()) == 0 and int(started.optimizer.iterations.numpy()) == 0
    pairs = list(zip(started.model.variables, original.model.variables)) + list(zip(
        started.weight_average.shadows, original.weight_average.shadows))
    assert len(pairs) > 2
    for a, b in pairs:
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    decay = tmp_path / "decay"
    first = trainer_lib.run(_config(npz_dataset, decay, **kw), str(decay), max_seconds=1e-9)
    assert first == {"step": 1, "stopped": "max_seconds"}
    assert trainer_lib.run(_config(npz_dataset, decay, **kw), str(decay))["step"] == 3
    start = json.loads((decay / trainer_lib.INIT_FILE).read_text())
    assert start["step"] == 6 and start["checkpoint"].endswith("ckpt-6")
    assert campaign.start_epoch(str(decay)) == start["epoch"] > 0
    assert campaign.start_epoch(str(source)) == 0
    # The new run's first loss is the source's weights' loss on its own first batch; a run
    # from scratch (same seed) starts elsewhere.
    scratch = tmp_path / "scratch"
    trainer_lib.run(_config(npz_dataset, scratch, **dict(kw, init_from=None)), str(scratch))
    assert _losses(decay)[1] != _losses(scratch)[1]
    # Refusals, with nothing written into the new workdir.
    other = tmp_path / "other"
    with pytest.raises(ValueError, match=r"--init_from .*source is a run of another "
                                         r"model_config"):
        trainer_lib.run(_config(npz_dataset, other, overrides=dict(num_layers=2, units=6,
                                                                   output_units=12), **kw),
                        str(other))
    with pytest.raises(ValueError, match="is not a training workdir"):
        trainer_lib.run(_config(npz_dataset, other, **dict(kw, init_from=str(tmp_path))),
                        str(other))
    assert not other.exists() or not os.listdir(other)


def test_init_from_may_switch_dropout_on(tmp_path, npz_dataset):
    """dropout_rate changes training, not the weights: an overfitting run can go on from its
    weights with dropout (a new run, --init_from), its weights taken exactly. Any other
    model argument still refuses the source."""
    gated = dict(model="gated_pixel_cnn", overrides=dict(num_layers=2, units=6,
                                                         output_units=12))
    source = tmp_path / "source"
    trainer_lib.run(_config(npz_dataset, source, steps=2, **gated), str(source))
    original = trainer_lib.Trainer(_config(npz_dataset, source, steps=2, **gated), str(source))
    assert original.restore()
    kw = dict(steps=2, init_from=str(source), max_eval_examples=2)
    with_dropout = dict(gated, overrides=dict(gated["overrides"], dropout_rate=0.3))
    new = tmp_path / "dropout"
    started = trainer_lib.Trainer(_config(npz_dataset, new, **kw, **with_dropout), str(new))
    assert started.model.dropout_rate == 0.3
    assert started.initialize_from(str(source))[1] == 2
    for a, b in zip(started.model.variables, original.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert trainer_lib.run(_config(npz_dataset, new, **kw, **with_dropout), str(new))["step"] == 2
    other = tmp_path / "other"
    wider = dict(gated, overrides=dict(gated["overrides"], units=8, dropout_rate=0.3))
    with pytest.raises(ValueError, match="is a run of another model_config"):
        trainer_lib.run(_config(npz_dataset, other, **kw, **wider), str(other))
    assert trainer_lib.weight_defining(dict(units=4, dropout_rate=0.5)) == dict(units=4)


# /proc/cpuinfo excerpts of three kinds of machine (flags lines shortened).
_AVX2_ONLY = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
_AVX512_BF16 = ("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw avx512_bf16 amx_tile "
                "amx_bf16\n")
_ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize("cpuinfo, native", [(_AVX2_ONLY, False), (_AVX512_BF16, True),
                                             (_ARM_BF16, True)])
def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path, cpuinfo, native):
    from pixelrnn_tf.training import hardware

    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    flags = hardware.cpu_flags(str(path))
    assert hardware.cpu_has_native_bfloat16(flags) is native
    assert hardware.bfloat16_is_emulated(flags, gpu=False) is (not native)
    # A GPU computes bfloat16 itself; unreadable flags leave the policy as asked.
    assert hardware.bfloat16_is_emulated(flags, gpu=True) is False
    assert hardware.cpu_flags(str(tmp_path / "missing")) is None


def test_campaign_trains_bfloat16_runs_in_float32_where_bfloat16_is_emulated():
    bf16 = [n for n in campaign.run_names()
            if config_lib.resolve(n).mixed_precision == "mixed_bfloat16"]
    f32 = [n for n in campaign.run_names() if config_lib.resolve(n).mixed_precision == "none"]
    assert bf16 and f32  # both kinds exist among the committed runs
    for name in bf16:
        assert campaign.run_policy(name, "auto", bfloat16_emulated=True) == "none"
        assert campaign.run_policy(name, "auto", bfloat16_emulated=False) is None
        assert campaign.run_policy(name, "config", bfloat16_emulated=True) is None
    for name in f32:
        assert campaign.run_policy(name, "auto", bfloat16_emulated=True) is None
        assert campaign.run_policy(name, "none", bfloat16_emulated=False) == "none"


def _fake_popen(monkeypatch):
    """Replace the campaign's subprocess.Popen; returns the (command, env) of each start."""
    started = []

    class FakeProcess:
        pid = 1

        def __init__(self, cmd, env=None, **kwargs):
            started.append((cmd, env))

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(campaign.subprocess, "Popen", FakeProcess)
    return started


def test_train_all_passes_the_policy_to_the_run(tmp_path, monkeypatch):
    started = _fake_popen(monkeypatch)
    codes = campaign.train_all(["run_a", "run_b"], str(tmp_path), "/data", 60,
                               stream=open(os.devnull, "w"), policies={"run_a": "none"})
    assert codes == {"run_a": 0, "run_b": 0}
    assert "--mixed_precision=none" in started[0][0]
    assert not any(a.startswith("--mixed_precision") for a in started[1][0])


def test_train_all_gives_the_runs_the_allocator_setting_unless_the_user_set_it(
        tmp_path, monkeypatch):
    started = _fake_popen(monkeypatch)
    for key in campaign.RUN_ENV:
        monkeypatch.delenv(key, raising=False)
    campaign.train_all(["run_a", "run_b"], str(tmp_path), "/data", 60,
                       stream=open(os.devnull, "w"))
    assert len(started) == 2
    for _, env in started:
        for key, value in campaign.RUN_ENV.items():
            assert env[key] == value
        assert env["TF_NUM_INTRAOP_THREADS"] == "1"
    started.clear()
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "0")
    campaign.train_all(["run_a"], str(tmp_path), "/data", 60, stream=open(os.devnull, "w"))
    assert started[0][1]["TF_CPU_ALLOCATOR_USE_BFC"] == "0"


def test_a_bfloat16_run_on_an_emulating_cpu_is_warned_about(tmp_path, npz_dataset, capsys,
                                                            monkeypatch):
    from pixelrnn_tf.training import hardware

    for emulated in (True, False):
        monkeypatch.setattr(hardware, "bfloat16_is_emulated", lambda: emulated)
        workdir = tmp_path / f"w{emulated}"
        trainer_lib.run(_config(npz_dataset, workdir, steps=1, mixed_precision="mixed_bfloat16",
                                num_samples=1), str(workdir))
        warned = "warning: mixed_bfloat16 on a CPU without bfloat16 instructions"
        assert (warned in capsys.readouterr().out) is emulated
        # The CLIs' restore path (evaluate, sample, complete, export) says it too, unless
        # asked for float32.
        from pixelrnn_tf.training.restore import restore_model

        restore_model(str(workdir))
        assert (warned in capsys.readouterr().err) is emulated
        restore_model(str(workdir), mixed_precision="none")
        assert warned not in capsys.readouterr().err


def test_stopped_improving_needs_patience_evaluations_without_a_better_one():
    def log(*nlls):
        return [dict(epoch=float(i + 1), nll_nats=v) for i, v in enumerate(nlls)]

    assert not campaign.stopped_improving(log(90, 89, 88, 87))
    assert not campaign.stopped_improving(log(90, 88, 88.1, 88.2))  # only 2 since the best
    assert campaign.stopped_improving(log(90, 88, 88.1, 88.2, 88.3))
    assert not campaign.stopped_improving(log(90, 88, 88.1, 88.2, 87.9))
    assert not campaign.stopped_improving(log(88, 89, 90))  # too few evaluations
    rows = campaign.summary(campaign.CAMPAIGN_DIR, ["campaign_mnist_gated_pixel_cnn"])
    assert "stopped improving" in campaign.format_summary(rows)


def test_the_first_progress_line_of_a_resumed_run_counts_every_step_since_the_resume(
        monkeypatch):
    import io

    from pixelrnn_tf.training import progress as progress_lib

    now = [1000.0]
    monkeypatch.setattr(progress_lib.time, "time", lambda: now[0])
    stream = io.StringIO()
    progress = progress_lib.Progress(total=38_500, batch_size=32, stream=stream,
                                     start_step=38_147)
    now[0] += 53 * 0.5  # 53 steps of half a second until the first line, at step 38,200
    assert progress.update(38_200, 80.0, 0.147) == pytest.approx(64.0)
    assert "64.0 img/s" in stream.getvalue() and "ETA 150s" in stream.getvalue()
    now[0] += 100 * 0.25
    assert progress.update(38_300, 80.0, 0.147) == pytest.approx(128.0)
