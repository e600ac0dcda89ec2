"""pixelrnn_tf: autoregressive image models (PixelRNN, PixelCNN) in TensorFlow / Keras 3."""

import os

# Keras 3 reads the backend once, at first import; refuse anything but TensorFlow before any
# layer is defined, because the recurrent layers use tf.while_loop and TensorArray directly.
_backend = os.environ.get("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        f"pixelrnn_tf needs the Keras TensorFlow backend, but KERAS_BACKEND={_backend!r}. "
        "Unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow."
    )

from pixelrnn_tf import _quiet  # noqa: E402  (no TensorFlow import: must run before it)

with _quiet.setup():  # the CLIs hide TensorFlow's C++ log lines unless --verbose
    import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"pixelrnn_tf needs the Keras TensorFlow backend, but Keras is using "
        f"{keras.backend.backend()!r} (from ~/.keras/keras.json or KERAS_BACKEND). "
        "Set KERAS_BACKEND=tensorflow."
    )

__version__ = "0.1.0"
