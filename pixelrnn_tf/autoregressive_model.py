"""AutoregressiveModel: the base of every model in the zoo, with the likelihood API."""

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import likelihood


class AutoregressiveModel(keras.Model):
    """p(x) = prod_k p(x_k | x_<k) over the sub-pixels of an (H, W, C) image of `num_levels`.

    `call(images)` takes pixel values (any numeric dtype: floats let tests differentiate
    through the input) and returns logits (B, H, W, C, num_levels). Subclasses implement
    `logits(scaled)` on images scaled to [-1, 1] and may override `ordering()`.
    """

    def __init__(self, image_shape, num_levels, **kwargs):
        super().__init__(**kwargs)
        image_shape = tuple(int(d) for d in image_shape)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}.")
        if num_levels < 2:
            raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
        self.image_shape = image_shape
        self.num_levels = int(num_levels)

    @property
    def num_dims(self):
        return int(np.prod(self.image_shape))

    def scale(self, images):
        """Pixel values 0..L-1 -> [-1, 1]."""
        return tf.cast(images, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def call(self, images):
        return self.logits(self.scale(images))

    def logits(self, scaled):
        raise NotImplementedError

    def ordering(self):
        """Rank (H, W, C) of each sub-pixel in the order the model generates them."""
        return likelihood.raster_order(self.image_shape)

    def validate(self, images):
        return likelihood.validate_images(images, self.image_shape, self.num_levels)

    def pixel_log_prob(self, images):
        """log p(x_k | x_<k) per sub-pixel, (B, H, W, C), in nats."""
        images = self.validate(images)
        return likelihood.pixel_log_prob_from_logits(self(images), images)

    def log_prob(self, images):
        """log p(x) per image, (B,), in nats."""
        return likelihood.image_log_prob(self.pixel_log_prob(images))

    def bits_per_dim(self, images):
        """-log p(x) / (H W C ln 2) per image, (B,)."""
        return likelihood.bits_per_dim(self.log_prob(images), self.num_dims)

    def get_config(self):
        return {"name": self.name, "image_shape": list(self.image_shape),
                "num_levels": self.num_levels}
