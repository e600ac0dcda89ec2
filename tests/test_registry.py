import pytest

import models
from models import registry


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        @registry.register("pixel_cnn")
        class Other:  # noqa: F841
            pass
    assert registry.get("pixel_cnn") is models.PixelCNN


def test_unknown_name_lists_registered_models():
    with pytest.raises(KeyError, match="Registered models: diagonal_bilstm, gated_pixel_cnn, "
                                       "multiscale_pixelrnn, pixel_cnn, pixel_cnn_pp, pixel_snail, "
                                       "row_lstm"):
        models.get("pixel_rnn")


def test_missing_import_is_named(monkeypatch):
    monkeypatch.delitem(registry._REGISTRY, "row_lstm")
    with pytest.raises(KeyError, match="defined in models.row_lstm: import that module"):
        registry.get("row_lstm")
