"""The zoo's view of the library's model registry (pixelrnn_tf.registry), kept so that
`from models import registry; @registry.register(...)` and old imports keep working."""

from pixelrnn_tf.registry import BUILTIN_MODULES, _REGISTRY, build, get, names, register  # noqa: F401
