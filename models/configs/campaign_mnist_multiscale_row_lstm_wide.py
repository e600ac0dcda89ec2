"""Campaign run: binarized MNIST, Multi-Scale Row LSTM PixelRNN with a wider small network and a deeper upsampler.

Why: the first Multi-Scale run (`campaign_mnist_multiscale_row_lstm`, both networks 7 layers,
h = 16) stayed 1.5 nats above the Row LSTM at the same epoch (84.05 against 82.56 validation
at epoch 15), and the power law fitted to its curve (epochs 4-15; `python -m
pixelrnn_tf.campaign --report`, eleventh session) gives 83.34 at 30 epochs, against 81.77 for
the Row LSTM's (epochs 4-24): it would not get below it. Splitting the validation NLL
(first 2,000 images; `python docs/benchmarks/multiscale_parts.py`, eleventh session) into
x[::2, ::2] and the rest: at its last step, 24,003, the small image
costs it 31.16 nats and the rest given it 53.70; the Row LSTM (step 37,500) pays 20.74 at
those positions and 62.15 for the rest. The conditional network gains 8.45 nats from the small
image, the small network loses 10.42. One epoch (1,500 steps, batch 32, seed 0, one thread)
of two cheap changes, each alone (`python docs/benchmarks/multiscale_ablation.py`, same
session; first 2,000 validation images):
- the small network at h = 32 instead of 16 (7 layers; the 14 x 14 images x[::2, ::2]
  alone): 33.23 against 35.06 nats;
- three residual 3 x 3 convolutions at the small scale in the upsampler (`upsampler_layers`),
  so that a position of the conditioning map sees 4 small rows below it, not 1: the rest
  given the small image 56.10 against 56.93 nats, at the same step time.
The conditional network stays the paper's MNIST size (7 layers, h = 16). The open-ended
schedule of every campaign run (CAMPAIGN_TRAIN).
Its committed workdir is `models/campaign/campaign_mnist_multiscale_row_lstm_wide/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone:
    python -m pixelrnn_tf.train --model=campaign_mnist_multiscale_row_lstm_wide \
        --data_dir=/tmp/tfds --workdir=models/campaign/campaign_mnist_multiscale_row_lstm_wide \
        --max_seconds=3600
Precision: float32 to step 14,447 (epoch 9.2), then mixed_bfloat16, resumed in place with
its optimizer state (README "Mixed precision"): its step is 1.17x faster on this CPU
(0.407 -> 0.349 s; `python docs/benchmarks/campaign_precision.py
campaign_mnist_multiscale_row_lstm_wide`, thirteenth session), and the step-14,447
checkpoint evaluates to 83.9674 nats under it against 83.9656 in float32 (`evaluate
--split=validation --max_examples=2000`). The published test NLL is the float32 export's.
On a CPU without bfloat16 instructions the campaign trains it in float32 instead
(`--mixed_precision=auto`, README "Mixed precision": emulated bfloat16 was 7.7x slower on the
fifteenth session's AVX2-only machine); it did so there from step 22,063.
Paper result: none on MNIST. Goal: below the campaign's Row LSTM.
Ours: README "Training campaign".
"""

from models.configs import CAMPAIGN_TRAIN
from models.configs.mnist_multiscale_row_lstm import DATASET, MODEL  # noqa: F401
from models.configs.mnist_multiscale_row_lstm import MODEL_CONFIG as _H16

MODEL_CONFIG = dict(_H16, small_units=32, upsampler_layers=3)
TRAIN = dict(CAMPAIGN_TRAIN, mixed_precision="mixed_bfloat16")
