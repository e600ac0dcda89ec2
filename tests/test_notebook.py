"""notebooks/pretrained_zoo.ipynb runs headless, cell by cell, and fails on any cell error."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "pretrained_zoo.ipynb")


def _run(tmp_path, **env):
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                         resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _text(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_notebook_runs_without_project_imports(tmp_path):
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
    nb = _run(tmp_path, **env)
    text = _text(nb)
    assert "bits/dim" in text and "recorded test NLL" in text and "completed 12 images" in text
    assert _images(nb) == 3  # heat map, samples, completions
    assert ("from the test set" in text) == (shared is not None)
