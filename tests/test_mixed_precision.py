"""Every registered model under Keras mixed precision (issue 18): the policy reaches every
layer, the variables stay float32, and under mixed_bfloat16 the exact properties of the
float32 models still hold exactly (causality, normalization, cached == naive sampling at
seeds whose draws are away from ties) or
within a stated tolerance (log-probabilities against the float32 model with the same
weights); training lowers the loss, float16 loss scaling unscales the gradients, and exports
are float32.

Tolerances. bfloat16 keeps 8 significant bits (unit roundoff u = 2^-9 ~ 0.002), float16 11
(u = 2^-12 ~ 0.00024). The masks are exact in both (0 and 1), so causality is exact. The
logits, the log-softmax and the logistic-mixture likelihood are float32 (cast at the head),
so every conditional is normalized to float32 precision whatever the half-precision
features feeding it: the normalization tolerance is float32's, 1e-5 over 512 images, as in
test_conformance.py (measured: |sum - 1| <= 1.3e-7 under both policies). The
log-probabilities differ from the float32 model's by the rounding of the features, a few
roundoffs per layer over the ~5-10 layers before the head, on logits of order 1 (untrained
models): the bound is 25 u per sub-pixel (0.049 nats bfloat16, 0.0061 float16); measured
over three seeds at most 0.0126 (6.5 u, PixelSNAIL) and 0.0014 (5.7 u).

float16 runs on CPU: TensorFlow has float16 CPU kernels for every op the zoo uses but Range
(no float16 kernel in graphs), which the attention's position features avoid. The float16
checks, the training checks of the four slowest models to trace and PixelCNN++'s sampling
check are marked slow, to keep this file's default run near a minute and a half.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.configs.tiny import tiny_config
from pixelrnn_tf import sampling
from pixelrnn_tf.training import config as config_lib
from pixelrnn_tf.training import distribution, trainer as trainer_lib
from tests.helpers import dependence
from tests.test_training import npz_dataset  # noqa: F401  (a fixture)
from tests.test_sampling import _run, _sharpen

ALL = models.names()
# Unit roundoffs; max |log p - log p float32| per sub-pixel <= 25 u (see the docstring).
UNIT_ROUNDOFF = {"mixed_bfloat16": 2.0 ** -9, "mixed_float16": 2.0 ** -12}
SLOW_FLOAT16 = pytest.param("mixed_float16", marks=pytest.mark.slow)
# 8 to 23 s each to trace a training step (PixelCNN++'s sampling stages: 13 to 28 s): these
# bfloat16 checks run with -m slow.
SLOW_TO_TRAIN = ("diagonal_bilstm", "multiscale_pixelrnn", "pixel_cnn_pp", "pixel_snail")
SLOW_TO_SAMPLE = ("pixel_cnn_pp",)


def _names(slow):
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in ALL]


@pytest.fixture
def policy(request):
    """Sets the global Keras policy (as a user does) for the test, and restores it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy(previous)


