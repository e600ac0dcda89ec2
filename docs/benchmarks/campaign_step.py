"""Training-step time of the campaign runs, this code against the code paths it replaced,
side by side in one process, one TF thread (as each campaign run trains). Prints a table.

    python docs/benchmarks/campaign_step.py [--steps=8] [--runs=campaign_mnist_row_lstm,...]

Replaced paths, restored here by patching: the Row LSTM's while_loop over rows (now unrolled
at a known height), the Diagonal BiLSTM's while_loop sweep over all H rows of every diagonal
(now unrolled bands of the rows inside the image), and the strided-slice down shift of the
Gated PixelCNN's vertical stack (now pad + tf.slice). Each variant builds its own step;
variants alternate in rounds so that the machine's drift hits them alike.
"""

import contextlib
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("steps", 8, "Timed steps per variant and round.")
flags.DEFINE_integer("rounds", 2, "Rounds of alternation.")
flags.DEFINE_list("runs", ["campaign_mnist_row_lstm", "campaign_mnist_multiscale_row_lstm",
                           "campaign_mnist_diagonal_bilstm", "campaign_mnist_gated_pixel_cnn"],
                  "Campaign runs to time.")
FLAGS = flags.FLAGS


@contextlib.contextmanager
def replaced_paths():
    """The code paths before the tenth session, for every layer at once."""
    import tensorflow as tf

    from pixelrnn_tf.bench_train import _while_loop_sweep
    from pixelrnn_tf.layers import gated_pixel_cnn_layer, row_lstm

    unrolled, shift = row_lstm.RowLSTM._rows_unrolled, gated_pixel_cnn_layer.down_shift
    row_lstm.RowLSTM._rows_unrolled = row_lstm.RowLSTM._rows_loop
    gated_pixel_cnn_layer.down_shift = (
        lambda x: tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]]))
    try:
        with _while_loop_sweep(True):
            yield
    finally:
        row_lstm.RowLSTM._rows_unrolled, gated_pixel_cnn_layer.down_shift = unrolled, shift


def build_step(run, old):
    import numpy as np
    import tensorflow as tf

    from pixelrnn_tf.training import config as config_lib, trainer

    config = config_lib.resolve(run, None, overrides={}, workdir=tempfile.mkdtemp())
    images = tf.constant((np.random.default_rng(0).random(
        (config.batch_size,) + tuple(config.model_config["image_shape"])) < 0.2)
        .astype(np.float32))
    with replaced_paths() if old else contextlib.nullcontext():
        t = trainer.Trainer(config, tempfile.mkdtemp())
        t.train_step(images)  # traces (and so fixes the code path) inside the context
    return lambda: t.train_step(images), config.batch_size


def main(argv):
    del argv
    import numpy as np

    import models  # noqa: F401  (fills the registry)
    from pixelrnn_tf.bench_train import machine

    print(f"# campaign training steps, one thread, {FLAGS.steps} steps x {FLAGS.rounds} rounds "
          f"per variant; {machine()}")
    print("| run | batch | this code s/step | replaced paths s/step | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for run in FLAGS.runs:
        steps = {name: build_step(run, name == "old") for name in ("new", "old")}
        times = {name: [] for name in steps}
        for _ in range(FLAGS.rounds):
            for name, (step, _) in steps.items():
                step()  # warm-up after the other variant ran
                for _ in range(FLAGS.steps):
                    start = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - start)
        new, old = (float(np.median(times[n])) for n in ("new", "old"))
        print(f"| {run} | {steps['new'][1]} | {new:.3f} | {old:.3f} | {old / new:.2f}x |",
              flush=True)


if __name__ == "__main__":
    app.run(main)
