"""Campaign run: binarized MNIST, Gated PixelCNN (12 layers, 24 units, 5x5), trained long.

The follow-up model of the campaign (issue 17, README "Training campaign"): the goal is to
beat the paper's best binarized-MNIST result (Diagonal BiLSTM, 79.20 nats) with a model that
trains at ~68 images/s alone on 2 CPU cores (266,690 parameters; a 10-step
timing of the training step, batch 32). Same open-ended schedule as the
other campaign runs (CAMPAIGN_TRAIN); its committed workdir is
`models/campaign/campaign_mnist_gated_pixel_cnn/`.
Command: (every campaign run at once, resuming from the committed checkpoints)
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2
or this run alone:
    python -m pixelrnn_tf.train --model=campaign_mnist_gated_pixel_cnn --data_dir=/tmp/tfds \
        --workdir=models/campaign/campaign_mnist_gated_pixel_cnn --max_seconds=3600
Precision: float32 to step 19,706 (epoch 12.6), then mixed_bfloat16, resumed in place with
its optimizer state (a float32 checkpoint is a bfloat16 one: README "Mixed precision"): its
step is 1.55x faster on this CPU (`python docs/benchmarks/campaign_precision.py`, eleventh
session), and the h = 32 PixelCNN trained under it tracked its float32 twin (same seed and
data order) to 0.074 and 0.034 nats of validation NLL at epochs 1 and 2 (91.377 / 91.303,
89.329 / 89.295). Its eval_log.jsonl names the policy of each evaluation after the switch;
the published test NLL is the float32 export's (`evaluate --mixed_precision=none`).
Stopped at step 35,000 (epoch 22.4), in `campaign.PLATEAUED`: its validation NLL stopped
improving (best 80.061 at epoch 18; 80.064, 80.079, 80.088, 80.109 at epochs 19-22) while its
training NLL kept falling (79.95 at epoch 18, 79.23 at 22): it overfits at 266,690
parameters without dropout.
Paper result: none for the Gated PixelCNN on binarized MNIST. Goal: < 79.20 nats.
Ours: README "Training campaign".
"""

from models.configs import CAMPAIGN_TRAIN

MODEL = "gated_pixel_cnn"
DATASET = "binarized_mnist"
MODEL_CONFIG = dict(image_shape=(28, 28, 1), num_levels=2, num_layers=12, units=24,
                    output_units=64, kernel_size=5)
TRAIN = dict(CAMPAIGN_TRAIN, mixed_precision="mixed_bfloat16")