def _build(name, shape, levels, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return models.build(name, **tiny_config(name, shape, levels), **kwargs)


def _float32_twin(model):
    """The same model and weights under the float32 policy."""
    return _float32_twin_of(model, {})


def _float32_twin_of(model, extra):
    twin = models.build(model.registry_name, **tiny_config(
        model.registry_name, model.image_shape, model.num_levels), dtype="float32", **extra)
    twin.set_weights(model.get_weights())
    return twin


def _all_binary_images(shape):
    bits = np.array(list(itertools.product([0, 1], repeat=int(np.prod(shape)))), np.int32)
    return bits.reshape((-1,) + shape)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"], indirect=True)
@pytest.mark.parametrize("name", ALL)
def test_the_policy_reaches_every_layer_and_the_variables_stay_float32(name, policy):
    model = _build(name, (3, 4, 3), 4)
    layers = list(model._flatten_layers(include_self=True))
    assert len(layers) > 3
    assert {layer.dtype_policy.name for layer in layers} == {policy}
    assert {v.dtype for v in model.variables} == {"float32"}
    images = np.random.default_rng(0).integers(0, 4, (2, 3, 4, 3))
    assert model(images).dtype == tf.float32
    assert model.log_prob(images).dtype == tf.float32
    # Under an explicit float32 policy (the global one being mixed) every layer is float32.
    twin = _float32_twin(model)
    assert {layer.dtype_policy.name for layer in twin._flatten_layers()} == {"float32"}


def _check_half_precision_model(name, policy):
    shape = (3, 3, 1)
    model = _build(name, shape, 2)
    # Causality by gradients, exact: no sub-pixel's logits depend on itself or a later one.
    jac = dependence(model, num_images=2)
    rank = model.ordering().reshape(-1)
    assert not np.any((rank[None, :] >= rank[:, None]) & (jac != 0)), f"{name}: leak"
    assert np.count_nonzero(jac) > 0
    # Normalization by enumeration: the conditionals are normalized in float32.
    log_p = model.log_prob(_all_binary_images(shape)).numpy().astype(np.float64)
    total = np.exp(log_p).sum()
    assert abs(total - 1.0) < 1e-5, f"{name}: probabilities sum to {total!r}"
    # Close to the float32 model with the same weights, but not computed in float32.
    images = np.random.default_rng(0).integers(0, 8, (4, 4, 4, 3))
    model = _build(name, (4, 4, 3), 8)
    want = _float32_twin(model).pixel_log_prob(images).numpy()
    got = model.pixel_log_prob(images).numpy()
    error = np.abs(got - want).max()
    assert 0 < error < 25 * UNIT_ROUNDOFF[policy], f"{name}: {error:.4f} nats per sub-pixel"


@pytest.mark.parametrize("policy", ["mixed_bfloat16", SLOW_FLOAT16], indirect=True)
@pytest.mark.parametrize("name", ALL)
def test_causality_normalization_and_float32_agreement(name, policy):
    _check_half_precision_model(name, policy)


# A draw that rounding can flip is a tie, not a sampler bug: the identity is asserted at the
# first seed whose every drawn sub-pixel has its uniform at least this far from a CDF boundary.
# Measured on an AVX2 machine (the Diagonal BiLSTM, seeds 11-15, and three other networks):
# the cached and naive bfloat16 samplers differed only at seeds whose closest draw was 1e-5
# and 1e-4 from a boundary, never at 5.6e-4 or more (18 model-seed pairs); about half the
# seeds clear 1e-3.
TIE_MARGIN = 1e-3


def _tie_margin(model, images, known, seed):
    """The smallest distance, over the sub-pixels the sampler drew in `images`, between the
    uniform of the draw and the nearest boundary of the CDF it was drawn from."""
    from pixelrnn_tf.sampling.draw import raster_key, uniform_noise

    b, (h, w, c) = len(images), model.image_shape
    probs = tf.nn.softmax(model(images), -1).numpy()  # (B, H, W, C, L): conditionals (causal)
    cdf = np.cumsum(probs, -1)[..., :-1]  # the inner boundaries
    margin = np.inf
    for i, j, ch in itertools.product(range(h), range(w), range(c)):
        u = uniform_noise(tf.constant(seed, tf.int64), raster_key(model.image_shape, i, j, ch),
                          b).numpy()
        drawn = ~known[:, i, j]
        if drawn.any():
            margin = min(margin, np.abs(cdf[drawn, i, j, ch] - u[drawn, None]).min())
    return margin


@pytest.mark.parametrize("policy", ["mixed_bfloat16", SLOW_FLOAT16], indirect=True)
@pytest.mark.parametrize("name", _names(SLOW_TO_SAMPLE))
def test_cached_sampler_equals_naive_sampler(name, policy):
    """Identical images, as in float32, whenever no draw is near a tie: the caches and steps
    compute in the compute dtype, the logits in float32. A bfloat16 rounding difference can
    flip a draw whose uniform sits next to a CDF boundary (it did, on one machine's kernels and
    not another's), so the seed is the first whose draws are TIE_MARGIN away from one."""
    shape, levels, batch = (3, 4, 3), 4, 3
    model = _build(name, shape, levels)
    _sharpen(model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, levels, size=(batch,) + shape)
    known = rng.random((batch,) + shape[:2]) < 0.3
    for seed in range(11, 41):
        naive = _run(sampling.naive_complete, model, images, known, seed)
        if _tie_margin(model, naive, known, seed) > TIE_MARGIN:
            break
    else:
        pytest.fail(f"{name}: no seed in 11..40 draws every sub-pixel {TIE_MARGIN} from a tie")
    cached = _run(lambda m, x, k, s: m.cached_complete(x, k, s), model, images, known, seed)
    np.testing.assert_array_equal(cached, naive)
    np.testing.assert_array_equal(cached[known], images[known])


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("name, conditioning", [
    ("gated_pixel_cnn", dict(num_classes=3)),
    ("gated_pixel_cnn", dict(conditioning_dim=2)),
    pytest.param("pixel_cnn_pp", dict(num_classes=3), marks=pytest.mark.slow),
    pytest.param("pixel_snail", dict(conditioning_dim=2), marks=pytest.mark.slow)])
def test_conditional_models(name, conditioning, policy):
    """Labels (one-hot) and vectors reach the gates in the compute dtype, in the full pass and
    in the sampling steps."""
    shape, levels = (3, 4, 3), 4
    model = _build(name, shape, levels, **conditioning)
    rng = np.random.default_rng(0)
    cond = (np.array([0, 2, 1], np.int32) if "num_classes" in conditioning
            else rng.normal(size=(3, 2)).astype(np.float32))
    images = rng.integers(0, levels, size=(3,) + shape)
    want = _float32_twin_of(model, conditioning).pixel_log_prob(images, cond).numpy()
    error = np.abs(model.pixel_log_prob(images, cond).numpy() - want).max()
    assert 0 < error < 25 * UNIT_ROUNDOFF[policy]
    _sharpen(model)
    known = rng.random((3,) + shape[:2]) < 0.3
    args = (tf.constant(images, tf.int32), tf.constant(known), tf.constant(3, tf.int64),
            tf.constant(cond))
    naive = tf.function(lambda x, k, s, c: sampling.naive_complete(model, x, k, s,
                                                                   conditioning=c))(*args)
    cached = tf.function(lambda x, k, s, c: model.cached_complete(x, k, s, c))(*args)
    np.testing.assert_array_equal(cached.numpy(), naive.numpy())


def _trainer(tmp_path, name, policy, optimizer="adam", learning_rate=3e-3):
    config = config_lib.TrainConfig(
        model=name, model_config=tiny_config(name, (4, 4, 1), 4), dataset="digits",
        batch_size=8, strategy="one_device", optimizer=optimizer, learning_rate=learning_rate,
        mixed_precision=policy)
    config_lib.validate(config)
    return trainer_lib.Trainer(config, str(tmp_path))


def _batches(trainer, images):
    return distribution.distributed_batches(trainer.strategy, images, len(images), 0, 0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", SLOW_FLOAT16], indirect=True)
@pytest.mark.parametrize("name", _names(SLOW_TO_TRAIN))
def test_training_steps_lower_the_loss(name, policy, tmp_path):
    images = np.random.default_rng(0).integers(0, 4, (8, 4, 4, 1)).astype(np.uint8)
    trainer = _trainer(tmp_path, name, policy)
    assert trainer.model.dtype_policy.name == policy
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer) == (
        policy == "mixed_float16")
    batches = _batches(trainer, images)
    losses = [trainer.train_step(next(batches)) for _ in range(6)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] - 0.1, losses


def test_float16_loss_scaling_unscales_the_gradients(tmp_path):
    """One SGD step under mixed_float16 (loss scaled by 2^15) moves the weights as the float32
    step does, to float16 precision: the gradients are unscaled before they are applied."""
    images = np.random.default_rng(0).integers(0, 4, (8, 4, 4, 1)).astype(np.uint8)
    moves = {}
    for policy in ("none", "mixed_float16"):
        trainer = _trainer(tmp_path / policy, "pixel_cnn", policy, "sgd", 1e-2)
        before = [v.numpy() for v in trainer.model.trainable_variables]
        trainer.train_step(next(_batches(trainer, images)))
        moves[policy] = np.concatenate([(v.numpy() - b).ravel() for v, b in
                                        zip(trainer.model.trainable_variables, before)])
    scale = float(trainer.optimizer.dynamic_scale.numpy())
    assert scale >= 2.0 ** 10  # the loss was scaled (the initial scale is 2^15)
    reference = np.abs(moves["none"]).max()
    assert reference > 1e-4
    np.testing.assert_allclose(moves["mixed_float16"], moves["none"], atol=0.02 * reference)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_keras_fit_under_mixed_float16_scales_the_loss(policy):
    """compile() wraps the optimizer (Keras' auto_scale_loss) and train_step scales the loss
    and lets the optimizer unscale the gradients: fit lowers the loss."""
    model = _build("gated_pixel_cnn", (4, 4, 1), 4)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = np.random.default_rng(0).integers(0, 4, (16, 4, 4, 1))
    history = model.fit(images, batch_size=8, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0], history


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_export_is_a_float32_saved_model(policy, tmp_path):
    from export import export_saved_model

    model = _build("row_lstm", (3, 3, 1), 4)
    path = export_saved_model.export(model, str(tmp_path / "export"))
    keras.mixed_precision.set_global_policy("float32")
    loaded = tf.saved_model.load(path)
    assert {v.dtype for v in loaded.model_variables} == {tf.float32}
    images = np.random.default_rng(0).integers(0, 4, (3, 3, 3, 1)).astype(np.uint8)
    got = loaded.signatures["log_prob"](images=tf.constant(images))["log_prob"].numpy()
    # Exactly the float32 model with the same weights (not the bfloat16 one).
    want = _float32_twin(model).log_prob(images).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got, model.log_prob(images).numpy(), rtol=1e-6)


