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


def test_two_workers_finish_with_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests.distributed_check", "worker",
             str(tmp_path / f"w{index}.npz")], cwd=ROOT, env=_env(TF_CONFIG=tf_config)))
    try:
        codes = [p.wait(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert codes == [0, 0]
    a, b = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
    assert int(a["replicas"]) == 2
    np.testing.assert_array_equal(a["losses"], b["losses"])
    weights = [k for k in a.files if k.startswith("w")]
    assert len(weights) > 5
    for k in weights:
        np.testing.assert_array_equal(a[k], b[k])
