"""Gated PixelCNN (van den Oord et al. 2016): vertical + horizontal stacks, no blind spot."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.layers.gated_pixel_cnn_layer import GatedPixelCNNLayer, group_bounds
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.sampling.driver import raster_pixels, update_if


@registry.register("gated_pixel_cnn")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class GatedPixelCNN(AutoregressiveModel):
    """`num_layers` GatedPixelCNNLayers (mask A first), then ReLU, 1 x 1 mask-B conv
    (`output_units`), ReLU, 1 x 1 mask-B conv to `num_levels` logits per sub-pixel.

    Conditional on class labels (`num_classes > 0`, fed one-hot) or on a float vector
    (`conditioning_dim > 0`), added into every gate; at most one of the two.

    `dropout_rate`: dropout on every layer's horizontal residual path, active only with
    training=True (`model(images, training=True)` or `pixel_log_prob_unchecked(images,
    training=True)`); not in the paper (0), a regularizer for long runs on small data.
    """

    SMALL_CONFIG = dict(num_layers=5, units=32, output_units=128)

    def __init__(self, image_shape, num_levels, num_layers=2, units=8, output_units=32,
                 kernel_size=3, num_classes=0, conditioning_dim=0, dropout_rate=0.0, **kwargs):
        super().__init__(image_shape, num_levels, **kwargs)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}.")
        self._set_conditioning(num_classes, conditioning_dim)
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.output_units = int(output_units)
        self.kernel_size = int(kernel_size)
        self.dropout_rate = float(dropout_rate)

    def build(self, input_shape=None):
        c = self.image_shape[-1]
        prefix = (None,) + self.image_shape[:-1]
        self.gated_layers = []
        features = c
        for i in range(self.num_layers):
            layer = GatedPixelCNNLayer(
                self.units, self.kernel_size, "A" if i == 0 else "B", c, residual=i > 0,
                conditioning_dim=self.conditioning_vector_size,
                vertical_output=i < self.num_layers - 1, dropout_rate=self.dropout_rate,
                name=f"gated_layer_{i}",
                dtype=self.dtype_policy)
            layer.build([prefix + (features,), prefix + (features,)])
            # Also an attribute of its own: tf.train.Checkpoint does not look inside the
            # Keras-tracked list.
            setattr(self, f"gated_layer_{i}", layer)
            self.gated_layers.append(layer)
            features = self.units
        self.output_conv_1 = MaskedConv2D(self.output_units, 1, "B", c, name="output_conv_1",
                                          dtype=self.dtype_policy)
        self.output_conv_1.build(prefix + (self.units,))
        self.output_conv_2 = MaskedConv2D(c * self.num_levels, 1, "B", c, name="output_conv_2",
                                          dtype=self.dtype_policy)
        self.output_conv_2.build(prefix + (self.output_units,))

    def call(self, images, conditioning=None, training=None):
        conditioning = self.check_conditioning(conditioning)
        return self.logits(self.scale(images), conditioning, training=training)

    def logits(self, scaled, conditioning=None, training=None):
        vector = self.embed(conditioning)
        v = h = scaled
        for layer in self.gated_layers[:-1]:
            v, h = layer([v, h], vector, training=training)
        # The last layer's output: horizontal only.
        h = self.gated_layers[-1]([v, h], vector, training=training)
        y = self.output_conv_1(tf.nn.relu(h))
        # Logits in float32 under a mixed policy (see PixelRNNNetwork.call).
        y = tf.cast(self.output_conv_2(tf.nn.relu(y)), tf.float32)  # (B, H, W, C * L)
        shape = tf.shape(scaled)
        return tf.reshape(y, [shape[0], shape[1], shape[2], self.image_shape[-1],
                              self.num_levels])

    def sampling_stages(self, conditioning=None):
        """One row of the vertical stack per row, one pixel of the horizontal stack per
        channel, each layer's one-position step from GatedPixelCNNLayer.step_weights."""
        return [GatedStage(self, conditioning)]

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, units=self.units,
                      output_units=self.output_units, kernel_size=self.kernel_size,
                      num_classes=self.num_classes, conditioning_dim=self.conditioning_dim,
                      dropout_rate=self.dropout_rate)
        return config


