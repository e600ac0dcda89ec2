"""The paper's configurations build; their parameter counts are printed in the test log."""

import os
import pytest

import models
from models import configs
from pixelrnn_tf.training import config as config_lib
from pixelrnn_tf.training import trainer as trainer_lib

# Table 1 of the paper, as configured in models/configs.
EXPECTED = {
    "mnist_diagonal_bilstm": ("diagonal_bilstm", (28, 28, 1), 2, 7, 16, 32),
    "mnist_pixel_cnn": ("pixel_cnn", (28, 28, 1), 2, 7, 16, 32),
    "mnist_row_lstm": ("row_lstm", (28, 28, 1), 2, 7, 16, 32),
    "mnist_multiscale_row_lstm": ("multiscale_pixelrnn", (28, 28, 1), 2, 7, 16, 32),
    "cifar10_row_lstm": ("row_lstm", (32, 32, 3), 256, 12, 128, 1024),
    "cifar10_diagonal_bilstm": ("diagonal_bilstm", (32, 32, 3), 256, 12, 128, 1024),
    "cifar10_pixel_cnn": ("pixel_cnn", (32, 32, 3), 256, 15, 128, 1024),
    "cifar10_gated_pixel_cnn": ("gated_pixel_cnn", (32, 32, 3), 256, 15, 128, 1024),
    "cifar10_pixel_cnn_pp": ("pixel_cnn_pp", (32, 32, 3), 256, 5, 160, 10),
    "cifar10_pixel_snail": ("pixel_snail", (32, 32, 3), 256, 12, 4, 256, 16, 128, 10),
    "cifar10_subset_pixel_cnn": ("pixel_cnn", (32, 32, 3), 256, 6, 32, 128),
    "cifar10_subset_row_lstm": ("row_lstm", (32, 32, 3), 256, 6, 32, 128),
    "cifar10_subset_gated_pixel_cnn": ("gated_pixel_cnn", (32, 32, 3), 256, 6, 32, 128),
    "cifar10_subset_pixel_cnn_pp": ("pixel_cnn_pp", (32, 32, 3), 256, 1, 32, 5),
    "cifar10_subset_pixel_snail": ("pixel_snail", (32, 32, 3), 256, 2, 2, 32, 16, 32, 5),
    "imagenet32_row_lstm": ("row_lstm", (32, 32, 3), 256, 12, 384, 1024),
    "imagenet64_row_lstm": ("row_lstm", (64, 64, 3), 256, 4, 512, 1024),
    "imagenet64_multiscale_row_lstm": ("multiscale_pixelrnn", (64, 64, 3), 256, 4, 512, 1024),
    "campaign_mnist_pixel_cnn": ("pixel_cnn", (28, 28, 1), 2, 7, 16, 32),
    "campaign_mnist_pixel_cnn_decay": ("pixel_cnn", (28, 28, 1), 2, 7, 16, 32),
    # The paper's PixelCNN depth (15 layers) at the MNIST width.
    "campaign_mnist_pixel_cnn_15": ("pixel_cnn", (28, 28, 1), 2, 15, 16, 32),
    "campaign_mnist_pixel_cnn_wide": ("pixel_cnn", (28, 28, 1), 2, 15, 32, 32),
    "campaign_mnist_pixel_cnn_wide_bf16": ("pixel_cnn", (28, 28, 1), 2, 15, 32, 32),
    "campaign_mnist_row_lstm": ("row_lstm", (28, 28, 1), 2, 7, 16, 32),
    "campaign_mnist_diagonal_bilstm": ("diagonal_bilstm", (28, 28, 1), 2, 7, 16, 32),
    "campaign_mnist_multiscale_row_lstm": ("multiscale_pixelrnn", (28, 28, 1), 2, 7, 16, 32),
    # The conditional network's columns; the small network is h = 32 (checked below).
    "campaign_mnist_multiscale_row_lstm_wide": ("multiscale_pixelrnn", (28, 28, 1), 2, 7, 16,
                                                32),
    "campaign_mnist_gated_pixel_cnn": ("gated_pixel_cnn", (28, 28, 1), 2, 12, 24, 64),
    "campaign_mnist_gated_pixel_cnn_dropout": ("gated_pixel_cnn", (28, 28, 1), 2, 12, 24, 64),
}

# The attributes of the last columns: (layers, units, output maps), except for PixelCNN++
# (blocks per stage, filters, logistic mixture components) and PixelSNAIL (attention blocks,
# residual blocks per attention block, filters, attention key and value sizes, components).
COLUMNS = {"pixel_cnn_pp": ("num_resnet", "units", "num_mixtures"),
           "pixel_snail": ("num_blocks", "num_resnet", "units", "key_size", "value_size",
                           "num_mixtures")}


