"""ImageNet 64x64, Multi-Scale Row LSTM PixelRNN (paper section 3.6, Figure 8).

An unconditional 32x32 Row LSTM (the paper's ImageNet-32 size: 12 layers, h = 384) models
x[::2, ::2]; a conditional 64x64 Row LSTM (the ImageNet-64 size: 4 layers, h = 512, no
residuals) is biased in every layer by a 1 x 1 conv of a 64-map upsampled conditioning map.
The paper gives no layer sizes for its multi-scale network; these are the two single-scale
ImageNet networks it does specify, with c = 64 upsampled maps chosen here.

Command:
    python -m pixelrnn_tf.train --model=imagenet64_multiscale_row_lstm \
        --dataset=imagenet_resized/64x64 --data_dir=/path/to/tfds --workdir=workdirs/ms64
Paper result: no separate number is reported for the multi-scale model (Figure 8 shows
samples); the single-scale 64x64 Row LSTM has 3.63 bits/dim (Table 6).
"""

MODEL = "multiscale_pixelrnn"
DATASET = "imagenet_resized/64x64"
MODEL_CONFIG = dict(image_shape=(64, 64, 3), num_levels=256, block="row_lstm",
                    small_layers=12, small_units=384, small_output_units=1024,
                    num_layers=4, units=512, output_units=1024, conditioning_features=64,
                    kernel_size=3, residual=False)
TRAIN = dict(batch_size=32, optimizer="rmsprop", learning_rate=1e-3)
