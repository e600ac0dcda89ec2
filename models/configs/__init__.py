"""The paper's experiment configurations, one module per experiment, and tiny test variants.

Each experiment module defines MODEL (a registry name), DATASET, MODEL_CONFIG (constructor
arguments) and TRAIN (training hyperparameters); its docstring gives the command and the
paper's result.
"""

import importlib
from dataclasses import dataclass, field

PAPER_CONFIGS = (
    "mnist_diagonal_bilstm",
    "mnist_pixel_cnn",
    "mnist_row_lstm",
    "mnist_multiscale_row_lstm",
    "cifar10_row_lstm",
    "cifar10_diagonal_bilstm",
    "cifar10_pixel_cnn",
    "cifar10_gated_pixel_cnn",
    "cifar10_pixel_cnn_pp",
    "cifar10_pixel_snail",
    "cifar10_subset_pixel_cnn",
    "cifar10_subset_row_lstm",
    "cifar10_subset_gated_pixel_cnn",
    "cifar10_subset_pixel_cnn_pp",
    "cifar10_subset_pixel_snail",
    "imagenet32_row_lstm",
    "imagenet64_row_lstm",
    "imagenet64_multiscale_row_lstm",
)

# The one budget of every CIFAR-10-subset experiment (cifar10_subset_*), so that their
# bits/dim compare with each other: 1000 steps of 16 images, Adam, warm-up, cosine, EMA.
SUBSET_TRAIN = dict(batch_size=16, optimizer="adam", learning_rate=1e-3, lr_schedule="cosine",
                    warmup_steps=100, ema_decay=0.999, steps=1000, checkpoint_every=100,
                    log_every=20)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    model: str
    dataset: str
    model_config: dict
    train: dict = field(default_factory=dict)
    doc: str = ""


def names():
    return list(PAPER_CONFIGS)


def get(name):
    """The ExperimentConfig of a paper experiment, e.g. get("cifar10_row_lstm")."""
    if name not in PAPER_CONFIGS:
        raise KeyError(f"Unknown paper config {name!r}. Known: {', '.join(PAPER_CONFIGS)}.")
    module = importlib.import_module(f"models.configs.{name}")
    return ExperimentConfig(name, module.MODEL, module.DATASET, dict(module.MODEL_CONFIG),
                            dict(getattr(module, "TRAIN", {})), module.__doc__ or "")


def build(name):
    """Build (not train) the model of a paper experiment."""
    import models

    config = get(name)
    return models.build(config.model, **config.model_config)
