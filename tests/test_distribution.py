"""MirroredStrategy over two logical CPUs == one device; two real workers stay in sync."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def test_mirrored_step_equals_single_device_step(tmp_path):
    out = tmp_path / "mirrored.json"
    subprocess.run([sys.executable, "-m", "tests.distributed_check", "mirrored", str(out)],
                   cwd=ROOT, env=_env(), check=True, timeout=300)
    res = json.loads(out.read_text())
    assert res["one_device"]["replicas"] == 1 and res["mirrored"]["replicas"] == 2
    np.testing.assert_allclose(res["mirrored"]["losses"], res["one_device"]["losses"],
                               rtol=1e-5)
    for a, b in zip(res["mirrored"]["weights"], res["one_device"]["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-6)
    # The step really changed the weights (the comparison is not between initial weights).
    assert res["mirrored"]["losses"][0] > 0


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_training_workers_finish_with_identical_weights(tmp_path):
    """The real training CLI in two worker processes on 127.0.0.1 (MultiWorkerMirrored)."""
    import tensorflow as tf

    images = np.random.default_rng(0).integers(0, 256, size=(40, 4, 4, 1)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", images=images)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    workdir = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "pixelrnn_tf.train", "--strategy=multi_worker",
             f"--workdir={workdir}", f"--dataset=npz:{tmp_path / 'd.npz'}", "--model=row_lstm",
             "--num_layers=1", "--units=6", "--output_units=12", "--steps=4", "--batch_size=8",
             "--checkpoint_every=2", "--num_samples=1"],
            cwd=ROOT, env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "2 replica(s)" in outputs[0] and "test NLL" in outputs[0]
    chief = tf.train.latest_checkpoint(workdir / "checkpoints")
    other = tf.train.latest_checkpoint(workdir / ".workers" / "worker1" / "checkpoints")
    assert chief.endswith("ckpt-4") and other.endswith("ckpt-4")
    a, b = tf.train.load_checkpoint(chief), tf.train.load_checkpoint(other)
    # Model weights (saved under the optimizer's references) and optimizer slots.
    names = [n for n in a.get_variable_to_shape_map() if "trainable_variables" in n
             or n.startswith("model/")]
    assert len(names) > 5 and set(names) <= set(b.get_variable_to_shape_map())
    for n in names:
        np.testing.assert_array_equal(a.get_tensor(n), b.get_tensor(n), err_msg=n)
    # The chief's final weights differ from the initialization: training did happen.
    first = tf.train.load_checkpoint(str(workdir / "checkpoints" / "ckpt-2"))
    assert any(not np.array_equal(first.get_tensor(n), a.get_tensor(n)) for n in names)
