"""The paper's experiment configurations, one module per experiment, and tiny test variants.

Each experiment module defines MODEL (a registry name), DATASET, MODEL_CONFIG (constructor
arguments) and TRAIN (training hyperparameters); its docstring gives the command and the
paper's result.
"""

from pixelrnn_tf import experiments
from pixelrnn_tf.experiments import ExperimentConfig, get, names  # noqa: F401

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
    # The resumable binarized-MNIST training campaign (python -m pixelrnn_tf.campaign).
    "campaign_mnist_pixel_cnn",
    "campaign_mnist_pixel_cnn_decay",
    "campaign_mnist_pixel_cnn_15",
    "campaign_mnist_pixel_cnn_wide",
    "campaign_mnist_pixel_cnn_wide_bf16",
    "campaign_mnist_row_lstm",
    "campaign_mnist_diagonal_bilstm",
    "campaign_mnist_multiscale_row_lstm",
    "campaign_mnist_multiscale_row_lstm_wide",
    "campaign_mnist_gated_pixel_cnn",
    "campaign_mnist_gated_pixel_cnn_dropout",
)

# The campaign's open-ended schedule: constant learning rate after a warm-up, and a moving
# average of the weights (time constant 2000 steps, ~1.3 epochs), so that a run stopped after
# any session is already a good model (a cosine schedule is good only at its last step).
# One epoch of binarized MNIST is 50,000 / 32 = 1563 steps: validation NLL every epoch.
# `epochs` is a ceiling, not the plan: the campaign's wall-time budget stops each session.
CAMPAIGN_TRAIN = dict(batch_size=32, optimizer="adam", learning_rate=1e-3,
                      lr_schedule="constant", warmup_steps=500, ema_decay=0.9995, epochs=300,
                      checkpoint_every=500, eval_every=1563, eval_split="validation",
                      keep_checkpoints=1, log_every=100)

# The one budget of every CIFAR-10-subset experiment (cifar10_subset_*), so that their
# bits/dim compare with each other: 1000 steps of 16 images, Adam, warm-up, cosine, EMA.
SUBSET_TRAIN = dict(batch_size=16, optimizer="adam", learning_rate=1e-3, lr_schedule="cosine",
                    warmup_steps=100, ema_decay=0.999, steps=1000, checkpoint_every=100,
                    log_every=20)


for _name in PAPER_CONFIGS:
    experiments.register(_name, f"models.configs.{_name}")


def build(name):
    """Build (not train) the model of a paper experiment."""
    import models

    config = get(name)
    return models.build(config.model, **config.model_config)
