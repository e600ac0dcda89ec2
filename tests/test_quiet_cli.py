"""The CLIs are quiet by default: no TensorFlow C++ log lines (absl pre-init banner, oneDNN,
CUDA probing, CPU features, tf.data) and no absl INFO between the progress bar's updates;
`--verbose` brings them back."""

import os
import re
import subprocess
import sys

import pytest

from pixelrnn_tf import _quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOISE = [
    r"before absl::InitializeLog\(\)",
    r"port\.cc:\d+\] oneDNN custom operations",
    r"cudart_stub\.cc",
    r"cpu_feature_guard\.cc",
    r"To enable the following instructions",
    r"cuda_platform\.cc",
    r"cuInit",
    r"generator_dataset_op\.cc",
    r"Memory patch applied",
    r"dataset\.cc:\d+\] Input of GeneratorDatasetOp",
    r"functional_saver\.py",
    r"Sharding callback duration",
    r"^[IWE]\d{4} \d\d:\d\d:\d+\.\d+",
]


def _train(tmp_path, *extra):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own default, as a user gets it
    env.pop("TF_CONFIG", None)
    workdir = tmp_path / ("w" + "".join(a.strip("-") for a in extra))
    r = subprocess.run(
        [sys.executable, "-m", "pixelrnn_tf.train", f"--workdir={workdir}", "--steps=12",
         "--num_layers=1", "--units=8", "--output_units=16", "--log_every=4", *extra],
        cwd=ROOT, env=env, capture_output=True, timeout=600)
    # Bytes, decoded here: text=True would turn the progress bar's \r into \n.
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _noise(text):
    return [p for p in NOISE if re.search(p, text, re.M)]


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("quiet"))


def test_main_job_is_quiet_by_default(quiet_run):
    both = quiet_run.stdout + quiet_run.stderr
    assert _noise(both) == [], both[-3000:]
    assert "test NLL" in quiet_run.stdout
    # The progress bar: one line updated with \r, with step, loss, images/s and ETA.
    bar = quiet_run.stderr.strip("\n")
    assert "\n" not in bar, quiet_run.stderr
    updates = [u for u in bar.split("\r") if u.strip()]
    assert len(updates) == 3, updates
    for u in updates:
        assert re.search(r"step \d+/12 .*loss [\d.]+ nats.* [\d.]+ img/s +ETA \d+", u), u


def test_verbose_brings_tensorflow_lines_back(tmp_path, quiet_run):
    r = _train(tmp_path, "--verbose")
    found = _noise(r.stdout + r.stderr)
    assert r"cpu_feature_guard\.cc" in found, r.stderr[-3000:]
    assert r"before absl::InitializeLog\(\)" in found
    assert r"Sharding callback duration" in found
    # Same training either way: quiet changes what is printed, not the numbers.
    nll = re.compile(r"test NLL .*")
    assert nll.search(r.stdout).group(0) == nll.search(quiet_run.stdout).group(0)


def test_filter_keeps_what_is_not_a_tensorflow_log_line():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR\n"
            "I0000 00:00:1796125977.635377    2643 port.cc:153] oneDNN custom operations\n"
            "I0000 00:00:1796125977.723654    2643 cpu_feature_guard.cc:227] This binary\n"
            "To enable the following instructions: AVX2, in other operations, rebuild\n"
            "E0000 00:00:1796125992.466727    2755 cuda_platform.cc:52] failed call to cuInit\n"
            "/x/y.py:3: UserWarning: ours\n")
    assert _quiet.filter_lines(text, 3) == "/x/y.py:3: UserWarning: ours\n"
    kept = _quiet.filter_lines(text, 2)
    assert "cuInit" in kept and "port.cc" not in kept and "AVX2" not in kept
    assert _quiet.filter_lines(text, 0) == text


def test_only_the_clis_are_quietened_and_verbose_is_parsed():
    assert _quiet.cli_args(["python", "-m", "pixelrnn_tf.train", "--steps=3"]) == ["--steps=3"]
    assert _quiet.cli_args(["python", "-m", "export.export_saved_model"]) == []
    assert _quiet.cli_args(["python", "-m", "pytest", "tests"]) is None
    assert _quiet.cli_args(["python", "-c", "import pixelrnn_tf"]) is None
    assert _quiet.verbose_requested(["--verbose"])
    assert _quiet.verbose_requested(["--verbose=true"])
    assert not _quiet.verbose_requested(["--verbose", "--noverbose"])
    assert not _quiet.verbose_requested(["--steps=3"])