def test_every_paper_config_is_listed():
    assert set(configs.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_paper_config_builds(name, capsys):
    config = configs.get(name)
    model_name, shape, levels, *architecture = EXPECTED[name]
    assert config.model == model_name
    assert "Command:" in config.doc and "python -m pixelrnn_tf.train" in config.doc
    assert "Paper result" in config.doc
    model = configs.build(name)
    assert isinstance(model, models.get(model_name))
    assert (model.image_shape, model.num_levels) == (shape, levels)
    columns = COLUMNS.get(model_name, ("num_layers", "units", "output_units"))
    assert tuple(getattr(model, c) for c in columns) == tuple(architecture)
    if name == "imagenet64_row_lstm":
        assert model.residual is False
    if name == "campaign_mnist_multiscale_row_lstm_wide":
        assert (model.small_layers, model.small_units, model.upsampler_layers) == (7, 32, 3)
    if name == "campaign_mnist_gated_pixel_cnn_dropout":
        assert model.dropout_rate == 0.2
    params = model.count_params()
    with capsys.disabled():
        print(f"\n[params] {name}: {params:,} parameters")
    assert params > 0


def test_unknown_config_lists_known():
    with pytest.raises(KeyError, match="Known: mnist_diagonal_bilstm"):
        configs.get("cifar100")


def test_the_cifar10_subset_experiments_share_one_budget():
    # Their bits/dim are compared with each other in README: same steps, batch and schedule.
    subset = [n for n in configs.names() if n.startswith("cifar10_subset_")]
    assert len(subset) == 5
    for name in subset:
        assert configs.get(name).train == configs.SUBSET_TRAIN, name


# Runs started from another's committed workdir (init_from): a decay phase, or the same
# network with dropout switched on. (The run they start from, their schedule's changes to
# CAMPAIGN_TRAIN.)
DECAY_PHASES = {"campaign_mnist_pixel_cnn_decay": (
    "campaign_mnist_pixel_cnn", dict(lr_schedule="cosine", warmup_steps=200, epochs=10)),
    "campaign_mnist_gated_pixel_cnn_dropout": ("campaign_mnist_gated_pixel_cnn", dict(epochs=8))}


# Runs whose schedule differs from the campaign's in these fields only: a mixed precision
# policy, or a fixed end (the Row LSTM, at its goal, ends at the 30 epochs; the
# Diagonal BiLSTM, which had passed 30 when it was cut, at 31).
CHANGES = {"campaign_mnist_pixel_cnn_wide_bf16": dict(mixed_precision="mixed_bfloat16"),
           "campaign_mnist_gated_pixel_cnn": dict(mixed_precision="mixed_bfloat16"),
           "campaign_mnist_diagonal_bilstm": dict(mixed_precision="mixed_bfloat16", epochs=31),
           "campaign_mnist_multiscale_row_lstm_wide": dict(mixed_precision="mixed_bfloat16"),
           "campaign_mnist_row_lstm": dict(epochs=30),
           "campaign_mnist_pixel_cnn_15": dict(epochs=30)}


def test_the_campaign_runs_share_one_schedule_and_select_on_validation():
    campaign = [n for n in configs.names() if n.startswith("campaign_")]
    assert len(campaign) == 11
    for name in campaign:
        train = dict(configs.get(name).train)
        assert train["eval_split"] == "validation" and train["keep_checkpoints"] == 1
        if name in DECAY_PHASES:
            source, changes = DECAY_PHASES[name]
            # The same network (its weights; dropout may differ), started from the committed
            # workdir of its source run.
            assert (trainer_lib.weight_defining(configs.get(name).model_config)
                    == trainer_lib.weight_defining(configs.get(source).model_config))
            assert train.pop("init_from").endswith(os.path.join("models", "campaign", source))
            assert train == dict(configs.CAMPAIGN_TRAIN, **changes), name
        else:
            assert train == dict(configs.CAMPAIGN_TRAIN, **CHANGES.get(name, {})), name


def test_steps_or_epochs_on_the_command_line_replace_the_configs_length():
    """A config gives its run's length as epochs (the campaign's) or steps (the CIFAR-10
    subset's); --steps or --epochs replaces it, whichever the config used."""
    resolve = lambda name, **kw: config_lib.resolve(name, data_dir="/nonexistent", **kw)  # noqa
    campaign = "campaign_mnist_gated_pixel_cnn"
    assert resolve(campaign).epochs == configs.get(campaign).train["epochs"]
    short = resolve(campaign, steps=10)
    assert (short.steps, short.epochs) == (10, None)
    assert resolve(campaign, epochs=2.5).epochs == 2.5
    subset = "cifar10_subset_pixel_cnn"
    assert resolve(subset).steps == configs.get(subset).train["steps"]
    longer = resolve(subset, epochs=3.0)
    assert longer.epochs == 3.0
    assert resolve(subset, steps=7).steps == 7
