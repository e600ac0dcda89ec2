"""Campaign run: the PixelCNN's decay phase, appended to `campaign_mnist_pixel_cnn`.

The constant-rate PixelCNN run all but stopped improving after 30 epochs (0.03 nat per
epoch, README "Training campaign"). This run starts from its committed checkpoint (weights
and weight average, `init_from`; a fresh Adam) and decays the rate from the same 1e-3 to 0
with a cosine over 10 epochs (15,630 steps), the usual last gain of a constant-rate run.
Its committed workdir is `models/campaign/campaign_mnist_pixel_cnn_decay/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone:
    python -m pixelrnn_tf.train --model=campaign_mnist_pixel_cnn_decay --data_dir=/tmp/tfds \
        --workdir=models/campaign/campaign_mnist_pixel_cnn_decay --max_seconds=3600
Paper result: 81.30 nats (Table 4). Goal: <= 82.30 nats (within 1 nat of Table 4).
Ours: README "Training campaign".
"""

import os

from models.configs import CAMPAIGN_TRAIN
from models.configs.mnist_pixel_cnn import DATASET, MODEL, MODEL_CONFIG  # noqa: F401

_CAMPAIGN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "campaign")
TRAIN = dict(CAMPAIGN_TRAIN, lr_schedule="cosine", warmup_steps=200, epochs=10,
             init_from=os.path.join(_CAMPAIGN, "campaign_mnist_pixel_cnn"))
