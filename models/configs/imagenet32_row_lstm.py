"""ImageNet 32x32, Row LSTM, 12 layers, h = 384, output layers 1024 maps.

Command:
    python -m pixelrnn_tf.train --model=imagenet32_row_lstm \
        --dataset=imagenet_resized/32x32 --data_dir=/path/to/tfds --workdir=workdirs/in32
Paper result: 3.86 bits/dim validation (3.83 train), the paper's Table 6 (that table is not
in the project's seed copy of the paper; quoted from the published paper).
"""

MODEL = "row_lstm"
DATASET = "imagenet_resized/32x32"
MODEL_CONFIG = dict(image_shape=(32, 32, 3), num_levels=256, num_layers=12, units=384,
                    output_units=1024, kernel_size=3)
TRAIN = dict(batch_size=64, optimizer="rmsprop", learning_rate=1e-3)
