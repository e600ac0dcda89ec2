"""CIFAR-10, Row LSTM, 12 layers, h = 128, k = 3, output layers 1024 maps (paper Table 5).

Command:
    python -m pixelrnn_tf.train --model=cifar10_row_lstm --dataset=cifar10 \
        --data_dir=/tmp/tfds --workdir=workdirs/cifar10_row_lstm
Paper result: 3.07 bits/dim test (3.00 train) (Table 5).
"""

MODEL = "row_lstm"
DATASET = "cifar10"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=12, units=128,
                    output_units=1024, kernel_size=3)
TRAIN = dict(batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
