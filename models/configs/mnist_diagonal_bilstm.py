"""Binarized MNIST, Diagonal BiLSTM, 7 layers, h = 16, output layers 32 maps (paper Table 4).

Command: (the first line prepares the data offline from ../shared/data, once)
    python -c "from pixelrnn_tf import data; data.prepare_offline_tfds('../shared/data', '/tmp/tfds')"
    python -m pixelrnn_tf.train --model=mnist_diagonal_bilstm --data_dir=/tmp/tfds \
        --workdir=workdirs/mnist_diagonal_bilstm
Paper result: 79.20 nats test NLL (Table 4).
Ours: see README "Pretrained zoo" (CPU budget of 2000 steps; the paper trained to convergence
on GPUs with RMSProp).
"""

MODEL = "diagonal_bilstm"
DATASET = "binarized_mnist"
MODEL_CONFIG = dict(image_shape=(28, 28, 1), num_levels=2, num_layers=7, units=16,
                    output_units=32)
# The zoo's small-budget recipe (README "Pretrained zoo"): Adam, warm-up, cosine decay to 0,
# evaluation with an exponential moving average of the weights.
TRAIN = dict(batch_size=32, optimizer="adam", learning_rate=1e-3, lr_schedule="cosine",
             warmup_steps=200, ema_decay=0.999, steps=2000, checkpoint_every=250,
             log_every=50)
