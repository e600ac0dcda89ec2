"""Campaign run: binarized MNIST, Diagonal BiLSTM, the architecture of `mnist_diagonal_bilstm`, trained long.

The resumable background campaign (issue 17, README "Training campaign"): the network of
`models/configs/mnist_diagonal_bilstm.py` with the campaign's open-ended schedule (CAMPAIGN_TRAIN: constant
learning rate with a weight average, selected on the validation split once per epoch), so that
stopping after any session still leaves a good model. Its workdir, committed, is
`models/campaign/campaign_mnist_diagonal_bilstm/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone, as any config:
    python -m pixelrnn_tf.train --model=campaign_mnist_diagonal_bilstm --data_dir=/tmp/tfds \
        --workdir=models/campaign/campaign_mnist_diagonal_bilstm --max_seconds=3600
Precision: float32 to step 31,090 (epoch 19.9), then mixed_bfloat16, resumed in place with
its optimizer state (README "Mixed precision"), as the Gated run: its step is 1.19x faster on
this CPU (0.419 -> 0.352 s; `python docs/benchmarks/campaign_precision.py
campaign_mnist_diagonal_bilstm`, thirteenth session), and the step-31,090 checkpoint
evaluates to 80.8726 nats under it against 80.8699 in float32 (`evaluate --split=validation
--max_examples=2000`). The published test NLL is the float32 export's.
On a CPU without bfloat16 instructions the campaign trains it in float32 instead
(`--mixed_precision=auto`, README "Mixed precision": emulated bfloat16 was 7.7x slower on the
fifteenth session's AVX2-only machine); it did so there from step 38,147.
Paper result: 79.20 nats (Table 4). Goal: <= 80.20 nats.
Ours: README "Training campaign" (epochs reached and validation NLL per session).
"""

from models.configs import CAMPAIGN_TRAIN
from models.configs.mnist_diagonal_bilstm import DATASET, MODEL, MODEL_CONFIG  # noqa: F401

# 31 epochs, not the campaign's open-ended 300: the run reached its goal at epoch 25.5 (test
# 79.404, mnist_diagonal_bilstm/6) and had flattened to -0.02 nats per epoch (validation 79.683
# at epoch 29, 79.666 at 30); it passed the 30 epochs before it could be stopped there,
# so it ends at the next whole epoch (evaluated on validation and test at the end) and leaves
# the CPU to the runs still short of 30.
TRAIN = dict(CAMPAIGN_TRAIN, mixed_precision="mixed_bfloat16", epochs=31)
