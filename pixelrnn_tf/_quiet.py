"""Quiet command lines: hide TensorFlow's C++ log lines unless asked for (no TF import here).

Run by `pixelrnn_tf/__init__.py` before TensorFlow is imported, and only when the process is
one of the project's CLIs (`python -m pixelrnn_tf.train` etc.); importing the library from
Python or a notebook is left alone.

* TF_CPP_MIN_LOG_LEVEL (default 3 for the CLIs) hides TensorFlow's C++ INFO / WARNING /
  ERROR lines logged once the library is loaded (cpu_feature_guard, cuInit, the tf.data
  GeneratorDataset lines).
* Lines logged while TensorFlow's shared libraries load (port.cc "oneDNN custom operations
  are on", cudart_stub.cc "Could not find cuda drivers", and absl's "WARNING: All log
  messages before absl::InitializeLog() is called are written to STDERR") ignore every
  environment variable (TF_CPP_MIN_LOG_LEVEL, GLOG_minloglevel, ABSL_MIN_LOG_LEVEL tried), so
  stderr (fd 2) is captured during `import keras` and replayed without the absl-format lines
  below that level; anything else (a Python warning, an import error) is replayed as is.
* `--verbose` (or a TF_CPP_MIN_LOG_LEVEL set by the user) brings them back.
"""

import contextlib
import os
import re
import sys
import tempfile

CLI_MODULES = frozenset({
    "pixelrnn_tf.train", "pixelrnn_tf.evaluate", "pixelrnn_tf.sample", "pixelrnn_tf.complete",
    "pixelrnn_tf.campaign", "pixelrnn_tf.bench", "pixelrnn_tf.compress",
    "pixelrnn_tf.decompress", "export.export_saved_model", "export.publish_pretrained",
    "export.reexport_pretrained",
})

# absl / TSL C++ log lines: severity letter, MMDD, time, thread, file:line]
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] ")
_PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def cli_args(argv=None):
    """The arguments after `-m <cli module>` if this process is one of the CLIs, else None."""
    argv = list(getattr(sys, "orig_argv", None) or []) if argv is None else list(argv)
    for i, a in enumerate(argv[:-1]):
        if a == "-m":
            return argv[i + 2:] if argv[i + 1] in CLI_MODULES else None
    return None


def verbose_requested(args):
    verbose = False
    for a in args:
        if a == "--":
            break
        if a in ("--verbose", "-verbose"):
            verbose = True
        elif a in ("--noverbose", "-noverbose"):
            verbose = False
        elif a.startswith(("--verbose=", "-verbose=")):
            verbose = a.split("=", 1)[1].lower() in ("1", "true", "t", "yes", "y")
    return verbose


def filter_lines(text, min_level):
    """`text` without the C++ log lines below `min_level` (and the absl pre-init banner, with
    the continuation line of a multi-line message such as cpu_feature_guard's)."""
    out, dropping = [], False
    for line in text.splitlines(keepends=True):
        m = _ABSL_LINE.match(line)
        if m:
            dropping = _SEVERITY[m.group(1)] < min_level
        elif line.startswith(_PRE_INIT):
            dropping = min_level > 0
        elif not (dropping and line.startswith("To enable the following instructions")):
            dropping = False
        if not dropping:
            out.append(line)
    return "".join(out)


@contextlib.contextmanager
def _filtered_stderr(min_level):
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            if not failed:
                text = filter_lines(text, min_level)
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()


def setup():
    """Configure a CLI process before TensorFlow loads; a context to import TensorFlow in."""
    args = cli_args()
    if args is None:
        return contextlib.nullcontext()
    if verbose_requested(args):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return contextlib.nullcontext()
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        min_level = int(level)
    except ValueError:
        min_level = 0
    if min_level <= 0:
        return contextlib.nullcontext()
    return _filtered_stderr(min_level)
