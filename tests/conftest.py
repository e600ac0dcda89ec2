import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import models  # noqa: E402
from models.configs.tiny import tiny_config  # noqa: E402


def build_tiny(name, image_shape, num_levels, seed=0):
    """A tiny, untrained (random-weight) model of every registered kind."""
    keras.utils.set_random_seed(seed)
    return models.build(name, **tiny_config(name, image_shape, num_levels))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