class GatedStage:
    """The sampling stage of a GatedPixelCNN (contract: `pixelrnn_tf.sampling.driver`).

    State: per layer, the window of its last k//2 vertical input rows (B, k//2, W + 2 (k//2),
    Fv), the links of the row above into the horizontal stack (B, W, 2h), and the window of
    its horizontal input at the k//2 pixels to the left (B, k//2, Fh).
    """

    full_pass_per_pixel = False

    def __init__(self, model, conditioning):
        self.model = model
        dtype = model.compute_dtype
        vector = None if conditioning is None else model.embed(conditioning)  # (B, D)
        self.layers = [layer.step_weights(vector, dtype) for layer in model.gated_layers]
        h, w, c = model.image_shape
        self.pixels = raster_pixels(h, w)
        self.half = model.kernel_size // 2
        self.in_features = [c] + [model.units] * (model.num_layers - 1)
        self.out_1 = tf.cast(model.output_conv_1.masked_kernel()[0, 0], dtype)  # (h, O)
        self.out_2 = tf.cast(model.output_conv_2.masked_kernel()[0, 0], dtype)  # (O, C L)
        self.bias_1 = tf.cast(model.output_conv_1.bias, dtype)
        self.bias_2 = tf.cast(model.output_conv_2.bias, dtype)
        self.out_groups = group_bounds(model.output_units, c)

    def _zero_h_windows(self, batch):
        return [tf.zeros([batch, self.half, f], self.model.compute_dtype)
                for f in self.in_features]

    def initial_state(self, images, known_mask):
        batch, w, dtype = tf.shape(images)[0], self.model.image_shape[1], self.model.compute_dtype
        v_windows = [tf.zeros([batch, self.half, w + 2 * self.half, f], dtype)
                     for f in self.in_features]
        links = [tf.zeros([batch, w, 2 * self.model.units], dtype) for _ in self.layers]
        return v_windows, links, self._zero_h_windows(batch)

    def _vertical(self, images, row, v_windows):
        """The vertical stack on completed row `row`, for the row below it."""
        half = self.half
        x = self.model.scale(images[:, row])  # (B, W, C)
        new_windows, links = [], []
        for step, vw in zip(self.layers, v_windows):
            window = tf.concat([vw, tf.pad(x, [[0, 0], [half, half], [0, 0]])[:, None]], 1)
            link, x = step.vertical_row(window)  # (B, W, 2h), (B, W, h)
            links.append(link)
            new_windows.append(window[:, 1:])
        return new_windows, links

    # Python loops over layers and channel groups build per-group lists of tensors: autograph
    # must not turn them into graph loops (the served signatures are traced with autograph on).
    @tf.autograph.experimental.do_not_convert
    def begin_row(self, state, images, t, i):
        """Row i begins: the vertical stack on row i - 1, empty horizontal windows."""
        v_windows, links, _ = state
        vw, lk = update_if(i > 0, lambda s: self._vertical(images, i - 1, s[0]),
                           (v_windows, links))
        return vw, lk, self._zero_h_windows(tf.shape(images)[0])

    @tf.autograph.experimental.do_not_convert
    def begin_pixel(self, state, images, t, i, j):
        v_windows, links, h_windows = state
        base = [step.pixel_base(link[:, j], hw)
                for step, link, hw in zip(self.layers, links, h_windows)]  # (B, 2h) each
        pieces, gated, hidden = [[] for _ in self.layers], [[] for _ in self.layers], []
        return (v_windows, links, h_windows), (base, pieces, gated, hidden)

    @tf.autograph.experimental.do_not_convert
    def channel_logits(self, pixel_state, images, i, j, ch):
        """Logits (B, L) of channel `ch`: group `ch` of every layer, given the groups < ch
        computed in the passes of the earlier channels (kept in `pixel_state`)."""
        base, pieces, gated, hidden = pixel_state
        levels = self.model.num_levels
        x = self.model.scale(images[:, i, j])  # (B, C); channels >= ch are never read
        for n, step in enumerate(self.layers):
            pieces[n].append(step.channel_group(base[n], x, ch, gated[n]))  # (B, n_ch)
            x = tf.concat(pieces[n], -1)  # (B, hi): groups <= ch of the next input
        lo, hi = self.out_groups[ch]
        # Its width from the group bounds, not x.shape: served signatures take conditioning
        # of unknown rank, which leaves the static shapes here unknown.
        seen = self.layers[-1].gate_groups[ch][1]
        hidden.append(tf.nn.relu(tf.matmul(tf.nn.relu(x), self.out_1[:seen, lo:hi]) +
                                 self.bias_1[lo:hi]))
        logits = tf.matmul(tf.concat(hidden, -1), self.out_2[:hi, ch * levels:(ch + 1) * levels])
        logits = logits + self.bias_2[ch * levels:(ch + 1) * levels]
        return tf.cast(logits, tf.float32), pixel_state

    @tf.autograph.experimental.do_not_convert
    def end_pixel(self, state, pixel_state, images, t, i, j):
        v_windows, links, h_windows = state
        _, pieces, _, _ = pixel_state
        # Each layer's horizontal input at the pixel: the image, then the layers below.
        centres = [self.model.scale(images[:, i, j])] + [tf.concat(p, -1) for p in pieces[:-1]]
        h_windows = [tf.ensure_shape(tf.concat([hw[:, 1:], x[:, None]], 1), hw.shape)
                     for hw, x in zip(h_windows, centres)]  # (B, k//2, F) each
        return v_windows, links, h_windows
