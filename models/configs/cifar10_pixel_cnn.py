"""CIFAR-10, PixelCNN, 15 residual layers, h = 128, 3 x 3 mask-B, output 1024 maps (Table 5).

Command:
    python -m pixelrnn_tf.train --model=cifar10_pixel_cnn --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_pixel_cnn
Paper result: 3.14 bits/dim test (3.08 train) (Table 5).
"""

MODEL = "pixel_cnn"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=15, units=128,
                    output_units=1024, kernel_size=3)
TRAIN = dict(batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
