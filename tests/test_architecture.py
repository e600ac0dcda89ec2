"""The dependency direction: the library (`pixelrnn_tf/`) never imports the zoo (`models/`) or
`export/`; only the command-line entry modules do, to fill the library's registry."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The command-line entry modules: the only library modules allowed to import the zoo.
ENTRY_MODULES = {"pixelrnn_tf.train", "pixelrnn_tf.evaluate", "pixelrnn_tf.sample",
                 "pixelrnn_tf.complete", "pixelrnn_tf.bench", "pixelrnn_tf.bench_train",
                 "pixelrnn_tf.campaign", "pixelrnn_tf.compress", "pixelrnn_tf.decompress"}
FORBIDDEN = ("models", "export")


def library_modules():
    names = []
    for path in sorted((ROOT / "pixelrnn_tf").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if name not in ENTRY_MODULES:
            names.append((name, path))
    return names


# Run in a fresh process: importing `models` or `export` (or a submodule) raises there.
GUARD = """
import importlib, sys
class Guard:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {forbidden!r}:
            raise ImportError('library module imported ' + name)
sys.meta_path.insert(0, Guard())
for name in {modules!r}:
    importlib.import_module(name)
print('imported', len({modules!r}))
"""


def _import_guarded(modules):
    code = GUARD.format(forbidden=FORBIDDEN, modules=list(modules))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin",
                                          "PYTHONPATH": str(ROOT)})


def test_every_library_module_imports_without_the_zoo():
    modules = [name for name, _ in library_modules()]
    assert "pixelrnn_tf.registry" in modules and "pixelrnn_tf.training.trainer" in modules
    result = _import_guarded(modules)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(modules)}" in result.stdout


def test_the_guard_catches_an_import_of_the_zoo():
    # Negative control: a module that does import the zoo fails under the same guard.
    result = _import_guarded(["export.export_saved_model"])
    assert result.returncode != 0 and "imported export" in result.stderr


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # function-level (lazy) imports included
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("name,path", library_modules(), ids=[n for n, _ in library_modules()])
def test_no_library_module_imports_the_zoo_even_lazily(name, path):
    bad = [m for m in _imports(path) if m.split(".")[0] in FORBIDDEN]
    assert not bad, f"{name} imports {bad}"


def test_importing_the_zoo_fills_both_registries():
    # What an entry module relies on: `import models` alone registers the models AND the
    # experiment configs (a fresh process: no test module has imported models.configs).
    code = ("import models\nfrom pixelrnn_tf import experiments, registry\n"
            "assert 'pixel_cnn' in registry.names(), registry.names()\n"
            "assert 'mnist_pixel_cnn' in experiments.names(), experiments.names()\n"
            "assert 'campaign_mnist_pixel_cnn' in experiments.names()\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
