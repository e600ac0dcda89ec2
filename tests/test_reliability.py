"""Issue 16: recoverable workdirs after NaN and damage, flags that mean what they say, no silent
wrap-around, one-line user errors, no stale export folders. One test (or group) per case."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from pixelrnn_tf.training import config as config_lib
from pixelrnn_tf.training import distribution, trainer as trainer_lib, workdir as workdir_lib

from tests.test_training import ROOT, _env  # noqa: E402,F401

TINY = dict(num_layers=2, units=8, output_units=16)


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    """64 images of 4x4x1 from the sklearn digits, as in the issue."""
    from sklearn.datasets import load_digits

    digits = load_digits().images[:64, 2:6, 2:6]
    path = tmp_path_factory.mktemp("npz") / "digits4.npz"
    np.savez(path, images=np.round(digits * 255 / 16).astype(np.uint8)[..., None])
    return f"npz:{path}"


def _config(npz, **kw):
    args = dict(model="pixel_cnn", dataset=npz, overrides=dict(TINY), steps=4, batch_size=8,
                checkpoint_every=2, log_every=2, num_samples=1)
    args.update(kw)
    return config_lib.resolve(**args)


def _latest_nll(workdir, npz):
    from pixelrnn_tf import data

    model, config, _ = trainer_lib.restore_model(str(workdir))
    images = data.load_split(config.dataset, "test", None, None)
    return trainer_lib.evaluate(model, images)["nll_nats"]


# 1. NaN stop: a kept checkpoint holds finite weights whose loss is finite.

def test_nan_stop_keeps_no_poisoned_checkpoint_and_a_smaller_rate_recovers(tmp_path, npz):
    workdir = tmp_path / "w"
    with pytest.raises(trainer_lib.TrainingDiverged) as stop:
        trainer_lib.run(_config(npz, steps=20, checkpoint_every=1, learning_rate=1e30),
                        str(workdir))
    if os.path.isdir(workdir / "checkpoints"):  # whatever was kept must be sound
        assert np.isfinite(_latest_nll(workdir, npz))
    assert "nothing was saved" in str(stop.value)
    assert "smaller --learning_rate" in str(stop.value)
    metrics = trainer_lib.run(_config(npz, steps=6, checkpoint_every=3, learning_rate=1e-3),
                              str(workdir))
    assert metrics["step"] == 6 and np.isfinite(metrics["nll_nats"])


def test_nan_stop_after_good_checkpoints_keeps_them_and_resumes(tmp_path, npz):
    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz, steps=4), str(workdir))
    with pytest.raises(trainer_lib.TrainingDiverged) as stop:
        trainer_lib.run(_config(npz, steps=20, checkpoint_every=1, learning_rate=1e30),
                        str(workdir))
    assert np.isfinite(_latest_nll(workdir, npz))
    assert "The newest checkpoint, " in str(stop.value) and "was checked" in str(stop.value)
    metrics = trainer_lib.run(_config(npz, steps=6), str(workdir))
    assert metrics["step"] == 6 and np.isfinite(metrics["nll_nats"])


# 2. A new --learning_rate on resume is applied, logged, checkpointed and reported.

def _scalars(logdir, tag):
    import tensorflow as tf

    values = {}
    for name in os.listdir(logdir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, name)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_a_new_learning_rate_on_resume_is_the_one_used(tmp_path, npz, capsys):
    import tensorflow as tf

    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz, steps=4, learning_rate=1e-3), str(workdir))
    capsys.readouterr()
    trainer_lib.run(_config(npz, steps=6, learning_rate=1e-4), str(workdir))
    assert "learning rate changed from 0.001 to 0.0001 on resume" in capsys.readouterr().out
    assert json.loads((workdir / "config.json").read_text())["learning_rate"] == 1e-4
    reader = tf.train.load_checkpoint(str(workdir / "checkpoints" / "ckpt-6"))
    [key] = [k for k in reader.get_variable_to_shape_map() if "learning_rate" in k]
    assert reader.get_tensor(key) == np.float32(1e-4)
    lr = _scalars(workdir / "train", "learning_rate")
    assert lr[2] == pytest.approx(1e-3) and lr[6] == pytest.approx(1e-4)


# 3. A damaged latest checkpoint is named; --resume_from_intact resumes from an older one.

def _damage(path, part):
    if part == "data":
        with open(path, "r+b") as f:
            f.truncate(50)
    else:
        data = bytearray(open(path, "rb").read())
        data[-8:] = b"\0" * 8  # the sstable footer's magic number
        open(path, "wb").write(data)


@pytest.mark.parametrize("part", ["data", "index"])
def test_a_damaged_checkpoint_is_named_and_the_intact_one_resumes(tmp_path, npz, part,
                                                                  capsys):
    workdir = tmp_path / "w"
    trainer_lib.run(_config(npz, steps=4), str(workdir))
    ckpts = workdir / "checkpoints"
    damaged = ckpts / ("ckpt-4.data-00000-of-00001" if part == "data" else "ckpt-4.index")
    _damage(damaged, part)
    before = {f: (ckpts / f).read_bytes() for f in os.listdir(ckpts)}
    with pytest.raises(trainer_lib.CheckpointDamaged,
                       match=rf"{damaged.name}.*--resume_from_intact.*ckpt-2 \(step 2\)"):
        trainer_lib.run(_config(npz, steps=6), str(workdir))
    with pytest.raises(trainer_lib.CheckpointDamaged, match=damaged.name):
        trainer_lib.restore_model(str(workdir))  # evaluate / sample / complete
    assert before == {f: (ckpts / f).read_bytes() for f in os.listdir(ckpts)}
    capsys.readouterr()
    metrics = trainer_lib.run(_config(npz, steps=6), str(workdir), resume_from_intact=True)
    out = capsys.readouterr().out
    assert "WARNING: set aside damaged checkpoint" in out and "resumed from" in out
    assert "ckpt-2 at step 2" in out and metrics["step"] == 6
    assert damaged.name in os.listdir(workdir / "checkpoints_damaged")
    assert trainer_lib.restore_model(str(workdir))[2] == 6


# 4. A refused run writes nothing; a workdir without a checkpoint is not bound yet.

def test_a_refused_run_does_not_block_the_corrected_one(tmp_path, npz, monkeypatch):
    workdir = tmp_path / "w"
    real = distribution.make_strategy
    monkeypatch.setattr(distribution, "make_strategy",
                        lambda name: types.SimpleNamespace(num_replicas_in_sync=2))
    with pytest.raises(ValueError, match="not divisible by the 2 replicas"):
        trainer_lib.run(_config(npz, batch_size=3), str(workdir))
    assert not (workdir / "config.json").exists()
    with pytest.raises(ValueError, match="no split 'nope'"):
        trainer_lib.run(_config(npz, eval_split="nope"), str(workdir))
    assert not (workdir / "config.json").exists()
    monkeypatch.setattr(distribution, "make_strategy", real)
    # A config.json without checkpoints (a run killed before its first one) binds nothing.
    workdir_lib.claim(str(workdir), _config(npz, batch_size=3))
    assert trainer_lib.run(_config(npz, batch_size=4), str(workdir))["step"] == 4
    assert json.loads((workdir / "config.json").read_text())["batch_size"] == 4
    with pytest.raises(workdir_lib.WorkdirMismatch, match="batch_size: saved 4, now 8"):
        trainer_lib.run(_config(npz, batch_size=8), str(workdir))


# 5. Every numeric flag is range-checked before any work.

@pytest.mark.parametrize("field,value,message", [
    ("steps", -5, "--steps must be an integer >= 1"),
    ("steps", 0, "--steps must be an integer >= 1"),
    ("log_every", 0, "--log_every must be an integer >= 1"),
    ("checkpoint_every", -1, "--checkpoint_every must be an integer >= 0"),
    ("eval_every", -1, "--eval_every must be an integer >= 0"),
    ("num_samples", 0, "--num_samples must be an integer >= 1"),
    ("max_eval_examples", 0, "--max_eval_examples must be an integer >= 1"),
    ("epochs", 0.0, "--epochs must be > 0"),
    ("epochs", -1.0, "--epochs must be > 0"),
    ("batch_size", 0, "--batch_size must be an integer >= 1"),
    ("warmup_steps", -1, "--warmup_steps must be an integer >= 0"),
    ("keep_checkpoints", 0, "--keep_checkpoints must be an integer >= 1"),
    ("seed", -1, "--seed must be an integer >= 0"),
    ("learning_rate", 0.0, "--learning_rate must be a finite number > 0"),
    ("learning_rate", float("nan"), "--learning_rate must be a finite number > 0"),
    ("ema_decay", 1.0, "--ema_decay must be 0"),
    ("image_size", 0, "--image_size must be an integer >= 1"),
])
def test_numeric_flags_are_range_checked(npz, field, value, message):
    with pytest.raises(ValueError, match=message):
        _config(npz, **{field: value})


@pytest.mark.parametrize("field", ["num_layers", "units", "output_units"])
def test_model_size_flags_are_range_checked(npz, field):
    with pytest.raises(ValueError, match=f"--{field} must be an integer >= 1, got 0"):
        _config(npz, overrides=dict(TINY, **{field: 0}))


@pytest.mark.parametrize("value", [1.0, -0.1, float("nan")])
def test_dropout_flag_is_range_checked(npz, value):
    with pytest.raises(ValueError, match=r"--dropout_rate must be in \[0, 1\)"):
        _config(npz, model="gated_pixel_cnn", overrides=dict(TINY, dropout_rate=value))


def test_dropout_flag_only_for_models_with_dropout(npz):
    assert _config(npz, model="gated_pixel_cnn",
                   overrides=dict(TINY, dropout_rate=0.25)).model_config["dropout_rate"] == 0.25
    with pytest.raises(ValueError, match="Model 'pixel_cnn' takes no --dropout_rate"):
        _config(npz, overrides=dict(TINY, dropout_rate=0.25))


def test_max_seconds_is_checked_before_anything_is_written(tmp_path, npz):
    with pytest.raises(ValueError, match="--max_seconds must be > 0"):
        trainer_lib.run(_config(npz), str(tmp_path / "w"), max_seconds=0)
    assert not (tmp_path / "w").exists()


# 6. Values a uint8 cast would wrap around are refused by the clients.

@pytest.mark.parametrize("bad", [np.full((1, 4, 4, 1), 256), np.full((1, 4, 4, 1), -1),
                                 np.full((1, 4, 4, 1), 300), np.full((1, 4, 4, 1), 3.7)])
def test_serving_client_refuses_values_a_cast_would_change(bad):
    from export import serving_client

    with pytest.raises(ValueError, match="images"):
        serving_client.request_body("log_prob", {"images": bad})
    ok = serving_client.request_body("log_prob", {"images": np.full((1, 4, 4, 1), 255, np.int64)})
    assert np.array(ok["inputs"]["images"]).max() == 255


def test_notebook_checks_images_before_the_cast():
    """The notebook's as_images (run here on its own; tests/test_notebook runs the whole
    notebook) refuses what tf.constant(..., tf.uint8) would wrap, and every signature call
    with images goes through it."""
    import tensorflow as tf

    nb = json.load(open(os.path.join(ROOT, "notebooks", "pretrained_zoo.ipynb")))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    code = next(s for s in sources if "def as_images" in s)
    namespace = dict(np=np, tf=tf, LEVELS=256)
    exec(code[code.index("def as_images"):], namespace)
    as_images = namespace["as_images"]
    for bad in (np.full((1, 2, 2, 1), 256), np.full((1, 2, 2, 1), -1), np.full((1, 2, 2, 1), 3.7)):
        with pytest.raises(ValueError, match="images"):
            as_images(bad)
    assert as_images(np.full((1, 2, 2, 1), 255)).dtype == tf.uint8
    assert not any("tf.uint8)" in s and "signatures" in s for s in sources)


# 7. User errors are one line and a non-zero exit; unexpected errors keep their traceback.

def _cli(module, *args):
    out = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    return out, errors


@pytest.mark.parametrize("module,args,message", [
    ("pixelrnn_tf.train", ["--steps=-5"], "error: --steps must be an integer >= 1, got -5."),
    ("pixelrnn_tf.train", ["--log_every=0"], "error: --log_every must be an integer >= 1"),
    ("pixelrnn_tf.train", ["--workdir={file}"], "is a file, not a folder"),
    ("pixelrnn_tf.evaluate", ["--workdir={missing}"], "--workdir {missing} does not exist."),
    ("pixelrnn_tf.sample", ["--workdir={missing}"], "--workdir {missing} does not exist."),
    ("pixelrnn_tf.complete", ["--workdir={missing}", "--split=test"], "does not exist."),
])
def test_user_errors_are_one_line(tmp_path, module, args, message):
    paths = dict(file=tmp_path / "a_file", missing=tmp_path / "missing")
    paths["file"].write_text("")
    args = [a.format(**paths) for a in args]
    if module == "pixelrnn_tf.train" and not any(a.startswith("--workdir") for a in args):
        args.append(f"--workdir={tmp_path / 'run'}")
    out, errors = _cli(module, *args)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert len(errors) == 1 and message.format(**paths) in errors[0], out.stderr[-2000:]
    assert out.stderr.rstrip().splitlines()[-1] == errors[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_only_the_projects_own_errors_count_as_user_errors(npz):
    from pixelrnn_tf import cli

    with pytest.raises(ValueError) as ours:
        _config(npz, steps=-5)
    assert cli.is_user_error(ours.value)
    with pytest.raises(ValueError) as numpy_error:
        np.zeros(2).reshape(3)
    assert not cli.is_user_error(numpy_error.value)
    assert not cli.is_user_error(KeyError("bug"))
    with pytest.raises(KeyError):  # an unexpected error passes through with its traceback
        cli.wrap(lambda argv: {}["missing"])([])


# 8. Exports remove the temporary folders of killed exports, never of live ones.

def test_export_removes_stale_temporaries_only(tmp_path):
    from export import export_saved_model
    from tests.conftest import build_tiny

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = tmp_path / "exports"
    stale = base / f".tmp-1-{dead.pid}"
    live = base / f".tmp-2-{os.getpid()}"
    for folder in (stale, live):
        (folder / "variables").mkdir(parents=True)
    path = export_saved_model.export(build_tiny("pixel_cnn", (4, 4, 1), 4), str(base))
    assert not stale.exists() and live.exists()
    assert os.path.basename(path) == "1"
    assert sorted(os.listdir(base)) == sorted([live.name, "1"])
