"""Colour-group bookkeeping shared by every masked layer.

Features at every layer are split into `num_groups` contiguous groups (R, G, B for a colour
image; one group for a grey or binary image). A tensor may also be made of several equal
*blocks* (the four LSTM gates, or the concatenated outputs of all layers for the skip
connections); each block is split into groups on its own, so that gate `o` of unit `u` is in
the same group as unit `u` of the hidden state.
"""

import numpy as np
import tensorflow as tf


def channel_groups(num_features, num_groups, num_blocks=1):
    """Group index (0..num_groups-1) of each of `num_features` features.

    Within each of `num_blocks` equal blocks, feature f of n goes to group floor(f * G / n),
    so groups are contiguous and as equal as possible for any feature count.
    """
    if num_features % num_blocks:
        raise ValueError(
            f"{num_features} features cannot be split into {num_blocks} equal blocks."
        )
    n = num_features // num_blocks
    if n < num_groups:
        raise ValueError(
            f"Each block has {n} features, fewer than the {num_groups} colour groups: "
            "every group needs at least one feature."
        )
    within = np.arange(n) * num_groups // n
    return np.tile(within, num_blocks)


def causal_mask(kernel_size, in_features, out_features, num_groups, mask_type,
                in_blocks=1, out_blocks=1):
    """Float32 mask of shape (kh, kw, in, out) for a causal (raster, then R,G,B) convolution.

    Taps above the centre row, or left of the centre in the centre row, see every group.
    Taps after the centre see nothing. At the centre, output group g sees input group g' when
    g' < g (mask "A") or g' <= g (mask "B").
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
    kh, kw = kernel_size
    mask = np.zeros((kh, kw, in_features, out_features), np.float32)
    ch, cw = kh // 2, kw // 2
    mask[:ch, :, :, :] = 1.0
    mask[ch, :cw, :, :] = 1.0
    gin = channel_groups(in_features, num_groups, in_blocks)[:, None]
    gout = channel_groups(out_features, num_groups, out_blocks)[None, :]
    centre = gin < gout if mask_type == "A" else gin <= gout
    mask[ch, cw] = centre.astype(np.float32)
    return mask


# -- Colour groups at one position (the samplers' per-channel steps). A channel's
# conditional reads, at every layer, only the groups up to its own at the current pixel, so a
# step that computes one group per channel does each layer's current-pixel work once per
# pixel, not once per channel. A group's "piece" of a (..., F) tensor is its features in
# ascending order (for blocks: block-major, e.g. [o, f, i, g] of the group's units).

def group_index(num_features, num_groups, num_blocks=1):
    """Per group, the int32 indices of its features."""
    groups = channel_groups(num_features, num_groups, num_blocks)
    return [np.flatnonzero(groups == g).astype(np.int32) for g in range(num_groups)]


def take_group(x, index):
    """The piece (..., len(index)) of x (..., F) at `index` (an entry of group_index)."""
    if len(index) == x.shape[-1]:
        return x
    a, b = int(index[0]), int(index[-1]) + 1
    if b - a == len(index):  # contiguous: a slice
        return x[..., a:b]
    return tf.gather(x, index, axis=-1)


def join_groups(pieces, indices):
    """The (..., F) tensor whose group pieces are `pieces` (the inverse of take_group)."""
    order = np.concatenate(indices[:len(pieces)])
    y = pieces[0] if len(pieces) == 1 else tf.concat(pieces, -1)
    if (order == np.arange(len(order))).all():
        return y
    return tf.gather(y, np.argsort(order).astype(np.int32), axis=-1)


def group_major(indices):
    """The feature order that puts the group pieces `indices` (from group_index) one after
    another, and each piece's (start, stop) in it. A step that keeps block-interleaved
    features (the LSTM gates) in this order takes a group's piece with a slice: take_group
    on them is a gather along the features (4.6 of about 110 thread-seconds in a plain profile
    of the Multi-Scale network's sampling at batch 256)."""
    ends = np.cumsum([len(index) for index in indices])
    return (np.concatenate(indices).astype(np.int32),
            [(int(e) - len(index), int(e)) for e, index in zip(ends, indices)])


def conditioning_map(conv, conditioning, order):
    """`conv(conditioning)` (a 1 x 1 keras Conv2D with bias) with its output features in
    `order`, by reordering the kernel's columns rather than the (B, H, W, F) map."""
    dtype = conv.compute_dtype  # as the layer's call: autocast under a mixed policy
    kernel = tf.gather(tf.cast(conv.kernel, dtype), order, axis=-1)
    return (tf.nn.conv2d(tf.cast(conditioning, dtype), kernel, 1, "VALID")
            + tf.gather(tf.cast(conv.bias, dtype), order))


def step_all_groups(layer, past, x, in_index, out_index):
    """A block's `step_at` from its per-group step: every group of the input x (B, F) at
    once. Returns (output (B, F'), values to cache). The layer has step_weights(),
    step_past(..., weights=) (which made `past`), step_group(past, weights, pieces, g,
    carry) -> (piece, carry) and step_values(carry, pieces)."""
    weights = layer.step_weights()
    pieces = [take_group(x, index) for index in in_index]
    carry, outputs = (), []
    for g in range(len(in_index)):
        y, carry = layer.step_group(past, weights, pieces, g, carry)
        outputs.append(y)
    return join_groups(outputs, out_index), layer.step_values(carry, pieces)