def test_the_flag_is_checked_recorded_and_float16_is_part_of_the_workdir_identity(tmp_path):
    """float32 and mixed_bfloat16 checkpoints are the same (float32 variables and optimizer
    state): a run may switch between them on resume. mixed_float16 adds a loss scale."""
    from pixelrnn_tf.training import workdir as workdir_lib

    with pytest.raises(ValueError, match="Unknown mixed_precision 'float16'; valid: none, "
                                         "mixed_float16, mixed_bfloat16"):
        config_lib.resolve("pixel_cnn", mixed_precision="float16")
    config = config_lib.resolve("pixel_cnn", mixed_precision="mixed_bfloat16")
    workdir_lib.claim(str(tmp_path), config)
    assert workdir_lib.load_config(str(tmp_path)).mixed_precision == "mixed_bfloat16"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "checkpoint").write_text("")
    config.mixed_precision = "none"
    workdir_lib.check(str(tmp_path), config)
    config.mixed_precision = "mixed_float16"
    with pytest.raises(workdir_lib.WorkdirMismatch,
                       match="mixed_precision: saved 'mixed_bfloat16', now 'mixed_float16'; a "
                             "mixed_float16 checkpoint holds a loss-scaled optimizer"):
        workdir_lib.check(str(tmp_path), config)


