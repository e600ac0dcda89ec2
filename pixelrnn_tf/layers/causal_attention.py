"""CausalAttention: PixelSNAIL's attention block (Chen et al. 2018) over the raster-ordered
pixels, strictly causal, with a softmax that stays finite on the fully masked first row."""

import math

import keras
import tensorflow as tf

from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock


def position_features(height, width, dtype=tf.float32):
    """The paper's "background" (1, H, W, 2): ((i - H/2) / H, (j - W/2) / W) at (i, j), so the
    keys and queries know where a pixel is (the attention itself is permutation-invariant)."""
    # In float32, then cast: TensorFlow has no float16 Range kernel.
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    rows = (tf.range(h) - h / 2) / h
    cols = (tf.range(w) - w / 2) / w
    grid = tf.stack(tf.meshgrid(rows, cols, indexing="ij"), axis=-1)  # (H, W, 2)
    return tf.cast(grid[None], dtype)


def causal_mask(length):
    """(T, T) bool: query t may attend to key s iff s < t (STRICTLY earlier: the keys and
    values see the image at their own position, so position t must not see itself). Row 0
    is all False."""
    positions = tf.range(length)
    return positions[None, :] < positions[:, None]


def attention_weights(queries, keys, mask):
    """Softmax of q . k / sqrt(d) over the allowed keys: (..., T, d) x2 and (T, T) bool ->
    (..., T, T), each row summing to 1 over its allowed keys, and exactly 0 where masked;
    a row with no allowed key (row 0 under `causal_mask`) is all zeros.

    Not tf.nn.softmax with -inf (or a big negative number) on the masked entries: a fully
    masked row is then exp(-inf - (-inf)) = NaN, or a uniform average over the FUTURE (a
    leak), and a finite fill below which real logits can fall (the paper's -1e10) silently
    zeroes rows whose logits are all below it. Here the row maximum is taken over the
    allowed entries only (0 for an empty row), masked entries are set to that maximum before
    exp (so exp never sees a huge or infinite argument, in values or gradients) and zeroed
    after it, and the sum is floored at 1: a non-empty row's sum is >= 1 anyway (its maximum
    contributes exp(0) = 1), an empty row's is 0 and its weights 0 / 1 = 0.
    """
    logits = tf.einsum("...td,...sd->...ts", queries, keys) * _scale(queries)  # (..., T, T)
    return masked_softmax(logits, mask)


def _scale(queries):
    depth = queries.shape[-1]
    if depth is None:  # traced with unknown shapes (e.g. an exported signature)
        return tf.math.rsqrt(tf.cast(tf.shape(queries)[-1], queries.dtype))
    return 1.0 / math.sqrt(int(depth))


def masked_softmax(logits, mask):
    """The softmax of `attention_weights` over the last axis, `mask` broadcast to it."""
    allowed = tf.broadcast_to(mask, tf.shape(logits))
    lowest = tf.constant(logits.dtype.min, logits.dtype)
    row_max = tf.reduce_max(tf.where(allowed, logits, lowest), axis=-1, keepdims=True)
    # The shift cancels out of the softmax, so its exact gradient is zero: stop_gradient only
    # skips computing it (and the rounding it would add).
    row_max = tf.stop_gradient(tf.where(tf.reduce_any(allowed, -1, keepdims=True), row_max,
                                        tf.zeros_like(row_max)))
    shifted = tf.where(allowed, logits, row_max) - row_max  # <= 0 where allowed, 0 elsewhere
    exp = tf.where(allowed, tf.exp(shifted), tf.zeros_like(shifted))
    return exp / tf.maximum(tf.reduce_sum(exp, axis=-1, keepdims=True), 1.0)


