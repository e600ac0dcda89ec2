"""SingleScaleModel: one PixelRNNNetwork over the whole image, in raster order."""

from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.networks.pixel_rnn_network import PixelRNNNetwork
from pixelrnn_tf.sampling.stages import NetworkStage


class SingleScaleModel(AutoregressiveModel):
    """Base of the single-scale zoo models; subclasses fix `BLOCK`."""

    BLOCK = None
    SMALL_CONFIG = dict(num_layers=5, units=32, output_units=128)

    def __init__(self, image_shape, num_levels, num_layers=2, units=8, output_units=32,
                 kernel_size=3, residual=True, skip=True, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.output_units = int(output_units)
        self.kernel_size = int(kernel_size)
        self.residual = bool(residual)
        self.skip = bool(skip)

    def build(self, input_shape=None):
        self.network = PixelRNNNetwork(
            self.image_shape[-1], self.num_levels, self.BLOCK, self.num_layers, self.units,
            self.output_units, self.kernel_size, self.residual, self.skip, name="network",
            dtype=self.dtype_policy)
        self.network.build((None,) + self.image_shape)

    def logits(self, scaled):
        return self.network(scaled)

    def sampling_stages(self, conditioning=None):
        """One pixel at a time from the network's per-layer caches."""
        return [NetworkStage(self.network, self.scale, self.image_shape)]

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, units=self.units,
                      output_units=self.output_units, kernel_size=self.kernel_size,
                      residual=self.residual, skip=self.skip)
        return config
