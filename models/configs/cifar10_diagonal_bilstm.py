"""CIFAR-10, Diagonal BiLSTM, 12 layers, h = 128, output layers 1024 maps (paper Table 5).

Command:
    python -m pixelrnn_tf.train --model=cifar10_diagonal_bilstm --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_diagonal_bilstm
Paper result: 3.00 bits/dim test (2.93 train) (Table 5).
"""

MODEL = "diagonal_bilstm"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=12, units=128,
                    output_units=1024)
TRAIN = dict(batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
