"""SavedModel export as TF Serving loads it: the TF1 Session loader by tensor names,
saved_model_cli, a fresh process that never imports this project, the export CLI on a
training workdir, and the REST client against a local predict server.

The subprocess checks are started in the background by the module fixture, as soon as what
they need exists, and collected by the tests at the end of the file: their TensorFlow start-up
then overlaps the in-process tests.
"""

import json
import os
import re
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
from models.configs.tiny import tiny_config
from pixelrnn_tf import sampling
from tests.conftest import build_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE, LEVELS = (4, 4, 3), 8
NUM, SEED = 3, 4  # the sample every check compares: sampling.sample(model, NUM, SEED)
# Models whose export a subprocess needs come first, so it can start early.
NAMES = sorted(models.names(), key=lambda n: (n not in ("row_lstm", "pixel_cnn"), n))
SHOW = "row_lstm"  # saved_model_cli's model
FRESH = ("pixel_cnn", "row_lstm")  # loaded in a fresh process (all: by the TF1 loader)


def _images(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, LEVELS, size=(n,) + SHAPE).astype(np.uint8)


def _known(images):
    known = np.zeros(images.shape[:3], np.uint8)
    known[:, :2] = 1  # keep the top two rows
    known[0, 3, 1] = 1  # and one pixel below them
    return known


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_CONFIG")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


