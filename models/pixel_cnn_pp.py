"""PixelCNN++ (Salimans et al. 2017): down / down-right shifted streams, gated ResNet blocks,
two downsamplings with short-cut connections, a discretized logistic mixture per pixel."""

import keras
import tensorflow as tf

from models import registry
from pixelrnn_tf.layers.down_right_shifted_conv2d import DownRightShiftedConv2D
from pixelrnn_tf.layers.down_right_shifted_conv_transpose2d import (
    DownRightShiftedConvTranspose2D)
from pixelrnn_tf.layers.down_shifted_conv2d import DownShiftedConv2D
from pixelrnn_tf.layers.down_shifted_conv_transpose2d import DownShiftedConvTranspose2D
from pixelrnn_tf.layers.gated_resnet_block import GatedResNetBlock
from pixelrnn_tf.layers.shifts import down_shift, right_shift, stream_input_at
from pixelrnn_tf.mixture_model import LogisticMixtureModel, MixtureStage
from pixelrnn_tf.sampling.driver import update_if

NUM_STAGES = 3  # resolutions H, H/2, H/4: two stride-2 downsamplings, as in the paper


def _half(size):
    """The size after a stride-2 shifted convolution: ceil, so odd and tiny sizes work."""
    return (size + 1) // 2


@registry.register("pixel_cnn_pp")
@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNNPlusPlus(LogisticMixtureModel):
    """PixelCNN++ as in the paper's code (openai/pixel-cnn, model_spec):

    The input is the image scaled to [-1, 1] plus a channel of ones (so the zero padding of the
    shifted convolutions differs from a black pixel). Two streams:
      u  = down_shift(DownShiftedConv2D 2x3 (x))                 sees the rows above;
      ul = down_shift(DownShiftedConv2D 1x3 (x))
           + right_shift(DownRightShiftedConv2D 2x1 (x))         sees the rows above and the
                                                                 pixels to the left.
    Up pass: three stages of `num_resnet` GatedResNetBlocks (ul's take u as auxiliary input),
    with a stride-2 shifted convolution of each stream between stages (H -> H/2 -> H/4, ceil).
    Down pass: the same stages in reverse (num_resnet, then num_resnet + 1 blocks at H/2 and
    H), with stride-2 shifted transposed convolutions cropped back to the up-pass sizes; every
    block takes the matching up-pass output as auxiliary input (u: u's; ul: [u, ul's]), which
    consumes every up-pass output once. Then elu and a 1 x 1 convolution to the parameters of
    a `num_mixtures` discretized logistic mixture per pixel (pixelrnn_tf.logistic_mixture;
    the likelihood, table, samplers and conditioning are LogisticMixtureModel's).

    Because the mixture is over whole pixels, the parameters at (i, j) see only earlier pixels,
    and channel c's conditional uses the observed channels < c of the pixel (through the
    mixture's coefficients and the posterior over components). `call` returns that exact
    conditional as the zoo's (B, H, W, C, L) table; the likelihood and the training loss use
    the cheaper direct computation (`pixel_log_prob_unchecked`).

    Dropout (`dropout_rate`, on every block's residual path) is active only when called with
    training=True (`model(images, training=True)` or
    `pixel_log_prob_unchecked(images, training=True)`).

    Conditional on class labels (`num_classes > 0`, fed one-hot) or on a float vector
    (`conditioning_dim > 0`), projected into every block's gate; at most one of the two.
    No weight normalization (see GatedResNetBlock).
    """

    # Its constructor defaults are the paper's CIFAR-10 size (53M parameters).
    SMALL_CONFIG = dict(num_resnet=1, units=32, num_mixtures=5)

    def __init__(self, image_shape, num_levels, num_resnet=5, units=160, num_mixtures=10,
                 dropout_rate=0.5, num_classes=0, conditioning_dim=0, **kwargs):
        super().__init__(image_shape, num_levels, num_mixtures=num_mixtures,
                         dropout_rate=dropout_rate, num_classes=num_classes,
                         conditioning_dim=conditioning_dim, **kwargs)
        if num_resnet < 1 or units < 1:
            raise ValueError(f"num_resnet and units must be >= 1, got {num_resnet} and "
                             f"{units}.")
        self.num_resnet = int(num_resnet)
        self.units = int(units)

    def stage_sizes(self):
        """(height, width) of the three stages."""
        sizes = [tuple(self.image_shape[:2])]
        for _ in range(NUM_STAGES - 1):
            sizes.append(tuple(_half(d) for d in sizes[-1]))
        return sizes

    def build(self, input_shape=None):
        c, f = self.image_shape[-1], self.units
        sizes = self.stage_sizes()
        dtype = self.dtype_policy  # every sublayer's

        def shape(stage, features):
            return (None,) + sizes[stage] + (features,)

        def block(kind, name, stage, aux_features=0):
            layer = GatedResNetBlock(kind, dropout_rate=self.dropout_rate,
                                     conditioning_dim=self.conditioning_vector_size, name=name,
                                     dtype=dtype)
            x_shape = shape(stage, f)
            return self._track(layer, [x_shape, shape(stage, aux_features)] if aux_features
                               else x_shape)

        self.u_input = self._track(DownShiftedConv2D(f, (2, 3), name="u_input", dtype=dtype),
                                   shape(0, c + 1))
        self.ul_input_above = self._track(
            DownShiftedConv2D(f, (1, 3), name="ul_input_above", dtype=dtype), shape(0, c + 1))
        self.ul_input_left = self._track(
            DownRightShiftedConv2D(f, (2, 1), name="ul_input_left", dtype=dtype),
            shape(0, c + 1))
        # up_blocks[stage]: [(u block, ul block)] * num_resnet.
        self.up_blocks, self.downsamplers, self.upsamplers, self.down_blocks = [], [], [], []
        for stage in range(NUM_STAGES):
            self.up_blocks.append([
                (block("down_shifted", f"up_u_{stage}_{r}", stage),
                 block("down_right_shifted", f"up_ul_{stage}_{r}", stage, f))
                for r in range(self.num_resnet)])
            if stage < NUM_STAGES - 1:
                self.downsamplers.append((
                    self._track(DownShiftedConv2D(f, (2, 3), 2, name=f"down_u_{stage}",
                                                  dtype=dtype), shape(stage, f)),
                    self._track(DownRightShiftedConv2D(f, (2, 2), 2, name=f"down_ul_{stage}",
                                                       dtype=dtype), shape(stage, f))))
        # down_blocks[k]: stage NUM_STAGES - 1 - k; u's aux is an up-pass u, ul's is [u, ul].
        for k, stage in enumerate(reversed(range(NUM_STAGES))):
            count = self.num_resnet + (k > 0)
            self.down_blocks.append([
                (block("down_shifted", f"down_u_{stage}_{r}", stage, f),
                 block("down_right_shifted", f"down_ul_{stage}_{r}", stage, 2 * f))
                for r in range(count)])
            if stage > 0:
                self.upsamplers.append((
                    self._track(DownShiftedConvTranspose2D(f, (2, 3), 2, name=f"up_u_{stage}",
                                                           dtype=dtype), shape(stage, f)),
                    self._track(DownRightShiftedConvTranspose2D(f, (2, 2), 2,
                                                                name=f"up_ul_{stage}",
                                                                dtype=dtype),
                                shape(stage, f))))
        self._build_output_head(f)

    def mixture_parameters(self, scaled, conditioning=None, training=None):
        """Scaled images (B, H, W, C) -> mixture parameters (B, H, W, P); those at (i, j)
        depend only on the pixels before (i, j) in raster order. `conditioning` is checked."""
        vector = self.embed(conditioning)
        sizes = self.stage_sizes()
        run = lambda layer, x: layer(x, conditioning=vector, training=training)  # noqa: E731
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        u = down_shift(self.u_input(x))  # (B, H, W, F)
        ul = down_shift(self.ul_input_above(x)) + right_shift(self.ul_input_left(x))
        us, uls = [u], [ul]  # every up-pass output, consumed once by the down pass
        for stage in range(NUM_STAGES):
            for u_block, ul_block in self.up_blocks[stage]:
                u = run(u_block, u)
                ul = run(ul_block, [ul, u])
                us.append(u)
                uls.append(ul)
            if stage < NUM_STAGES - 1:
                u_down, ul_down = self.downsamplers[stage]
                u, ul = u_down(u), ul_down(ul)  # (B, ceil(h / 2), ceil(w / 2), F)
                us.append(u)
                uls.append(ul)
        u, ul = us.pop(), uls.pop()
        for k, stage in enumerate(reversed(range(NUM_STAGES))):
            if k > 0:
                u_up, ul_up = self.upsamplers[k - 1]
                u = u_up(u, output_size=sizes[stage])  # (B, h_stage, w_stage, F)
                ul = ul_up(ul, output_size=sizes[stage])
            for u_block, ul_block in self.down_blocks[k]:
                u = run(u_block, [u, us.pop()])
                ul = run(ul_block, [ul, tf.concat([u, uls.pop()], axis=-1)])  # aux 2F
        return self.output_head(ul)  # (B, H, W, P)

    def sampling_stages(self, conditioning=None):
        """Incremental: each layer's output at each position is computed once (see
        PixelCNNPlusPlusStage)."""
        return [PixelCNNPlusPlusStage(self, conditioning)]

    def get_config(self):
        config = super().get_config()
        config.update(num_resnet=self.num_resnet, units=self.units)
        return config


