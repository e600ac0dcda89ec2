"""Campaign run: the Gated PixelCNN run continued with dropout 0.2, against its overfitting.

`campaign_mnist_gated_pixel_cnn` (12 layers, 24 units, 5x5; 266,690 parameters) stopped
improving at 80.061 nats validation (epoch 18) and was stopped at step 35,000 (`PLATEAUED`).
Its weights there fit the training set far better than held-out images: 77.953 nats on the
first 5,000 training images against 80.123 on the 10,000 validation images (averaged weights,
float32; `python -m pixelrnn_tf.evaluate --split=train --max_examples=5000` and
`--split=validation` on a copy of its workdir, sixteenth session). This run starts from that
checkpoint (weights and weight average, `init_from`; a fresh Adam with the campaign's warm-up)
with dropout 0.2 on every layer's horizontal residual path (`dropout_rate`; the weights are the
same, only training changes), aiming at the follow-up goal: below the paper's best, 79.20.
Its first 782 steps (evaluated every 782 then) cost 0.4 nats of validation NLL (80.538 at
half an epoch: the fresh optimizer and the new noise), so judge it after a few epochs.
Its epochs 1-5: 80.438, 80.298, 80.209, 80.147, 80.111 (nineteenth session).
Its committed workdir is `models/campaign/campaign_mnist_gated_pixel_cnn_dropout/`; its
epochs count on from its source's 22.4 (`campaign.start_epoch`).
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone:
    python -m pixelrnn_tf.train --model=campaign_mnist_gated_pixel_cnn_dropout \
        --data_dir=/tmp/tfds --workdir=models/campaign/campaign_mnist_gated_pixel_cnn_dropout \
        --max_seconds=3600
Precision: float32 (the source's switch to mixed_bfloat16 paid off only on CPUs with bfloat16
instructions; `--mixed_precision=auto` would keep it float32 elsewhere anyway).
Paper result: none for the Gated PixelCNN on binarized MNIST. Goal: < 79.20 nats.
Ours: README "Training campaign".
"""

import os

from models.configs import CAMPAIGN_TRAIN
from models.configs.campaign_mnist_gated_pixel_cnn import DATASET, MODEL  # noqa: F401
from models.configs.campaign_mnist_gated_pixel_cnn import MODEL_CONFIG as _SOURCE_MODEL

_CAMPAIGN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "campaign")
MODEL_CONFIG = dict(_SOURCE_MODEL, dropout_rate=0.2)
# Ends at its own epoch 8 (step 12,500), 30.4 epochs with its source's: its gains shrank to
# 0.036 nats by its fifth epoch (80.111; its source's best was 80.061), so the 30
# epochs, not the goal, end it.
TRAIN = dict(CAMPAIGN_TRAIN, epochs=8,
             init_from=os.path.join(_CAMPAIGN, "campaign_mnist_gated_pixel_cnn"))
