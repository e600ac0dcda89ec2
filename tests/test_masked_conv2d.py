import keras
import numpy as np
import pytest

from pixelrnn_tf.layers import MaskedConv2D
from pixelrnn_tf.layers.masking import causal_mask, channel_groups


def test_channel_groups_are_contiguous_and_per_block():
    np.testing.assert_array_equal(channel_groups(6, 3), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(channel_groups(7, 3), [0, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(channel_groups(8, 2, num_blocks=2), [0, 0, 1, 1, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="fewer than the 3 colour groups"):
        channel_groups(2, 3)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_rgb_mask_matches_the_paper(mask_type):
    """Input = the 3 image channels, output = 6 features (2 per group)."""
    m = causal_mask((3, 3), 3, 6, 3, mask_type)
    assert np.all(m[0] == 1) and np.all(m[1, 0] == 1)  # row above, pixel to the left
    assert np.all(m[2] == 0) and np.all(m[1, 2] == 0)  # later pixels
    centre = m[1, 1]  # (in, out)
    out_group = np.array([0, 0, 1, 1, 2, 2])
    for cin in range(3):
        allowed = cin < out_group if mask_type == "A" else cin <= out_group
        np.testing.assert_array_equal(centre[cin], allowed.astype(np.float32))


def test_single_channel_is_the_plain_spatial_mask():
    a = causal_mask((5, 5), 1, 4, 1, "A")
    b = causal_mask((5, 5), 1, 4, 1, "B")
    assert np.all(a[2, 2] == 0) and np.all(b[2, 2] == 1)
    assert a.sum() == 12 * 4 and b.sum() == 13 * 4


def test_mask_is_applied_in_call_on_untrained_weights():
    """A change of a masked-out input never changes the output, before any training step."""
    layer = MaskedConv2D(6, 3, "A", num_groups=3, kernel_initializer="ones")
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 3)).astype(np.float32)
    y0 = layer(x).numpy()
    x2 = x.copy()
    x2[0, 2, 2, 2] += 10.0  # B channel of the centre pixel: nobody may see it at (2, 2)
    x2[0, 3, :, :] += 10.0  # the next row
    y1 = layer(x2).numpy()
    np.testing.assert_array_equal(y0[0, 2, 2], y1[0, 2, 2])
    x3 = x.copy()
    x3[0, 2, 2, 0] += 10.0  # R of the centre: G and B groups see it, R does not
    y3 = layer(x3).numpy()
    np.testing.assert_array_equal(y0[0, 2, 2, :2], y3[0, 2, 2, :2])
    assert np.all(y0[0, 2, 2, 2:] != y3[0, 2, 2, 2:])


def test_any_channel_count_and_serialization():
    layer = MaskedConv2D(5, (1, 3), "B", num_groups=4, name="odd")
    y = layer(np.zeros((2, 3, 4, 7), np.float32))
    assert y.shape == (2, 3, 4, 5)
    clone = MaskedConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, MaskedConv2D) and restored.kernel_size == (1, 3)


@pytest.mark.parametrize("bad", [dict(kernel_size=2), dict(mask_type="C")])
def test_bad_arguments(bad):
    args = dict(filters=3, kernel_size=3, mask_type="A")
    args.update(bad)
    with pytest.raises(ValueError):
        MaskedConv2D(**args)
