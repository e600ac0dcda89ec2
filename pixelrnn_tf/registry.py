"""Name -> model class registry: the library's core registry, which the zoo (`models/`)
registers into when it is imported (as TF Model Garden's core registry). The library never
imports the zoo; the command-line entry modules do, to fill this registry."""

_REGISTRY = {}

# Where each built-in name is defined, so an unknown name can say which import is missing.
BUILTIN_MODULES = {
    "pixel_cnn": "models.pixel_cnn",
    "gated_pixel_cnn": "models.gated_pixel_cnn",
    "pixel_cnn_pp": "models.pixel_cnn_pp",
    "pixel_snail": "models.pixel_snail",
    "row_lstm": "models.row_lstm",
    "diagonal_bilstm": "models.diagonal_bilstm",
    "multiscale_pixelrnn": "models.multiscale_pixelrnn",
}


def register(name):
    """Class decorator: register a model class under `name`; a second `name` is an error."""

    def decorator(cls):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is already registered to "
                             f"{_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}; "
                             f"cannot register {cls.__module__}.{cls.__qualname__}.")
        _REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return decorator


def names():
    return sorted(_REGISTRY)


def get(name):
    """The model class registered as `name`."""
    if name not in _REGISTRY:
        hint = ""
        if name in BUILTIN_MODULES:
            hint = f" It is defined in {BUILTIN_MODULES[name]}: import that module (or `models`)."
        raise KeyError(f"Unknown model {name!r}. Registered models: {', '.join(names()) or 'none'}."
                       + hint)
    return _REGISTRY[name]


def build(name, **config):
    """Instantiate and build the model registered as `name` with constructor `config`."""
    model = get(name)(**config)
    model.build((None,) + model.image_shape)
    return model
