"""CIFAR-10 SUBSET (../shared/data: 5,085 train / 1,017 test), Gated PixelCNN, REDUCED size:
6 gated layers, h = 32, output layers 128 maps, 5 x 5 filters (cifar10_gated_pixel_cnn: 15
layers, h = 128, 1024 maps); unconditional.

A CPU-budget run on a subset: its bits/dim are NOT comparable with the paper's full CIFAR-10
results. It has the budget of cifar10_subset_pixel_cnn (1000 steps of 16 images, Adam, cosine
decay, weight averaging) and the same depth and widths, so the rows of README's subset table
compare with each other.
Command: (the first line prepares the data offline from ../shared/data, once)
    python -c "from pixelrnn_tf import data; data.prepare_offline_tfds('../shared/data', '/tmp/tfds')"
    python -m pixelrnn_tf.train --model=cifar10_subset_gated_pixel_cnn --data_dir=/tmp/tfds \
        --workdir=workdirs/cifar10_subset_gated_pixel_cnn
Paper result: 3.03 bits/dim on the full CIFAR-10 at paper size (not comparable).
Ours: see README "Pretrained zoo".
"""

from models.configs import SUBSET_TRAIN

MODEL = "gated_pixel_cnn"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=6, units=32,
                    output_units=128, kernel_size=5)
TRAIN = dict(SUBSET_TRAIN)
