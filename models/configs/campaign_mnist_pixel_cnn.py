"""Campaign run: binarized MNIST, PixelCNN, the architecture of `mnist_pixel_cnn`, trained long.

The resumable background campaign (issue 17, README "Training campaign"): the network of
`models/configs/mnist_pixel_cnn.py` with the campaign's open-ended schedule (CAMPAIGN_TRAIN: constant
learning rate with a weight average, selected on the validation split once per epoch), so that
stopping after any session still leaves a good model. Its workdir, committed, is
`models/campaign/campaign_mnist_pixel_cnn/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone, as any config:
    python -m pixelrnn_tf.train --model=campaign_mnist_pixel_cnn --data_dir=/tmp/tfds \
        --workdir=models/campaign/campaign_mnist_pixel_cnn --max_seconds=3600
Paper result: 81.30 nats (Table 4). Goal: <= 82.30 nats (within 1 nat of Table 4).
Ours: README "Training campaign" (epochs reached and validation NLL per session).
"""

from models.configs import CAMPAIGN_TRAIN
from models.configs.mnist_pixel_cnn import DATASET, MODEL, MODEL_CONFIG  # noqa: F401

TRAIN = dict(CAMPAIGN_TRAIN)