def test_a_run_switches_to_bfloat16_on_resume_and_publishes_float32_numbers(
        tmp_path, npz_dataset, capfd):
    """A float32 run resumed under mixed_bfloat16 keeps its optimizer state and step, its
    learning curve names the policy of each evaluation, and its bfloat16 test NLL is refused
    by publish (the export is float32) until `evaluate --mixed_precision=none` recomputes it,
    which gives the float32 model's NLL, not the bfloat16 one."""
    import json
    import subprocess
    import sys

    from export.publish_pretrained import publish
    from pixelrnn_tf.training.restore import restore_model
    from tests.test_training import ROOT, _config, _env

    workdir = tmp_path / "run"
    kw = dict(optimizer="adam", eval_every=2, ema_decay=0.9)
    trainer_lib.run(_config(tmp_path, npz_dataset, steps=3, **kw), str(workdir))
    capfd.readouterr()
    config = _config(tmp_path, npz_dataset, steps=6, mixed_precision="mixed_bfloat16", **kw)
    trainer_lib.run(config, str(workdir))
    assert "mixed_precision changed from none to mixed_bfloat16 on resume at step 3" in (
        capfd.readouterr().out)
    resumed = trainer_lib.Trainer(config, str(workdir))
    assert resumed.restore() and int(resumed.optimizer.iterations.numpy()) == 6
    curve = [json.loads(line) for line in (workdir / "eval_log.jsonl").read_text().splitlines()]
    assert [(r["step"], r.get("mixed_precision")) for r in curve] == [
        (2, None), (4, "mixed_bfloat16")]
    bf16 = json.loads((workdir / "eval_test.json").read_text())
    assert bf16["mixed_precision"] == "mixed_bfloat16" and bf16["step"] == 6

    zoo = tmp_path / "zoo"
    with pytest.raises(ValueError, match="eval_test.json was computed under mixed_bfloat16, "
                                         "but the export is a float32 SavedModel"):
        publish(str(workdir), "digits", zoo_dir=str(zoo))
    assert not zoo.exists()

    done = subprocess.run([sys.executable, "-m", "pixelrnn_tf.evaluate", f"--workdir={workdir}",
                           "--mixed_precision=none"], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    f32 = json.loads((workdir / "eval_test.json").read_text())
    assert f32["mixed_precision"] == "none" and f32["step"] == 6
    model, _, _ = restore_model(str(workdir), "none")
    from pixelrnn_tf import data

    test = data.load_split(config.dataset, "test", config.data_dir)
    want = -float(np.mean(model.log_prob(test).numpy()))
    assert model.dtype_policy.name == "float32"
    np.testing.assert_allclose(f32["nll_nats"], want, rtol=1e-5)
    assert abs(f32["nll_nats"] - bf16["nll_nats"]) > 1e-6  # another model's number
    version, meta = publish(str(workdir), "digits", zoo_dir=str(zoo))
    assert meta["test_nll_nats"] == f32["nll_nats"]


@pytest.mark.slow
def test_train_evaluate_and_export_clis_with_the_flag(tmp_path):
    """A few mixed_float16 steps through the CLIs (loss scaling, its checkpoint, resume),
    evaluation, and a float32 export equal to the float32 model of the checkpoint."""
    import json
    import os
    import subprocess
    import sys

    import dataclasses

    from pixelrnn_tf.training.restore import build_model, restore_model

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    workdir, exports = str(tmp_path / "run"), str(tmp_path / "exports")

    def run(module, *args):
        done = subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    train = ["--model=row_lstm", "--num_layers=1", "--units=4", "--output_units=8",
             "--batch_size=8", "--mixed_precision=mixed_float16", f"--workdir={workdir}",
             "--num_samples=2", "--max_eval_examples=32"]
    run("pixelrnn_tf.train", *train, "--steps=3")
    out = run("pixelrnn_tf.train", *train, "--steps=5")
    assert "resumed from" in out and "test NLL" in out
    with open(os.path.join(workdir, "config.json")) as f:
        assert json.load(f)["mixed_precision"] == "mixed_float16"
    out = run("pixelrnn_tf.evaluate", f"--workdir={workdir}", "--max_examples=32")
    assert "(step 5)" in out
    run("export.export_saved_model", f"--workdir={workdir}", f"--export_base={exports}")
    model, config, step = restore_model(workdir)
    assert step == 5 and model.dtype_policy.name == "mixed_float16"
    twin = build_model(dataclasses.replace(config, mixed_precision="none"))
    twin.set_weights(model.get_weights())
    loaded = tf.saved_model.load(os.path.join(exports, "1"))
    assert {v.dtype for v in loaded.model_variables} == {tf.float32}
    images = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.uint8)
    got = loaded.signatures["log_prob"](images=tf.constant(images))["log_prob"].numpy()
    np.testing.assert_allclose(got, twin.log_prob(images).numpy(), rtol=1e-6)
