"""A/B in one process: the codec's per-pixel calls through tf.function dispatch (old) vs the
cached concrete functions (new); mnist_pixel_cnn, 3 images, encode incl. the probe walk."""
import time
import numpy as np, models  # noqa: F401
from pixelrnn_tf import compression
from pixelrnn_tf.training import restore

model, where = restore.load_model("mnist_pixel_cnn", "models/pretrained")
images = np.random.default_rng(0).integers(0, 2, (3, 28, 28, 1)).astype(np.uint8)
new_call = compression.Stepper._call
old_call = lambda self, function, key, *args: function(*args)  # noqa: E731
out, times = {}, {"old": [], "new": []}
for name, call in (("old", old_call), ("new", new_call)):  # warm both traces
    compression.Stepper._call = call
    out[name] = compression.encode(model, images, source={"zoo": where["zoo"]})
assert out["old"] == out["new"]
for _ in range(3):
    for name, call in (("old", old_call), ("new", new_call)):
        compression.Stepper._call = call
        t = time.perf_counter()
        compression.encode(model, images, source={"zoo": where["zoo"]})
        times[name].append(time.perf_counter() - t)
for name in times:
    print(name, " ".join(f"{x:.2f}" for x in times[name]), "s")
print("ratio of medians", np.median(times["old"]) / np.median(times["new"]))
