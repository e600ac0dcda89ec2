"""Tiny variants of every registered model, for tests (seconds on 2 CPU cores).

`tiny_config(name, image_shape, num_levels)` raises KeyError for a registered model that has
no tiny variant, so the conformance tests fail for a model nobody added here.
"""

TINY = {
    "pixel_cnn": dict(num_layers=2, units=12, output_units=48),
    "gated_pixel_cnn": dict(num_layers=2, units=12, output_units=48),
    "pixel_cnn_pp": dict(num_resnet=1, units=8, num_mixtures=2, dropout_rate=0.5),
    "pixel_snail": dict(num_blocks=1, num_resnet=1, units=8, key_size=4, value_size=8,
                        num_mixtures=2, dropout_rate=0.5),
    "row_lstm": dict(num_layers=2, units=12, output_units=48, kernel_size=3),
    "diagonal_bilstm": dict(num_layers=2, units=12, output_units=48),
    "multiscale_pixelrnn": dict(block="row_lstm", small_layers=1, small_units=12,
                                small_output_units=48, num_layers=2, units=12, output_units=48,
                                conditioning_features=8, upsampler_layers=1),
}


def tiny_config(name, image_shape, num_levels):
    if name not in TINY:
        raise KeyError(f"Registered model {name!r} has no tiny variant in models/configs/tiny.py.")
    return dict(TINY[name], image_shape=tuple(image_shape), num_levels=num_levels)
