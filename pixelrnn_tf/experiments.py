"""Name -> experiment configuration registry (the paper's experiments, the zoo's recipes).

An experiment is one module with MODEL (a registry name), DATASET, MODEL_CONFIG (constructor
arguments), TRAIN (training hyperparameters) and a docstring giving its command and expected
result (big_vision's one config form). The zoo registers its modules here by name
(`models/configs/__init__.py`); a module is imported only when its experiment is asked for.
"""

import importlib
from dataclasses import dataclass, field

_MODULES = {}


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    model: str
    dataset: str
    model_config: dict
    train: dict = field(default_factory=dict)
    doc: str = ""


def register(name, module):
    """Register experiment `name`, defined by the module named `module`."""
    if _MODULES.get(name, module) != module:
        raise ValueError(f"Experiment {name!r} is already registered to {_MODULES[name]}.")
    _MODULES[name] = module


def names():
    return list(_MODULES)


def get(name):
    """The ExperimentConfig of a registered experiment, e.g. get("cifar10_row_lstm")."""
    if name not in _MODULES:
        raise KeyError(f"Unknown paper config {name!r}. Known: {', '.join(_MODULES) or 'none'}.")
    module = importlib.import_module(_MODULES[name])
    return ExperimentConfig(name, module.MODEL, module.DATASET, dict(module.MODEL_CONFIG),
                            dict(getattr(module, "TRAIN", {})), module.__doc__ or "")
