"""Execute notebooks/pretrained_zoo.ipynb and write it back with its outputs (the committed copy
shows its figures where people look: GitHub, a Jupyter file browser).

  python -m notebooks.render            # from the repository root

nbclient runs every cell in a fresh python3 kernel whose working directory is notebooks/
(the notebook's relative paths to ../models/pretrained and ../../shared/data); nbformat
writes the result. No timing metadata and no TensorFlow C++ log lines are kept, so a re-render
only changes what the notebook computes. tests/test_notebook.py executes it the same way (`execute`) without
writing it.
"""

import os
import sys

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained_zoo.ipynb")


def execute(path=NOTEBOOK, timeout=900, **env):
    """The executed notebook (nbformat node); `env` is set for the kernel, then restored."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def drop_tensorflow_log_lines(nb):
    """Remove TensorFlow's C++ log lines (timestamped, machine-specific: CUDA probing, oneDNN,
    CPU features) from the cells' stderr, as the CLIs hide them (pixelrnn_tf/_quiet.py)."""
    from pixelrnn_tf import _quiet

    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = _quiet.filter_lines(output["text"], min_level=3)
                if not output["text"]:
                    continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return nb


def main(argv):
    import nbformat

    if len(argv) > 1:
        raise SystemExit(f"usage: python -m notebooks.render (unexpected arguments {argv[1:]})")
    nb = drop_tensorflow_log_lines(execute())
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {NOTEBOOK} ({os.path.getsize(NOTEBOOK) // 1024} kB)")


if __name__ == "__main__":
    main(sys.argv)
