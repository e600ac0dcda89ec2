"""SavedModel export as TF Serving loads it: the TF1 Session loader by tensor names,
saved_model_cli, a fresh process that never imports this project, and a REST client."""

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import tensorflow as tf

import models
from export import export_saved_model, serving_client
from pixelrnn_tf import sampling
from tests.conftest import build_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE, LEVELS = (4, 4, 3), 8


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    out = {}
    for name in models.names():
        model = build_tiny(name, SHAPE, LEVELS)
        out[name] = (model, export_saved_model.export(model, str(base / name),
                                                      metadata={"training_step": 0}))
    return out


def _images(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, LEVELS, size=(n,) + SHAPE).astype(np.uint8)


@pytest.mark.parametrize("name", models.names())
def test_tf1_session_loader_runs_every_signature_by_tensor_names(exports, name):
    model, path = exports[name]
    images = _images()
    known = np.zeros(images.shape[:3], np.uint8)
    known[:, :2] = 1
    want_log_prob = model.log_prob(images).numpy()
    want_bpd = model.bits_per_dim(images).numpy()
    want_samples = sampling.sample(model, 3, seed=4)
    want_completed = sampling.complete(model, images, known.astype(bool), 2)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.load(sess, ["serve"], path)
        sigs = meta.signature_def
        assert set(sigs) >= {"serving_default", "log_prob", "sample", "complete"}

        def run(sig, feeds):
            s = sigs[sig]
            fetches = {k: v.name for k, v in s.outputs.items()}
            return sess.run(fetches, {s.inputs[k].name: v for k, v in feeds.items()})

        for sig in ("serving_default", "log_prob"):
            out = run(sig, {"images": images})
            np.testing.assert_allclose(out["log_prob"], want_log_prob, rtol=1e-5)
            np.testing.assert_allclose(out["bits_per_dim"], want_bpd, rtol=1e-5)
            assert out["pixel_log_prob"].shape == images.shape
        out = run("sample", {"num_samples": np.int32(3), "seed": np.int64(4)})
        np.testing.assert_array_equal(out["images"], want_samples)
        assert out["images"].dtype == np.uint8
        out = run("complete", {"images": images, "known_mask": known, "seed": np.int64(2)})
        np.testing.assert_array_equal(out["images"], want_completed)
        np.testing.assert_array_equal(out["images"][:, :2], images[:, :2])


def test_bad_input_is_invalid_argument_and_the_model_keeps_working(exports):
    model, path = exports["pixel_cnn"]
    loaded = tf.saved_model.load(path)
    log_prob, sample = loaded.signatures["log_prob"], loaded.signatures["sample"]
    complete = loaded.signatures["complete"]
    cases = [
        (lambda: log_prob(images=tf.constant(np.full((1,) + SHAPE, 8, np.uint8))),
         "num_levels=8"),
        (lambda: log_prob(images=tf.constant(np.zeros((1, 4, 5, 3), np.uint8))),
         "must have shape"),
        (lambda: log_prob(images=tf.constant(np.zeros((4, 4, 3), np.uint8))), "must have"),
        (lambda: sample(num_samples=tf.constant(0), seed=tf.constant(1, tf.int64)),
         "num_samples must be >= 1"),
        (lambda: complete(images=tf.constant(_images()),
                          known_mask=tf.constant(np.zeros((2, 3, 4), np.uint8)),
                          seed=tf.constant(1, tf.int64)), "known_mask must have shape"),
    ]
    for call, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call()
    out = log_prob(images=tf.constant(_images()))
    np.testing.assert_allclose(out["log_prob"].numpy(), model.log_prob(_images()).numpy(),
                               rtol=1e-5)