def check_sizes(key_size, value_size, num_heads):
    """ValueError unless the sizes are positive and the heads divide them."""
    if min(key_size, value_size, num_heads) < 1:
        raise ValueError(f"key_size, value_size and num_heads must be >= 1, got "
                         f"{key_size}, {value_size} and {num_heads}.")
    if key_size % num_heads or value_size % num_heads:
        raise ValueError(f"key_size ({key_size}) and value_size ({value_size}) must be "
                         f"divisible by num_heads ({num_heads}).")


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class CausalAttention(keras.layers.Layer):
    """PixelSNAIL's attention block (the paper's code, _base_noup_smallkey_spec): over the
    H * W pixels in raster order, position t attends to positions s < t only.

      keys, values = split(nin(gated_resnet_1x1([image, x, position])))   (key_size, value_size)
      queries      = nin(gated_resnet_1x1([x, position]))                  (key_size)
      output_t     = sum_{s < t} softmax_s(q_t . k_s / sqrt(d)) v_s        (value_size)

    x is the block input, a map whose (i, j) already sees only the pixels before (i, j); the
    image (scaled to [-1, 1]) enters the keys and values at its own position, which the
    STRICT mask keeps from the query at that position: output t depends on the image at
    positions < t and on x at positions <= t only. The first position has no earlier one:
    its output is exactly 0 (see `attention_weights`), finite in values and gradients.

    The 1 x 1 gated residual blocks are GatedResNetBlocks (dropout on their residual path in
    training, the conditioning vector projected into their gate, like the model's others).

    Args:
        key_size: features of the keys and queries (the paper's 16).
        value_size: features of the values and the output (the paper's 128 = filters / 2).
        num_heads: heads (key_size and value_size divisible by it); the paper's 1.
        dropout_rate: of the two gated residual blocks, in [0, 1).
        conditioning_dim: D of the conditioning vector (0: unconditional).
        nonlinearity: of the gated residual blocks ("elu" as the paper's code, or
            "concat_elu").

    Input [x (B, H, W, F), image (B, H, W, C)]; output (B, H, W, value_size).
    """

    def __init__(self, key_size=16, value_size=128, num_heads=1, dropout_rate=0.0,
                 conditioning_dim=0, nonlinearity="elu", **kwargs):
        super().__init__(**kwargs)
        check_sizes(key_size, value_size, num_heads)
        self.key_size = int(key_size)
        self.value_size = int(value_size)
        self.num_heads = int(num_heads)
        self.dropout_rate = float(dropout_rate)
        self.conditioning_dim = int(conditioning_dim)
        self.nonlinearity = nonlinearity

    def build(self, input_shape):
        x_shape, image_shape = input_shape
        prefix = tuple(x_shape[:-1])
        features, channels = int(x_shape[-1]), int(image_shape[-1])
        content = channels + features + 2  # [image, x, position]
        query_input = features + 2  # [x, position]

        def block(name, width):
            # A 1 x 1 kernel: the paper's gated_resnet with conv=nin.
            layer = GatedResNetBlock("down_right_shifted", kernel_size=(1, 1),
                                     dropout_rate=self.dropout_rate,
                                     conditioning_dim=self.conditioning_dim,
                                     nonlinearity=self.nonlinearity, name=name,
                                     dtype=self.dtype_policy)
            layer.build(prefix + (width,))
            return layer

        self.key_value_block = block("key_value_block", content)
        self.query_block = block("query_block", query_input)
        self.key_value_kernel = self.add_weight(
            name="key_value_kernel", shape=(content, self.key_size + self.value_size))
        self.key_value_bias = self.add_weight(
            name="key_value_bias", shape=(self.key_size + self.value_size,),
            initializer="zeros")
        self.query_kernel = self.add_weight(name="query_kernel",
                                            shape=(query_input, self.key_size))
        self.query_bias = self.add_weight(name="query_bias", shape=(self.key_size,),
                                          initializer="zeros")

    def _heads(self, t, batch, length, size):
        """(B, H, W, size) -> (B, n, H * W, size / n); static per-head size, so the shapes
        stay known when H and W are not (exported signatures)."""
        t = tf.reshape(t, [batch, length, self.num_heads, size // self.num_heads])
        return tf.transpose(t, [0, 2, 1, 3])

    def call(self, inputs, conditioning=None, training=None):
        x, image = inputs
        image = tf.cast(image, x.dtype)
        shape = tf.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        length = height * width
        position = tf.broadcast_to(position_features(height, width, x.dtype),
                                   tf.stack([batch, height, width, 2]))
        run = lambda layer, t: layer(t, conditioning=conditioning, training=training)  # noqa: E731
        content = run(self.key_value_block,
                      tf.concat([image, x, position], -1))  # (B, H, W, C + F + 2)
        key_value = tf.einsum("bhwc,ck->bhwk", content, self.key_value_kernel)
        key_value = key_value + self.key_value_bias  # (B, H, W, key + value)
        keys, values = tf.split(key_value, [self.key_size, self.value_size], axis=-1)
        query_input = run(self.query_block, tf.concat([x, position], -1))  # (B, H, W, F+2)
        queries = tf.einsum("bhwc,ck->bhwk", query_input, self.query_kernel) + self.query_bias
        weights = attention_weights(self._heads(queries, batch, length, self.key_size),
                                    self._heads(keys, batch, length, self.key_size),
                                    causal_mask(length))  # (B, n, T, T)
        mixed = tf.matmul(weights, self._heads(values, batch, length, self.value_size))
        # (B, n, T, value / n)
        mixed = tf.transpose(mixed, [0, 2, 1, 3])  # (B, T, n, value / n)
        return tf.reshape(mixed, [batch, height, width, self.value_size])

    # One-position steps (incremental sampling), next to `call`: keys and values of the
    # pixels before t are kept, so position t costs O(t), not a pass over the image.

    def step_cache(self, batch, length, dtype):
        """Keys (B, n, T, key / n) and values (B, n, T, value / n) of the T = H * W pixels:
        the layout of `call`'s heads, so a query is a batched matrix-vector product that
        reads the cache once (a position-first layout made XLA transpose the whole cache at
        every step); zeros until written (never read: the mask allows only earlier ones)."""
        n = self.num_heads
        return (tf.zeros([batch, n, length, self.key_size // n], dtype),
                tf.zeros([batch, n, length, self.value_size // n], dtype))

    def _position(self, x, position):
        return tf.broadcast_to(tf.cast(position, x.dtype), tf.stack([tf.shape(x)[0], 2]))

    def step_query(self, cache, t, x, position, conditioning=None):
        """The output (B, value_size) at position t from x (B, F) there, `position` its (2,)
        features (position_features at (i, j)) and the keys / values of positions < t."""
        keys, values = cache
        n, batch = self.num_heads, tf.shape(x)[0]
        _, query_input = self.query_block.step_pixel(
            (), 0, 0, tf.concat([x, self._position(x, position)], -1), conditioning=conditioning)
        query = tf.matmul(query_input, self.query_kernel) + self.query_bias  # (B, key)
        query = tf.reshape(query, [batch, n, 1, self.key_size // n])
        logits = tf.matmul(query, keys, transpose_b=True) * _scale(query)  # (B, n, 1, T)
        weights = masked_softmax(logits, tf.range(tf.shape(keys)[2]) < t)  # strictly earlier
        return tf.reshape(tf.matmul(weights, values), [batch, self.value_size])

    def step_commit(self, cache, t, x, image, position, conditioning=None):
        """The cache with position t's key and value, once its pixel `image` (B, C) is known."""
        n, batch = self.num_heads, tf.shape(x)[0]
        _, content = self.key_value_block.step_pixel(
            (), 0, 0, tf.concat([tf.cast(image, x.dtype), x, self._position(x, position)], -1),
            conditioning=conditioning)
        key_value = tf.matmul(content, self.key_value_kernel) + self.key_value_bias
        new = tf.split(key_value, [self.key_size, self.value_size], axis=-1)
        # Index (b, head, t) of every (B, n) row of position t.
        b, h = tf.meshgrid(tf.range(batch), tf.range(n), indexing="ij")
        index = tf.stack([b, h, tf.fill(tf.shape(b), tf.cast(t, tf.int32))], -1)  # (B, n, 3)
        return tuple(tf.tensor_scatter_nd_update(c, index, tf.reshape(v, [batch, n, -1]))
                     for c, v in zip(cache, new))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.value_size,)

    def get_config(self):
        config = super().get_config()
        config.update(key_size=self.key_size, value_size=self.value_size,
                      num_heads=self.num_heads, dropout_rate=self.dropout_rate,
                      conditioning_dim=self.conditioning_dim, nonlinearity=self.nonlinearity)
        return config
