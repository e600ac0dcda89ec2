"""CIFAR-10, unconditional PixelCNN++: 5 gated ResNet blocks per stage (3 stages, two stride-2
downsamplings), 160 filters, a mixture of 10 discretized logistics, dropout 0.5 (Salimans et
al. 2017, Section 3; the defaults of the paper's code, openai/pixel-cnn train.py).

Training as in the paper's code where the trainer allows: Adam at 1e-3, batch 128 (16 per GPU
on 8 GPUs), Polyak averaging of the weights with decay 0.9995 for evaluation. Not reproduced:
its per-step learning-rate decay of 0.999995 (the trainer has constant and cosine
schedules), its Adam moments (0.95, 0.9995; Keras defaults here) and its weight
normalization with data-dependent initialization (see GatedResNetBlock).

Command:
    python -m pixelrnn_tf.train --model=cifar10_pixel_cnn_pp --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_pixel_cnn_pp
Paper result: 2.92 bits/dim test (Table 1; about 5 days on 8 TITAN X GPUs).
"""

MODEL = "pixel_cnn_pp"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_resnet=5, units=160,
                    num_mixtures=10, dropout_rate=0.5)
TRAIN = dict(batch_size=128, optimizer="adam", learning_rate=1e-3, ema_decay=0.9995)
