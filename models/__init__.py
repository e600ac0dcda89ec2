"""The model zoo. Importing this package registers every built-in model and every
experiment config (models.configs) into the library's registries; `from_preset` / `presets`
give the pretrained zoo (models.presets)."""

from models import configs, registry
from models.diagonal_bilstm import DiagonalBiLSTMPixelRNN
from models.gated_pixel_cnn import GatedPixelCNN
from models.multiscale_pixelrnn import MultiScalePixelRNN
from models.pixel_cnn import PixelCNN
from models.pixel_cnn_pp import PixelCNNPlusPlus
from models.pixel_snail import PixelSNAIL
from models.presets import from_preset, presets
from models.row_lstm import RowLSTMPixelRNN

build = registry.build
get = registry.get
names = registry.names

__all__ = ["configs", "DiagonalBiLSTMPixelRNN", "GatedPixelCNN", "MultiScalePixelRNN", "PixelCNN",
           "PixelCNNPlusPlus", "PixelSNAIL", "RowLSTMPixelRNN", "build", "from_preset", "get", "names",
           "presets", "registry"]
