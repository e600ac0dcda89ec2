"""CIFAR-10, unconditional PixelSNAIL: 12 blocks of 4 gated residual blocks (2 x 2
down-right-shifted convolutions, elu) and a causal attention (key 16, value 128), 256
filters, a mixture of 10 discretized logistics, dropout 0.5 (Chen et al. 2018; the paper's
code, neocxi/pixelsnail-public: model h12_noup_smallkey with train.py's defaults
nr_resnet=4, resnet_nonlinearity=elu and its README's CIFAR-10 command).

Training as in the paper's code where the trainer allows: Adam at 1e-3, Polyak averaging of
the weights with decay 0.9995 for evaluation. Not reproduced: its batch (8 per GPU times
the GPUs of its multi-GPU runs; 32 here, the trainer's default), its per-step learning-rate decay of 0.999998 (the trainer has
constant and cosine schedules), its Adam moments (0.95, 0.9995; Keras defaults here) and its
weight normalization with data-dependent initialization (see GatedResNetBlock).

Command:
    python -m pixelrnn_tf.train --model=cifar10_pixel_snail --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_pixel_snail
Paper result: 2.85 bits/dim test (Table 1).
"""

MODEL = "pixel_snail"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_blocks=12, num_resnet=4,
                    units=256, key_size=16, value_size=128, num_heads=1, num_mixtures=10,
                    dropout_rate=0.5, nonlinearity="elu")
TRAIN = dict(batch_size=32, optimizer="adam", learning_rate=1e-3, ema_decay=0.9995)
