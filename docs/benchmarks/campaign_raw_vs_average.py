"""Validation NLL of a campaign run's latest committed checkpoint with its raw weights and
with its weight average (the campaign's choice of a constant rate plus an average):

    python docs/benchmarks/campaign_raw_vs_average.py --data_dir=/tmp/tfds RUN [RUN ...]
"""
import sys

import models  # noqa: F401  (fills the registry)
from pixelrnn_tf import data
from pixelrnn_tf.campaign import CAMPAIGN_DIR
from pixelrnn_tf.training import trainer as trainer_lib, workdir as workdir_lib

args = [a for a in sys.argv[1:] if not a.startswith("--data_dir=")]
data_dir = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--data_dir=")),
                "/tmp/tfds")
images = data.load_split("binarized_mnist", "validation", data_dir)
for run in args:
    workdir = f"{CAMPAIGN_DIR}/{run}"
    config = workdir_lib.load_config(workdir)
    trainer = trainer_lib.Trainer(config, workdir)
    latest = trainer.restore()
    raw = trainer_lib.evaluate(trainer.model, images)["nll_nats"]
    trainer.weight_average.copy_to_model()
    averaged = trainer_lib.evaluate(trainer.model, images)["nll_nats"]
    print(f"{run} {latest.rsplit('-', 1)[-1]}: raw {raw:.3f}, averaged {averaged:.3f} "
          f"({averaged - raw:+.3f}) nats on {len(images)} validation images", flush=True)
