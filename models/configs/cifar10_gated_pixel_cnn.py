"""CIFAR-10, unconditional Gated PixelCNN: 15 gated layers, 128 features per stack, 5 x 5
filters, output 1024 maps (van den Oord et al. 2016, Table 1).

The paper does not list its CIFAR-10 hyperparameters: depth, width and output maps follow
the PixelCNN of Table 5 of the PixelRNN paper (cifar10_pixel_cnn), the 5 x 5 filters the
paper's ImageNet models.

Command:
    python -m pixelrnn_tf.train --model=cifar10_gated_pixel_cnn --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_gated_pixel_cnn
Paper result: 3.03 bits/dim test (2.90 train) (Table 1).
"""

MODEL = "gated_pixel_cnn"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=15, units=128,
                    output_units=1024, kernel_size=5)
TRAIN = dict(batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