class Job:
    """A background subprocess whose output goes to files (no pipe to fill up)."""

    def __init__(self, cmd, folder, name, **kwargs):
        self.out, self.err = folder / f"{name}.out", folder / f"{name}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, **kwargs)

    def result(self, timeout=300):
        returncode = self.proc.wait(timeout)
        return returncode, self.out.read_text(), self.err.read_text()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _saved_model_cli():
    exe = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    return [exe] if os.path.exists(exe) else [
        sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


FRESH_SCRIPT = r"""
import json, sys
import numpy as np, tensorflow as tf
images = np.load(sys.argv[1])["images"]
num, seed = int(sys.argv[2]), int(sys.argv[3])
results = {}
for i, path in enumerate(sys.argv[5:]):
    loaded = tf.saved_model.load(path)
    sig = loaded.signatures
    sample = lambda s: sig["sample"](num_samples=tf.constant(num, tf.int32),
                                     seed=tf.constant(s, tf.int64))["images"].numpy()
    results[f"{i}_log_prob"] = sig["log_prob"](images=tf.constant(images))["log_prob"].numpy()
    results[f"{i}_sample"], results[f"{i}_again"] = sample(seed), sample(seed)
    results[f"{i}_other"] = sample(seed + 1)
    results[f"{i}_levels"] = json.load(open(path + "/assets.extra/model.json"))["num_levels"]
ours = [m for m in sys.modules if m.split(".")[0] in ("pixelrnn_tf", "models", "export")]
assert "pixelrnn_tf" not in sys.modules and "models" not in sys.modules, ours
assert not ours, ours
np.savez(sys.argv[4], **results)
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from pixelrnn_tf.training import config as config_lib, trainer, workdir as workdir_lib

    tmp = tmp_path_factory.mktemp("export")
    jobs, exports, refs = {}, {}, {}
    try:
        # A training workdir whose checkpoint differs from a freshly built model.
        cfg = config_lib.TrainConfig(model="pixel_cnn", dataset="digits",
                                     model_config=tiny_config("pixel_cnn", [4, 4, 1], 4))
        workdir = tmp / "workdir"
        workdir_lib.claim(str(workdir), cfg)
        t = trainer.Trainer(cfg, str(workdir))
        rng = np.random.default_rng(7)
        for v in t.model.variables:
            if "float" in str(v.dtype):
                v.assign(v.numpy() + rng.normal(0, 0.3, v.shape).astype(v.dtype))
        t.step.assign(7)
        t.save()
        (workdir / "eval_test.json").write_text(json.dumps(
            {"nll_nats": 12.5, "bits_per_dim": 1.125, "step": 7, "split": "test"}))
        cli = [sys.executable, "-m", "export.export_saved_model"]
        jobs["cli"] = Job(cli + [f"--workdir={workdir}", f"--export_base={tmp / 'cli'}"],
                          tmp, "cli", cwd=ROOT, env=_env(PYTHONPATH=ROOT))
        jobs["cli_bad"] = Job(cli + [f"--workdir={tmp}", f"--export_base={tmp / 'bad'}"],
                              tmp, "cli_bad", cwd=ROOT, env=_env(PYTHONPATH=ROOT))

        images = _images()
        np.savez(tmp / "images.npz", images=images)
        for name in NAMES:
            model = build_tiny(name, SHAPE, LEVELS)
            path = export_saved_model.export(model, str(tmp / "exports" / name),
                                             metadata={"training_step": 0})
            exports[name] = (model, path)
            if name == SHOW:
                jobs["show"] = Job(_saved_model_cli() + ["show", "--all", "--dir", path],
                                   tmp, "show", env=_env())
                zeros = str(np.zeros((1,) + SHAPE, int).tolist())
                jobs["run"] = Job(_saved_model_cli() + [
                    "run", "--dir", path, "--tag_set", "serve", "--signature_def", "log_prob",
                    "--input_exprs", f"images={zeros}"], tmp, "run", env=_env())
        # In TF 2.21 --input_exprs only takes Python literals (ast.literal_eval), not
        # np.zeros(...): the nested list above is the literal form of the same zeros.
            if all(n in exports for n in FRESH) and "fresh" not in jobs:
                jobs["fresh"] = Job([sys.executable, "-c", FRESH_SCRIPT, str(tmp / "images.npz"),
                                     str(NUM), str(SEED), str(tmp / "fresh.npz")]
                                    + [exports[n][1] for n in FRESH], tmp, "fresh", cwd=tmp,
                                    env=_env())
        yield dict(tmp=tmp, jobs=jobs, exports=exports, refs=refs, workdir=workdir,
                   trainer=t, images=images)
    finally:
        for job in jobs.values():
            job.kill()


def _refs(setup, name):
    """What the Keras model itself says (computed once per model)."""
    if name not in setup["refs"]:
        model, images = setup["exports"][name][0], setup["images"]
        setup["refs"][name] = dict(
            log_prob=model.log_prob(images).numpy(),
            bits_per_dim=model.bits_per_dim(images).numpy(),
            pixel_log_prob=model.pixel_log_prob(images).numpy(),
            sample=sampling.sample(model, NUM, seed=SEED),
            complete=sampling.complete(model, images, _known(images).astype(bool), SEED))
    return setup["refs"][name]


@pytest.mark.parametrize("name", NAMES)
def test_tf1_session_loader_runs_every_signature_by_tensor_names(setup, name):
    """As TF Serving's Predict: TF1 loader, tag "serve", feeds and fetches by the tensor
    names in the SignatureDefs."""
    model, path = setup["exports"][name]
    images, want = setup["images"], _refs(setup, name)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.load(sess, ["serve"], path)
        sigs = meta.signature_def
        names = {k for k in sigs if not k.startswith("__")}  # minus __saved_model_init_op
        assert names == {"serving_default", "log_prob", "sample", "complete"}

        def run(sig, feeds):
            s = sigs[sig]
            assert set(s.inputs) == set(feeds)
            fetches = {k: v.name for k, v in s.outputs.items()}
            return sess.run(fetches, {s.inputs[k].name: v for k, v in feeds.items()})

        for sig in ("serving_default", "log_prob"):
            out = run(sig, {"images": images})
            assert set(out) == {"log_prob", "bits_per_dim", "pixel_log_prob"}
            for key in out:
                assert out[key].dtype == np.float32
                np.testing.assert_allclose(out[key], want[key], rtol=1e-5, atol=1e-5)
        out = run("sample", {"num_samples": np.int32(NUM), "seed": np.int64(SEED)})
        assert out["images"].dtype == np.uint8 and out["images"].shape == (NUM,) + SHAPE
        np.testing.assert_array_equal(out["images"], want["sample"])
        feeds = {"images": images, "known_mask": _known(images), "seed": np.int64(SEED)}
        out = run("complete", feeds)
        np.testing.assert_array_equal(out["images"], want["complete"])
        kept = _known(images).astype(bool)
        np.testing.assert_array_equal(out["images"][kept], images[kept])
        # A bad request fails with InvalidArgument; the session keeps serving.
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_levels=8"):
            run("log_prob", {"images": np.full((1,) + SHAPE, LEVELS, np.uint8)})
        np.testing.assert_allclose(run("log_prob", {"images": images})["log_prob"],
                                   want["log_prob"], rtol=1e-5)


def test_variables_are_saved_once_with_the_metadata(setup):
    for name in NAMES:
        model, path = setup["exports"][name]
        saved = [k for k, _ in tf.train.list_variables(os.path.join(path, "variables",
                                                                    "variables"))
                 if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
        assert len(saved) == len(model.variables) > 0, (name, saved)
        meta = json.loads(open(os.path.join(path, "assets.extra", "model.json")).read())
        assert meta["model"] == name and meta["num_levels"] == LEVELS
        assert meta["image_shape"] == list(SHAPE) and meta["training_step"] == 0
        assert meta["version"] == 1 and meta["config"]["num_levels"] == LEVELS
        assert set(meta["signatures"]) == {"serving_default", "log_prob", "sample", "complete"}


def test_bad_input_is_invalid_argument_and_the_model_keeps_working(setup):
    model, path = setup["exports"]["pixel_cnn"]
    loaded = tf.saved_model.load(path)
    log_prob, sample = loaded.signatures["log_prob"], loaded.signatures["sample"]
    complete = loaded.signatures["complete"]
    images, seed = tf.constant(_images()), tf.constant(1, tf.int64)
    cases = [
        (lambda: log_prob(images=tf.constant(np.full((1,) + SHAPE, 8, np.uint8))),
         "values must be < num_levels=8"),
        (lambda: log_prob(images=tf.constant(np.zeros((1, 4, 5, 3), np.uint8))),
         r"images must have rank 4 and shape \(batch, 4, 4, 3\); got shape\] \[1 4 5 3\]"),
        (lambda: log_prob(images=tf.constant(np.zeros((4, 4, 3), np.uint8))),
         r"images must have rank 4 .*got shape\] \[4 4 3\]"),
        (lambda: sample(num_samples=tf.constant(0), seed=seed),
         r"num_samples must be >= 1, got\] \[0\]"),
        (lambda: complete(images=images, known_mask=tf.constant(np.zeros((2, 3, 4), np.uint8)),
                          seed=seed), r"known_mask must have rank 3 and shape .*\[2 3 4\]"),
        (lambda: complete(images=images, known_mask=tf.constant(np.zeros((2, 4), np.uint8)),
                          seed=seed), r"known_mask must have rank 3 .*\[2 4\]"),
        (lambda: complete(images=tf.constant(np.full((2,) + SHAPE, 9, np.uint8)),
                          known_mask=tf.constant(np.ones((2, 4, 4), np.uint8)), seed=seed),
         "num_levels"),
    ]
    for call, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call()
    np.testing.assert_allclose(log_prob(images=images)["log_prob"].numpy(),
                               _refs(setup, "pixel_cnn")["log_prob"], rtol=1e-5)
    np.testing.assert_array_equal(
        sample(num_samples=tf.constant(NUM), seed=tf.constant(SEED, tf.int64))["images"],
        _refs(setup, "pixel_cnn")["sample"])


def test_versions_are_numbered_atomic_and_never_overwritten(setup, monkeypatch):
    model, first = setup["exports"]["pixel_cnn"]
    base = os.path.dirname(first)
    # A hidden leftover of a killed export neither counts as a version nor blocks one.
    os.makedirs(os.path.join(base, ".tmp-5-999999"))
    second = export_saved_model.export(model, base)
    assert os.path.basename(first) == "1" and os.path.basename(second) == "2"
    assert export_saved_model.existing_versions(base) == [1, 2]
    stamp = os.path.getmtime(os.path.join(second, "saved_model.pb"))
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        export_saved_model.export(model, base, version=2)
    assert os.path.getmtime(os.path.join(second, "saved_model.pb")) == stamp
    assert json.loads(open(os.path.join(second, "assets.extra", "model.json")).read())[
        "version"] == 2
    assert export_saved_model.export(model, base, version=7).endswith(os.sep + "7")
    assert export_saved_model.next_version(base) == 8

    def crash(obj, export_dir, **kwargs):  # killed half-way through writing
        os.makedirs(export_dir, exist_ok=True)
        open(os.path.join(export_dir, "saved_model.pb"), "w").write("half")
        raise KeyboardInterrupt("killed mid-export")

    monkeypatch.setattr(tf.saved_model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model.export(model, base)
    assert sorted(d for d in os.listdir(base) if not d.startswith(".")) == ["1", "2", "7"]
    assert export_saved_model.next_version(base) == 8


def test_code_that_needs_autograph_is_traced_with_it(setup, tmp_path, monkeypatch):
    from export import servable

    model = setup["exports"]["pixel_cnn"][0]
    traced = []

    def _sample(self, num_samples, seed):  # a Python `if` on a tensor: needs AutoGraph
        traced.append(self.sample._autograph)
        if num_samples > 1000:
            num_samples = tf.constant(1000)
        return original(self, num_samples, seed)

    original = servable.Servable._sample
    monkeypatch.setattr(servable.Servable, "_sample", _sample)
    path = export_saved_model.export(model, str(tmp_path / "ag"))
    assert traced[0] is False and traced[-1] is True
    loaded = tf.saved_model.load(path)
    np.testing.assert_array_equal(loaded.signatures["sample"](
        num_samples=tf.constant(NUM), seed=tf.constant(SEED, tf.int64))["images"],
        _refs(setup, "pixel_cnn")["sample"])


def test_rest_client_against_a_local_predict_server(setup):
    """A stdlib HTTP server on 127.0.0.1 that answers TF Serving's REST predict API (columnar
    "inputs" -> "outputs", row "instances" -> "predictions", errors as 400 {"error": ...})
    by running the export, so the client's request and response formats are exercised."""
    model, path = setup["exports"]["pixel_cnn"]
    want = _refs(setup, "pixel_cnn")
    loaded = tf.saved_model.load(path)
    dtypes = {"images": tf.uint8, "known_mask": tf.uint8, "num_samples": tf.int32,
              "seed": tf.int64}
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                assert self.path in ("/v1/models/pcnn:predict",
                                     "/v1/models/pcnn/versions/1:predict"), self.path
                fn = loaded.signatures[body.get("signature_name", "serving_default")]
                if "instances" in body:
                    rows = body["instances"]
                    inputs = {k: [r[k] for r in rows] for k in rows[0]}
                else:
                    inputs = body["inputs"]
                outs = fn(**{k: tf.constant(v, dtypes[k]) for k, v in inputs.items()})
                outs = {k: v.numpy().tolist() for k, v in outs.items()}
                if "instances" in body:
                    reply = {"predictions": [{k: v[i] for k, v in outs.items()}
                                             for i in range(len(rows))]}
                else:
                    reply = {"outputs": outs}
                status = 200
            except (tf.errors.InvalidArgumentError, AssertionError, KeyError) as e:
                status, reply = 400, {"error": getattr(e, "message", str(e))}
            payload = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    images = setup["images"]
    try:
        address = f"127.0.0.1:{server.server_port}"
        out = serving_client.rest_predict(address, "pcnn", "sample",
                                          {"num_samples": NUM, "seed": SEED})
        assert out["images"].dtype == np.uint8
        np.testing.assert_array_equal(out["images"], want["sample"])
        for fmt in ("columnar", "row"):
            out = serving_client.rest_predict(address, "pcnn", "log_prob", {"images": images},
                                              format=fmt, version=1 if fmt == "row" else None)
            np.testing.assert_allclose(out["log_prob"], want["log_prob"], rtol=1e-5)
            np.testing.assert_allclose(out["pixel_log_prob"], want["pixel_log_prob"],
                                       rtol=1e-5, atol=1e-5)
        out = serving_client.rest_predict(
            address, "pcnn", "complete",
            {"images": images, "known_mask": _known(images), "seed": SEED})
        np.testing.assert_array_equal(out["images"], want["complete"])
        with pytest.raises(serving_client.ServingError, match="num_levels=8") as err:
            serving_client.rest_predict(address, "pcnn", "log_prob",
                                        {"images": np.full((1,) + SHAPE, 9, np.uint8)})
        assert err.value.status == 400
        with pytest.raises(ValueError, match="row format"):  # scalar inputs: no request sent
            serving_client.rest_predict(address, "pcnn", "sample",
                                        {"num_samples": 2, "seed": 0}, format="row")
        # The CLI (no TensorFlow needed for REST).
        cli = subprocess.run(
            [sys.executable, "-m", "export.serving_client", f"--server={address}",
             "--model_name=pcnn", "--signature=sample", f"--num_samples={NUM}",
             f"--seed={SEED}", f"--output={setup['tmp'] / 'client.npz'}"],
            cwd=ROOT, env=_env(PYTHONPATH=ROOT), capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr[-2000:]
        assert f"images ({NUM}, 4, 4, 3) uint8" in cli.stdout
        np.testing.assert_array_equal(np.load(setup["tmp"] / "client.npz")["images"],
                                      want["sample"])
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 6


def test_grpc_client_explains_how_to_install_the_serving_api(monkeypatch):
    # CI installs the serving API, so hide it: a None entry makes its import fail.
    for name in [m for m in sys.modules if m.split(".")[0] == "tensorflow_serving"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    with pytest.raises(ImportError, match=r"pip install tensorflow-serving-api==2\.21\.0"):
        serving_client.grpc_predict("localhost:8500", "m", "sample",
                                    {"num_samples": 1, "seed": 0})


# ---- The background subprocesses, collected last. ----

def test_saved_model_cli_show_and_run(setup):
    model, path = setup["exports"][SHOW]
    code, out, err = setup["jobs"]["show"].result()
    assert code == 0, err[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['log_prob']",
                 "signature_def['sample']", "signature_def['complete']", "num_samples",
                 "known_mask", "pixel_log_prob", "bits_per_dim", "DT_UINT8", "DT_INT64"):
        assert text in out, text
    # The SignatureDefs describe themselves: images (-1, H, W, C), known_mask (-1, H, W).
    images_info = re.findall(r"inputs\['images'\] tensor_info:\s+dtype: (\S+)\s+shape: (.*)", out)
    mask_info = re.findall(r"inputs\['known_mask'\] tensor_info:\s+dtype: (\S+)\s+shape: (.*)",
                           out)
    assert len(images_info) >= 3 and set(images_info) == {("DT_UINT8", "(-1, 4, 4, 3)")}, out
    assert mask_info == [("DT_UINT8", "(-1, 4, 4)")], out
    code, out, err = setup["jobs"]["run"].result()
    assert code == 0, err[-2000:]
    want = model.log_prob(np.zeros((1,) + SHAPE, np.uint8)).numpy()[0]
    assert "Result for output key log_prob" in out and "bits_per_dim" in out
    value = float(out.split("Result for output key log_prob:")[1].split("[")[1].split("]")[0])
    assert value == pytest.approx(want, rel=1e-5)


def test_fresh_process_loads_it_without_this_project(setup):
    code, out, err = setup["jobs"]["fresh"].result()
    assert code == 0, err[-3000:]
    res = np.load(setup["tmp"] / "fresh.npz")
    for i, name in enumerate(FRESH):
        want = _refs(setup, name)
        np.testing.assert_allclose(res[f"{i}_log_prob"], want["log_prob"], rtol=1e-5)
        np.testing.assert_array_equal(res[f"{i}_sample"], want["sample"])  # sampling.sample
        np.testing.assert_array_equal(res[f"{i}_again"], want["sample"])  # same seed
        assert not np.array_equal(res[f"{i}_other"], want["sample"])  # another seed
        assert int(res[f"{i}_levels"]) == LEVELS


def test_export_cli_from_a_training_workdir(setup):
    code, out, err = setup["jobs"]["cli"].result()
    assert code == 0, err[-3000:]
    exported = setup["tmp"] / "cli" / "1"
    assert str(exported) in out
    meta = json.loads((exported / "assets.extra" / "model.json").read_text())
    assert meta["model"] == "pixel_cnn" and meta["training_step"] == 7
    assert meta["num_levels"] == 4 and meta["image_shape"] == [4, 4, 1]
    assert meta["test_nll_nats"] == 12.5 and meta["test_bits_per_dim"] == 1.125
    assert meta["dataset"] == "digits"
    # The trained (perturbed) weights, not a fresh initialization.
    model = setup["trainer"].model
    images = np.random.default_rng(3).integers(0, 4, (3, 4, 4, 1)).astype(np.uint8)
    loaded = tf.saved_model.load(str(exported))
    got = loaded.signatures["log_prob"](images=tf.constant(images))["log_prob"].numpy()
    np.testing.assert_allclose(got, model.log_prob(images).numpy(), rtol=1e-5)
    fresh = models.build("pixel_cnn", **tiny_config("pixel_cnn", [4, 4, 1], 4))
    assert not np.allclose(got, fresh.log_prob(images).numpy(), rtol=1e-3)
    # Errors: not a workdir (fails before TensorFlow is even imported), existing version.
    code, out, err = setup["jobs"]["cli_bad"].result()
    assert code == 1 and "is not a training workdir (it has no config.json" in err
    assert "Traceback" not in err
    again = subprocess.run(
        [sys.executable, "-m", "export.export_saved_model", f"--workdir={setup['workdir']}",
         f"--export_base={setup['tmp'] / 'cli'}", "--version=1"],
        cwd=ROOT, env=_env(PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "already exists; refusing to overwrite" in again.stderr
    assert sorted(os.listdir(setup["tmp"] / "cli")) == ["1"]
    shutil.rmtree(setup["tmp"] / "cli")


@pytest.mark.parametrize("name", NAMES)
def test_signatures_declare_image_shapes_and_model_json_the_order(setup, name):
    model, path = setup["exports"][name]
    h, w, c = SHAPE
    loaded = tf.saved_model.load(path)
    for sig in ("serving_default", "log_prob", "complete"):
        spec = loaded.signatures[sig].structured_input_signature[1]["images"]
        assert spec.shape.as_list() == [None, h, w, c] and spec.dtype == tf.uint8, (sig, spec)
    spec = loaded.signatures["complete"].structured_input_signature[1]["known_mask"]
    assert spec.shape.as_list() == [None, h, w] and spec.dtype == tf.uint8, spec
    with open(os.path.join(path, export_saved_model.METADATA_FILE)) as f:
        ordering = json.load(f)["ordering"]
    np.testing.assert_array_equal(np.array(ordering), np.asarray(model.ordering()))
    assert np.array(ordering).shape == SHAPE
    assert sorted(np.array(ordering).reshape(-1).tolist()) == list(range(h * w * c))
    raster = np.arange(h * w * c).reshape(SHAPE)
    if name == "multiscale_pixelrnn":
        assert not np.array_equal(ordering, raster)  # the small image's sub-pixels first


@pytest.mark.parametrize("name", ["row_lstm", "diagonal_bilstm"])
def test_log_prob_signature_keeps_the_recurrent_loops(name):
    # At a known size the recurrent layers unroll (for training); the exported log_prob
    # hides H and W so its graph keeps the loop (unrolled: a 3x larger SavedModel and an 8 s
    # first call), with the same values as the model.
    from export import servable
    from tests.conftest import build_tiny

    model = build_tiny(name, (5, 4, 3), 4)
    images = np.random.default_rng(0).integers(0, 4, (2, 5, 4, 3)).astype(np.uint8)
    graph = servable.Servable(model).log_prob.get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    for f in graph._functions.values():  # the loop body lives in a function of the graph
        ops |= {n.op for n in f.definition.node_def}
    assert ops & {"While", "StatelessWhile"}, name
    got = servable.Servable(model).log_prob(tf.constant(images))["log_prob"].numpy()
    want = model.log_prob(tf.constant(images, tf.int32)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
