"""CIFAR-10 SUBSET (../shared/data: 5,085 train / 1,017 test), PixelCNN++, REDUCED size:
1 gated ResNet block per stage (6 stages), 32 filters, 5 logistic components, no dropout
(cifar10_pixel_cnn_pp: 5 blocks per stage, 160 filters, 10 components, dropout 0.5).

Dropout is off because 1000 steps of 16 images is about 3 epochs of the subset: too short to
overfit, and dropout slows early learning.
A CPU-budget run on a subset: its bits/dim are NOT comparable with the paper's full CIFAR-10
results. It has the budget of cifar10_subset_pixel_cnn (1000 steps of 16 images, Adam, cosine
decay, weight averaging), so the rows of README's subset table compare with each other.
Command: (the first line prepares the data offline from ../shared/data, once)
    python -c "from pixelrnn_tf import data; data.prepare_offline_tfds('../shared/data', '/tmp/tfds')"
    python -m pixelrnn_tf.train --model=cifar10_subset_pixel_cnn_pp --data_dir=/tmp/tfds \
        --workdir=workdirs/cifar10_subset_pixel_cnn_pp
Paper result: 2.92 bits/dim on the full CIFAR-10 at paper size (not comparable).
Ours: see README "Pretrained zoo".
"""

from models.configs import SUBSET_TRAIN

MODEL = "pixel_cnn_pp"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_resnet=1, units=32,
                    num_mixtures=5, dropout_rate=0.0)
TRAIN = dict(SUBSET_TRAIN)