def _replace(state, s, stage_state):
    return state[:s] + [stage_state] + state[s + 1:]


def _copy(stage_state):
    return {k: list(v) if isinstance(v, list) else v for k, v in stage_state.items()}


class PixelCNNPlusPlusStage(MixtureStage):
    """PixelCNN++'s incremental sampling stage: every layer's output at every position is
    computed once, from caches of the positions its kernel reads (the layers' own steps).

    The vertical stream u at row i sees rows < i only, so it is stepped a ROW at a time, as
    the row begins (`begin_row`); the horizontal stream ul a pixel at a time, its 2 x 2
    convolutions' taps of the row above also once per row. Stage s (the
    H / 2^s resolution) steps at the pixels (i, j) of stage 0 with i and j multiples of 2^s:
    its position (i / 2^s, j / 2^s) is then computable (the stride-2 downsampling kernels end
    there), and the down pass of stage s at (a, b) needs the upsampling of stage s + 1 at
    (a // 2, b // 2) only, computed at (a - a % 2, b - b % 2) of stage s and kept (2 rows of
    it) in a buffer. Each stage holds, per block, its convolutions' input caches (2 rows);
    the u rows of the current row feed the ul blocks' auxiliary inputs.
    State: a list over stages of dicts (u_*: row caches and rows; ul_*: pixel caches).
    """

    full_pass_per_pixel = False

    def __init__(self, model, conditioning):
        super().__init__(model, conditioning)
        self.vector = model.embed(conditioning)
        self.sizes = model.stage_sizes()
        self.last = NUM_STAGES - 1

    def _down_blocks(self, s):
        return self.model.down_blocks[self.last - s]

    def _upsampler(self, s):
        """The upsampling from stage s + 1 to stage s."""
        return self.model.upsamplers[self.last - 1 - s]

    def initial_state(self, images, known_mask):
        m, batch, f = self.model, tf.shape(images)[0], self.model.units
        dtype = m.compute_dtype
        state = []
        for s, (_, w) in enumerate(self.sizes):
            ups, downs = m.up_blocks[s], self._down_blocks(s)
            row = tf.zeros([batch, w, f], dtype)
            st = dict(u_up=[u.step_cache(batch, w, dtype) for u, _ in ups],
                      ul_up=[ul.step_cache(batch, w, dtype) for _, ul in ups],
                      u_down=[u.step_cache(batch, w, dtype) for u, _ in downs],
                      ul_down=[ul.step_cache(batch, w, dtype) for _, ul in downs],
                      u_rows_up=[row] * len(ups), u_rows_down=[row] * len(downs))
            if s < self.last:
                st.update(
                    u_down_cache=tf.zeros([batch, 1, w, f], dtype),  # the row above
                    ul_down_cache=m.downsamplers[s][1].step_cache(batch, w, f, dtype),
                    u_up_rows=tf.zeros([batch, 2, w, f], dtype),  # upsampled, 2 rows
                    ul_up_rows=tf.zeros([2, 2 * self.sizes[s + 1][1], batch, f], dtype))
            state.append(st)
        return state

    def _u_row(self, state, s, a, u):
        """Stage s at its row a, u its input row (B, w_s, F): every u row of stages >= s
        that row a makes, into `state`."""
        m, vector = self.model, self.vector
        st = _copy(state[s])
        # Row a of stage s begins: its ul convolutions' rows above, once per row.
        st["ul_up"] = [blk.step_begin_row(c, a) for (_, blk), c in zip(m.up_blocks[s],
                                                                        st["ul_up"])]
        st["ul_down"] = [blk.step_begin_row(c, a)
                         for (_, blk), c in zip(self._down_blocks(s), st["ul_down"])]
        ups = [u]  # the up pass's outputs, consumed in reverse by the down pass
        for r, (block, _) in enumerate(m.up_blocks[s]):
            st["u_up"][r], u = block.step_row(st["u_up"][r], u, conditioning=vector)
            ups.append(u)
        st["u_rows_up"] = ups[1:]
        if s < self.last:
            rows = tf.concat([st["u_down_cache"], u[:, None]], axis=1)  # (B, 2, w_s, F)
            st["u_down_cache"] = rows[:, 1:]
            state = _replace(state, s, st)

            def deeper(state):
                below = self._u_row(state, s + 1, a // 2, m.downsamplers[s][0].step_row(rows))
                out = below[s + 1]["u_rows_down"][-1]  # stage s + 1's row a / 2
                up_rows = self._upsampler(s)[0].step_row(out, self.sizes[s][1])
                return _replace(below, s, dict(below[s], u_up_rows=up_rows))

            state = update_if(a % 2 == 0, deeper, state)
            st = _copy(state[s])
            u, skips = st["u_up_rows"][:, a % 2], ups[::-1]
        else:
            u, skips = ups[-1], ups[-2::-1]
        for r, (block, _) in enumerate(self._down_blocks(s)):
            st["u_down"][r], u = block.step_row(st["u_down"][r], u, skips[r],
                                                conditioning=vector)
            st["u_rows_down"][r] = u
        return _replace(state, s, st)

    def _ul_pixel(self, state, s, a, b, ul):
        """Stage s at its pixel (a, b), ul its input (B, F) there -> (state, stage s's output
        (B, F) at (a, b))."""
        m, vector = self.model, self.vector
        st = _copy(state[s])
        ups = [ul]
        for r, (_, block) in enumerate(m.up_blocks[s]):
            st["ul_up"][r], ul = block.step_pixel(st["ul_up"][r], a, b, ul,
                                                  st["u_rows_up"][r][:, b], conditioning=vector)
            ups.append(ul)
        if s < self.last:
            downsampler = m.downsamplers[s][1]
            st["ul_down_cache"] = downsampler.step_write(st["ul_down_cache"], a, b, ul)
            state = _replace(state, s, st)

            def deeper(state):
                d = downsampler.step_window(state[s]["ul_down_cache"], a // 2, b // 2)
                below, out = self._ul_pixel(state, s + 1, a // 2, b // 2, d)
                block = self._upsampler(s)[1].step_pixel(out)  # (B, 2, 2, F)
                cols = tf.stack([b, b + 1])
                index = tf.stack(tf.meshgrid(tf.range(2), cols, indexing="ij"), -1)
                rows = tf.tensor_scatter_nd_update(
                    below[s]["ul_up_rows"], tf.reshape(index, [4, 2]),
                    tf.reshape(tf.transpose(block, [1, 2, 0, 3]), [4, -1, m.units]))
                return _replace(below, s, dict(below[s], ul_up_rows=rows))

            state = update_if(tf.logical_and(a % 2 == 0, b % 2 == 0), deeper, state)
            st = _copy(state[s])
            ul, skips = st["ul_up_rows"][a % 2, b], ups[::-1]
        else:
            ul, skips = ups[-1], ups[-2::-1]
        for r, (_, block) in enumerate(self._down_blocks(s)):
            aux = tf.concat([st["u_rows_down"][r][:, b], skips[r]], axis=-1)  # (B, 2F)
            st["ul_down"][r], ul = block.step_pixel(st["ul_down"][r], a, b, ul, aux,
                                                    conditioning=vector)
        return _replace(state, s, st), ul

    def begin_row(self, state, images, t, i):
        """Row i begins: the u rows of every stage that starts a row here (and the ul
        convolutions' rows above there), once per row."""
        m = self.model
        scaled = m.scale(images)
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        # u row i = u_input's output row i - 1 (down_shift): image rows i - kh .. i - 1.
        kh = m.u_input.kernel_size[0]
        padded = tf.pad(x, [[0, 0], [kh - 1, 0], [0, 0], [0, 0]])
        rows = tf.gather(padded, tf.maximum(i - 1, 0) + tf.range(kh), axis=1)  # (B, kh, W, C+1)
        u = m.u_input.step_row(rows) * tf.cast(i > 0, x.dtype)
        return self._u_row(state, 0, i, u)

    def begin_pixel(self, state, images, t, i, j):
        m = self.model
        scaled = m.scale(images)
        x = tf.concat([scaled, tf.ones_like(scaled[..., :1])], axis=-1)  # (B, H, W, C + 1)
        ul = stream_input_at(m.ul_input_above, m.ul_input_left, x, i, j)
        state, ul = self._ul_pixel(state, 0, i, j, ul)
        return state, m.output_head(ul)  # (B, P)
