"""notebooks/pretrained_zoo.ipynb runs headless, cell by cell, and fails on any cell error;
the committed copy carries its outputs (rendered by `python -m notebooks.render`)."""

import os

import nbformat

from notebooks.render import NOTEBOOK, execute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _text(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_notebook_runs_without_project_imports():
    source = open(NOTEBOOK).read()
    for forbidden in ("import pixelrnn_tf", "from pixelrnn_tf", "import models", "from models",
                      "from export", "import export"):
        assert forbidden not in source, forbidden
    from pixelrnn_tf import data

    shared = data.find_shared_data()
    env = dict(PIXELRNN_ZOO=os.environ.get("PIXELRNN_ZOO",
                                           os.path.join(ROOT, "models", "pretrained")))
    if shared is not None:
        env["PIXELRNN_SHARED_DATA"] = str(shared)
    nb = execute(**env)
    text = _text(nb)
    assert "bits/dim" in text and "recorded test NLL" in text and "completed 12 images" in text
    assert _images(nb) == 3  # heat map, samples, completions
    assert ("from the test set" in text) == (shared is not None)


def test_the_committed_notebook_shows_its_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = _text(nb)
    assert "recorded test NLL" in text and "bits/dim" in text and "completed 12 images" in text
    assert _images(nb) == 3  # heat map, samples, completions
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    assert os.path.getsize(NOTEBOOK) < 300_000, "keep the figures small (figure.dpi)"
    assert "cuda" not in text.lower() and "oneDNN" not in text  # TensorFlow's log lines