def _saved_model_cli():
    exe = shutil.which("saved_model_cli") or os.path.join(os.path.dirname(sys.executable),
                                                          "saved_model_cli")
    return [exe] if os.path.exists(exe) else [
        sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def test_saved_model_cli_show_and_run(exports, tmp_path):
    model, path = exports["row_lstm"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    show = subprocess.run(_saved_model_cli() + ["show", "--all", "--dir", path],
                          capture_output=True, text=True, env=env, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("signature_def['sample']", "signature_def['log_prob']", "num_samples",
                 "known_mask", "pixel_log_prob", "DT_UINT8"):
        assert text in show.stdout
    np.save(tmp_path / "zeros.npy", np.zeros((1,) + SHAPE, np.uint8))
    run = subprocess.run(_saved_model_cli() + [
        "run", "--dir", path, "--tag_set", "serve", "--signature_def", "log_prob",
        "--inputs", f"images={tmp_path / 'zeros.npy'}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    want = model.log_prob(np.zeros((1,) + SHAPE, np.uint8)).numpy()[0]
    assert "log_prob" in run.stdout and f"{want:.3f}"[:6] in run.stdout.replace("\n", " ")


FRESH = r"""
import json, sys
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
images = np.load(sys.argv[2])["images"]
lp = loaded.signatures["log_prob"](images=tf.constant(images))["log_prob"].numpy()
s = loaded.signatures["sample"](num_samples=tf.constant(3), seed=tf.constant(9, tf.int64))
meta = json.load(open(sys.argv[1] + "/assets.extra/model.json"))
assert not any(m.split(".")[0] in ("pixelrnn_tf", "models", "export") for m in sys.modules), \
    [m for m in sys.modules if m.split(".")[0] in ("pixelrnn_tf", "models", "export")]
np.savez(sys.argv[3], log_prob=lp, samples=s["images"].numpy(), levels=meta["num_levels"])
"""


def test_fresh_process_loads_it_without_this_project(exports, tmp_path):
    model, path = exports["diagonal_bilstm"]
    np.savez(tmp_path / "in.npz", images=_images())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    out = subprocess.run([sys.executable, "-c", FRESH, path, str(tmp_path / "in.npz"),
                          str(tmp_path / "out.npz")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    res = np.load(tmp_path / "out.npz")
    np.testing.assert_allclose(res["log_prob"], model.log_prob(_images()).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(res["samples"], sampling.sample(model, 3, seed=9))
    assert int(res["levels"]) == LEVELS


def test_versions_are_numbered_atomic_and_never_overwritten(tmp_path, monkeypatch):
    model = build_tiny("pixel_cnn", (2, 2, 1), 2)
    base = tmp_path / "m"
    assert export_saved_model.export(model, str(base)).endswith(os.sep + "1")
    assert export_saved_model.export(model, str(base)).endswith(os.sep + "2")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        export_saved_model.export(model, str(base), version=2)
    meta = json.loads((base / "2" / "assets.extra" / "model.json").read_text())
    assert meta["model"] == "pixel_cnn" and meta["image_shape"] == [2, 2, 1]

    def crash(*args, **kwargs):
        os.makedirs(args[1], exist_ok=True)
        (open(os.path.join(args[1], "saved_model.pb"), "w")).write("half")
        raise KeyboardInterrupt("killed mid-export")

    monkeypatch.setattr(tf.saved_model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model.export(model, str(base))
    assert sorted(os.listdir(base)) == ["1", "2"]


def test_export_cli_from_a_training_workdir(tmp_path):
    from pixelrnn_tf.training import config as config_lib, trainer, workdir as workdir_lib

    cfg = config_lib.TrainConfig(model="pixel_cnn", dataset="digits",
                                 model_config=dict(num_layers=1, units=6, output_units=12,
                                                   image_shape=[8, 8, 1], num_levels=17))
    workdir = str(tmp_path / "w")
    workdir_lib.claim(workdir, cfg)
    t = trainer.Trainer(cfg, workdir)
    t.step.assign(7)
    t.save()
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "export.export_saved_model", f"--workdir={workdir}",
           f"--export_base={tmp_path / 'exp'}"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    meta = json.loads((tmp_path / "exp" / "1" / "assets.extra" / "model.json").read_text())
    assert meta["training_step"] == 7 and meta["num_levels"] == 17
    loaded = tf.saved_model.load(str(tmp_path / "exp" / "1"))
    digits = np.zeros((1, 8, 8, 1), np.uint8)
    np.testing.assert_allclose(loaded.signatures["log_prob"](images=tf.constant(digits))[
        "log_prob"].numpy(), t.model.log_prob(digits).numpy(), rtol=1e-5)
    bad = subprocess.run(cmd[:3] + [f"--workdir={tmp_path}", cmd[4]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "not a training workdir" in bad.stderr


def test_rest_client_against_a_local_predict_server(exports):
    """A stdlib HTTP server on 127.0.0.1 that answers TF Serving's REST predict API by
    running the export, so the client's request and response formats are exercised."""
    model, path = exports["pixel_cnn"]
    loaded = tf.saved_model.load(path)
    dtypes = {"images": tf.uint8, "known_mask": tf.uint8, "num_samples": tf.int32,
              "seed": tf.int64}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            assert self.path == "/v1/models/pcnn:predict"
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fn = loaded.signatures[body["signature_name"]]
            outs = fn(**{k: tf.constant(v, dtypes[k]) for k, v in body["inputs"].items()})
            payload = json.dumps({"outputs": {k: v.numpy().tolist() for k, v in outs.items()}})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_port}"
        out = serving_client.rest_predict(address, "pcnn", "sample",
                                          {"num_samples": np.int32(2), "seed": np.int64(3)})
        np.testing.assert_array_equal(out["images"], sampling.sample(model, 2, seed=3))
        out = serving_client.rest_predict(address, "pcnn", "log_prob", {"images": _images()})
        np.testing.assert_allclose(out["log_prob"], model.log_prob(_images()).numpy(),
                                   rtol=1e-5)
    finally:
        server.shutdown()
