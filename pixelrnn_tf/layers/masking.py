"""Colour-group bookkeeping shared by every masked layer.

Features at every layer are split into `num_groups` contiguous groups (R, G, B for a colour
image; one group for a grey or binary image). A tensor may also be made of several equal
*blocks* (the four LSTM gates, or the concatenated outputs of all layers for the skip
connections); each block is split into groups on its own, so that gate `o` of unit `u` is in
the same group as unit `u` of the hidden state.
"""

import numpy as np


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
