"""Binarized MNIST, Diagonal BiLSTM, 7 layers, h = 16, output layers 32 maps (paper Table 4).

Command:
    python -m pixelrnn_tf.train --config=mnist_diagonal_bilstm --dataset=binarized_mnist \
        --data_dir=/tmp/tfds --workdir=workdirs/mnist_diagonal_bilstm
Paper result: 79.20 nats test NLL (Table 4).
"""

MODEL = "diagonal_bilstm"
DATASET = "binarized_mnist"
MODEL_CONFIG = dict(image_shape=(28, 28, 1), num_levels=2, num_layers=7, units=16,
                    output_units=32)
TRAIN = dict(batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
