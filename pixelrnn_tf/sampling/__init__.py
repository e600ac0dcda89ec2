"""Sampling: the shared draw step, the naive reference sampler, the generic incremental
driver that walks any model's sampling stages, and the user-facing API.

  draw.py     inverse-CDF draw, one uniform keyed by (seed, sub-pixel): one draw step for all
  naive.py    one full network pass per sub-pixel (the reference)
  driver.py   the sampling contract and the generic driver over a model's stages
  stages.py   the naive stage (the contract's default) and the network-stepping stage
  api.py      sample / complete (numpy), graph_complete (exports, CLIs), image grids
"""

from pixelrnn_tf.sampling.api import (complete, completion_grid, graph_complete, image_grid,
                                      sample, save_png)
from pixelrnn_tf.sampling.draw import draw, inverse_cdf, uniform_noise
from pixelrnn_tf.sampling import driver  # noqa: F401
from pixelrnn_tf.sampling.naive import naive_complete

__all__ = ["complete", "completion_grid", "draw", "graph_complete", "inverse_cdf",
           "image_grid", "naive_complete", "sample", "save_png", "uniform_noise"]
