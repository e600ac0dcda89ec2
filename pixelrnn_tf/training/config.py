"""TrainConfig: everything that defines a training run, resolved from flags."""

import dataclasses
import json
import math
import os

from pixelrnn_tf import data, experiments, registry

# A registry-name run (--model=pixel_snail) trains its model's SMALL_CONFIG (declared by each
# model class); this one is the PixelRNN networks' (the default run's PixelCNN).
DEFAULT_MODEL_CONFIG = dict(num_layers=5, units=32, output_units=128)
# Ships with scikit-learn, so the default run needs no network.
DEFAULT_DATASET = "digits"
STRATEGIES = ("auto", "mirrored", "multi_worker", "one_device")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
# Keras dtype policies of a run ("none": float32). The variables, the logits and the
# likelihood stay float32 under every one (README "Mixed precision").
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")

# Changing these makes a workdir's checkpoint meaningless; the rest (steps, eval cadence,
# strategy) may change between resumed runs.
IDENTITY_FIELDS = ("model", "model_config", "dataset", "image_size", "optimizer", "seed",
                   "batch_size", "ema_decay")
LR_SCHEDULES = ("constant", "cosine")


def checkpoint_format(mixed_precision):
    """What of --mixed_precision a checkpoint depends on, and so a workdir's identity:
    mixed_float16 wraps the optimizer (and its checkpointed state) in a LossScaleOptimizer,
    while float32 and mixed_bfloat16 keep the same float32 variables and optimizer state, so
    a run may switch between those two on resume (e.g. to train faster on a CPU with bfloat16
    units) and continue from its optimizer's moments."""
    return "loss-scaled" if mixed_precision == "mixed_float16" else "float32"


