"""The sample and complete CLIs on a real (briefly trained) workdir and on its export."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    w = tmp_path_factory.mktemp("cli") / "digits"
    out = _run("pixelrnn_tf.train", f"--workdir={w}", "--steps=6", "--num_layers=1",
               "--units=6", "--output_units=12", "--num_samples=1", "--checkpoint_every=6")
    assert out.returncode == 0, out.stderr[-3000:]
    return w


def _png(path):
    return np.asarray(Image.open(path))


def test_sample_cli_from_workdir_and_saved_model(workdir, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    out = _run("pixelrnn_tf.sample", f"--workdir={workdir}", "--num=4", "--seed=3", f"--out={a}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 samples" in out.stdout and str(a) in out.stdout
    exp = _run("export.export_saved_model", f"--workdir={workdir}",
               f"--export_base={tmp_path / 'exp'}")
    assert exp.returncode == 0, exp.stderr[-3000:]
    out = _run("pixelrnn_tf.sample", f"--saved_model={tmp_path / 'exp' / '1'}", "--num=4",
               "--seed=3", f"--out={b}")
    assert out.returncode == 0, out.stderr[-3000:]
    # Same model, same seed, same sampler: the same picture from the checkpoint and the export.
    np.testing.assert_array_equal(_png(a), _png(b))
    bad = _run("pixelrnn_tf.sample", f"--workdir={workdir}", "--num=0")
    assert bad.returncode != 0 and "--num must be >= 1" in bad.stderr


def test_complete_cli_grid_keeps_the_known_rows(workdir, tmp_path):
    out_png = tmp_path / "c.png"
    out = _run("pixelrnn_tf.complete", f"--workdir={workdir}", "--split=test", "--num=2",
               "--known_rows=3", "--completions=2", f"--out={out_png}")
    assert out.returncode == 0, out.stderr[-3000:]
    grid = _png(out_png)
    # 2 rows of (original | occluded | 2 completions) 8x8 tiles, 1-pixel gaps, scaled x4.
    assert grid.shape[:2] == (4 * (2 * 9 + 1), 4 * (4 * 9 + 1))
    tile = lambda r, c: grid[4 * (1 + 9 * r):4 * (9 + 9 * r), 4 * (1 + 9 * c):4 * (9 + 9 * c)]  # noqa: E731
    for r in range(2):
        for c in (2, 3):  # completions keep the 3 known rows of the original
            np.testing.assert_array_equal(tile(r, c)[:12], tile(r, 0)[:12])
    img = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20), np.uint8)).save(img)
    out = _run("pixelrnn_tf.complete", f"--workdir={workdir}", f"--image={img}",
               f"--out={tmp_path / 'd.png'}")
    assert out.returncode == 0, out.stderr[-3000:]
    (tmp_path / "bad.png").write_bytes(b"nope")
    bad = _run("pixelrnn_tf.complete", f"--workdir={workdir}", f"--image={tmp_path / 'bad.png'}")
    assert bad.returncode != 0 and "Cannot read image" in bad.stderr
