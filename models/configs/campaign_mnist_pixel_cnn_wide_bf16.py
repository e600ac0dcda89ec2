"""Campaign run: binarized MNIST, PixelCNN at 15 layers and h = 32, trained under mixed_bfloat16.

The network of `campaign_mnist_pixel_cnn_wide` (235,618 parameters), which it replaces after
that run's first 2 epochs (91.303 and 89.295 nats of validation NLL at epochs 1 and 2): its
training step is 1.53x faster under the `mixed_bfloat16` policy on this CPU (oneDNN on
AVX512_BF16 / AMX; float32 variables, optimizer state, logits and likelihood; 0.556 against
0.363 s per step, one thread, batch 32, the two policies alternating in one process;
`python docs/benchmarks/campaign_precision.py`, eleventh session, the campaign running at
nice 19 beside it), and the run has about 28 of its 30 epochs to go. Same open-ended schedule
(CAMPAIGN_TRAIN). Its validation NLL is computed under the same policy, and the exported
SavedModel is float32 (README "Mixed precision"): the published metadata has both.
On a CPU without bfloat16 instructions the campaign trains it in float32 instead
(`--mixed_precision=auto`, README "Mixed precision": emulated bfloat16 was 7.7x slower on the
fifteenth session's AVX2-only machine); it did so there from step 31,043.
Its committed workdir is `models/campaign/campaign_mnist_pixel_cnn_wide_bf16/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone:
    python -m pixelrnn_tf.train --model=campaign_mnist_pixel_cnn_wide_bf16 --data_dir=/tmp/tfds \
        --workdir=models/campaign/campaign_mnist_pixel_cnn_wide_bf16 --max_seconds=3600
Paper result: 81.30 nats (Table 4). Goal: <= 82.30 nats (within 1 nat of Table 4).
Ours: README "Training campaign".
"""

from models.configs import CAMPAIGN_TRAIN
from models.configs.campaign_mnist_pixel_cnn_wide import DATASET, MODEL, MODEL_CONFIG  # noqa: F401

TRAIN = dict(CAMPAIGN_TRAIN, mixed_precision="mixed_bfloat16")
