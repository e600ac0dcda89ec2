"""Binarized MNIST, Multi-Scale Row LSTM PixelRNN (section 3.6), 14x14 + 28x28.

An unconditional 14x14 Row LSTM (7 layers, h = 16) models x[::2, ::2]; a conditional 28x28
Row LSTM (7 layers, h = 16) biased by a 1x1 conv of 16 upsampled maps models the rest. The
paper reports no MNIST number for the multi-scale network.
Command: (the first line prepares the data offline from ../shared/data, once)
    python -c "from pixelrnn_tf import data; data.prepare_offline_tfds('../shared/data', '/tmp/tfds')"
    python -m pixelrnn_tf.train --model=mnist_multiscale_row_lstm --data_dir=/tmp/tfds \
        --workdir=workdirs/mnist_multiscale_row_lstm
Paper result: none for this network on MNIST (the Table 4 best is 79.20 nats).
Ours: see README "Pretrained zoo" (CPU budget of 3000 steps).
"""

MODEL = "multiscale_pixelrnn"
DATASET = "binarized_mnist"
MODEL_CONFIG = dict(image_shape=(28, 28, 1), num_levels=2, block="row_lstm", small_layers=7,
                    small_units=16, small_output_units=32, num_layers=7, units=16,
                    output_units=32, conditioning_features=16, kernel_size=3)
# The zoo's small-budget recipe (README "Pretrained zoo"): Adam, warm-up, cosine decay to 0,
# evaluation with an exponential moving average of the weights.
TRAIN = dict(batch_size=32, optimizer="adam", learning_rate=1e-3, lr_schedule="cosine",
             warmup_steps=200, ema_decay=0.999, steps=3000, checkpoint_every=250,
             log_every=50)
