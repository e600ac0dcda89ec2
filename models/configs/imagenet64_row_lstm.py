"""ImageNet 64x64, Row LSTM, 4 layers, h = 512, WITHOUT residual connections, output 1024.

Command:
    python -m pixelrnn_tf.train --model=imagenet64_row_lstm \
        --dataset=imagenet_resized/64x64 --data_dir=/path/to/tfds --workdir=workdirs/in64
Paper result: 3.63 bits/dim validation (3.57 train), the paper's Table 6 (that table is not
in the project's seed copy of the paper; quoted from the published paper).
"""

MODEL = "row_lstm"
DATASET = "imagenet_resized/64x64"
MODEL_CONFIG = dict(image_shape=(64, 64, 3), num_levels=256, num_layers=4, units=512,
                    output_units=1024, kernel_size=3, residual=False)
TRAIN = dict(batch_size=32, optimizer="rmsprop", learning_rate=1e-3)