@dataclasses.dataclass
class TrainConfig:
    model: str = "pixel_cnn"
    model_config: dict = dataclasses.field(default_factory=dict)
    dataset: str = DEFAULT_DATASET
    data_dir: str = None
    image_size: int = None
    workdir: str = None
    batch_size: int = 32
    steps: int = 1500
    epochs: float = None
    learning_rate: float = 1e-3
    optimizer: str = "rmsprop"
    # "cosine": decays to 0 at the last step (warm-up first, if any).
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    # 0: off. Else evaluation, samples and exports use this moving average of the weights.
    ema_decay: float = 0.0
    strategy: str = "auto"
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 200
    jit_compile: bool = False
    mixed_precision: str = "none"
    num_samples: int = 16
    log_every: int = 20
    max_eval_examples: int = None
    # The split of the periodic evaluations (--eval_every) and of eval_log.jsonl; None: the
    # test split. Long runs select on "validation" and touch the test split once at the end.
    eval_split: str = None
    # Checkpoints the CheckpointManager keeps (the campaign commits its workdirs: 1).
    keep_checkpoints: int = 3
    # A training workdir of the same model whose latest weights (and weight average) a NEW
    # run starts from, with a fresh optimizer, step 0 and its own schedule: e.g. a decay
    # phase appended to a constant-rate run. Ignored once the run has a checkpoint.
    init_from: str = None

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def resolve(model="pixel_cnn", dataset=None, overrides=None, **kwargs):
    """Build a TrainConfig from a registry name or a paper config name plus flag values.

    `overrides`: model constructor arguments given on the command line (num_layers, ...).
    The image shape and number of levels always come from the dataset.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    # The flags' ranges first, before a data set is opened or a paper config looked up.
    validate(TrainConfig(model_config=dict(overrides),
                         **{k: v for k, v in kwargs.items() if v is not None}))
    paper_shape = None
    if model in experiments.names():
        experiment = experiments.get(model)
        model_name, model_config = experiment.model, dict(experiment.model_config)
        paper_shape = tuple(model_config["image_shape"])
        dataset = dataset or experiment.dataset
        # The run's length is one choice: --steps or --epochs on the command line replaces
        # the config's steps or epochs, whichever it gives.
        user_length = any(kwargs.get(k) is not None for k in ("steps", "epochs"))
        for key, value in experiment.train.items():
            if key in ("steps", "epochs") and user_length:
                continue
            if kwargs.get(key) is None:
                kwargs[key] = value
    else:
        try:
            registry.get(model)
        except KeyError as e:
            raise ValueError(f"{e.args[0]} Paper configs: {', '.join(experiments.names())}.")
        model_name = model
        # The small size the model class declares for runs without an experiment config.
        model_config = dict(registry.get(model_name).SMALL_CONFIG)
    dataset = dataset or DEFAULT_DATASET
    spec = data.spec(dataset, image_size=kwargs.get("image_size"))
    if paper_shape is not None and paper_shape != tuple(spec.image_shape):
        raise ValueError(f"Paper config {model!r} is for {paper_shape} images but dataset "
                         f"{dataset!r} has {tuple(spec.image_shape)}.")
    unknown = sorted(set(overrides) - _constructor_arguments(model_name))
    if unknown:
        raise ValueError(f"Model {model_name!r} takes no {', '.join('--' + k for k in unknown)}; "
                         f"its arguments: {', '.join(sorted(_constructor_arguments(model_name)))}.")
    model_config.update(overrides)
    num_classes = model_config.get("num_classes") or 0
    if "num_classes" in overrides:
        import inspect

        if "num_classes" not in inspect.signature(registry.get(model_name).__init__).parameters:
            raise ValueError(f"Model {model_name!r} is not class-conditional; --num_classes "
                             "applies to conditional models (gated_pixel_cnn).")
    if num_classes and num_classes != spec.num_classes:
        raise ValueError(
            f"The model is conditional on {num_classes} classes but data set {dataset!r} has "
            + (f"{spec.num_classes} classes." if spec.num_classes else "no labels."))
    # The image shape and the number of levels are the dataset's, whatever the config said.
    model_config.update(image_shape=list(spec.image_shape), num_levels=spec.num_levels)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    config = TrainConfig(model=model_name, model_config=model_config, dataset=dataset, **kwargs)
    validate(config)
    return config


def _constructor_arguments(model_name):
    import inspect

    params = inspect.signature(registry.get(model_name).__init__).parameters
    return {k for k, p in params.items() if k != "self" and p.kind not in (p.VAR_KEYWORD,
                                                                          p.VAR_POSITIONAL)}


# Model-size arguments a run may override: each must be a positive integer (num_classes: 0
# means unconditional).
_POSITIVE_MODEL_ARGUMENTS = ("num_layers", "units", "output_units", "num_resnet", "num_blocks",
                             "value_size", "num_mixtures", "num_filters")


def validate(config):
    """Every field's type and range, with a one-line ValueError naming the field. Called before
    anything is written or loaded, so a refused run leaves no trace."""
    if config.strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {config.strategy!r}; valid: {', '.join(STRATEGIES)}.")
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {config.optimizer!r}; valid: {', '.join(OPTIMIZERS)}.")
    if config.mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"Unknown mixed_precision {config.mixed_precision!r}; valid: "
                         f"{', '.join(MIXED_PRECISION)}.")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule {config.lr_schedule!r}; valid: "
                         f"{', '.join(LR_SCHEDULES)}.")
    _check_int(config, "batch_size", 1)
    _check_int(config, "steps", 1)
    _check_int(config, "warmup_steps", 0)
    _check_int(config, "seed", 0)
    _check_int(config, "eval_every", 0, "0: only at the end")
    _check_int(config, "checkpoint_every", 0, "0: only at the end")
    _check_int(config, "log_every", 1)
    _check_int(config, "num_samples", 1)
    _check_int(config, "keep_checkpoints", 1)
    if config.max_eval_examples is not None:
        _check_int(config, "max_eval_examples", 1, "omit it to evaluate every image")
    if config.image_size is not None:
        _check_int(config, "image_size", 1)
    if config.epochs is not None and not (_is_number(config.epochs) and config.epochs > 0
                                          and math.isfinite(config.epochs)):
        raise ValueError(f"--epochs must be > 0, got {config.epochs}.")
    if not (_is_number(config.learning_rate) and math.isfinite(config.learning_rate)
            and config.learning_rate > 0):
        raise ValueError(f"--learning_rate must be a finite number > 0, got "
                         f"{config.learning_rate}.")
    if not (config.ema_decay == 0 or 0 < config.ema_decay < 1):
        raise ValueError(f"--ema_decay must be 0 (off) or in (0, 1), got {config.ema_decay}.")
    for key in _POSITIVE_MODEL_ARGUMENTS:
        value = config.model_config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"--{key} must be an integer >= 1, got {value!r}.")
    num_classes = config.model_config.get("num_classes")
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 0):
        raise ValueError(f"--num_classes must be an integer >= 0, got {num_classes!r}.")
    dropout_rate = config.model_config.get("dropout_rate")
    if dropout_rate is not None and not (_is_number(dropout_rate) and 0 <= dropout_rate < 1):
        raise ValueError(f"--dropout_rate must be in [0, 1), got {dropout_rate!r}.")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(config, name, minimum, note=None):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"--{name} must be an integer >= {minimum}"
                         + (f" ({note})" if note else "") + f", got {value!r}.")


def default_workdir(config):
    safe = config.dataset.replace("/", "_").replace(":", "_")
    return os.path.join("workdirs", f"{config.model}_{safe}")
