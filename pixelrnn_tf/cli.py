"""The CLIs' shared entry point: a user error is one line on stderr and exit status 1; an
unexpected error keeps its traceback (it is a bug to report, and the traceback locates it).

  from pixelrnn_tf import cli
  if __name__ == "__main__":
      cli.run(main)

Quiet by default: TensorFlow's C++ log lines are hidden before TensorFlow loads (see
`pixelrnn_tf/_quiet.py`) and Python absl logging shows WARNING and above; `--verbose` brings
both back (an explicit `--verbosity` or TF_CPP_MIN_LOG_LEVEL is honoured as given).
"""

import os
import sys

from absl import app, flags, logging

flags.DEFINE_bool("verbose", False, "Show TensorFlow's C++ log lines (INFO / WARNING / ERROR) "
                  "and Python absl INFO logs, hidden by default.")

_PROJECT = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d)
                 + os.sep for d in ("pixelrnn_tf", "models", "export"))


def _user_error_types():
    from pixelrnn_tf.training.checkpoints import CheckpointDamaged
    from pixelrnn_tf.training.trainer import TrainingDiverged
    from pixelrnn_tf.training.workdir import WorkdirMismatch

    # The project's own refusals, and the file errors of paths given on the command line.
    return (app.UsageError, WorkdirMismatch, CheckpointDamaged, TrainingDiverged,
            FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError,
            PermissionError)


def _raised_by_project(error):
    """A ValueError raised by this project's checks (config, data, models) is a user error;
    one raised inside TensorFlow, Keras or numpy is not: it keeps its traceback."""
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and os.path.abspath(
        last.tb_frame.f_code.co_filename).startswith(_PROJECT)


def is_user_error(error):
    if isinstance(error, _user_error_types()):
        return True
    return isinstance(error, ValueError) and _raised_by_project(error)


def one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return f"error: {text}"


def quiet_python_logging():
    """After flags parse: absl/TensorFlow Python logging at WARNING unless --verbose or an
    explicit --verbosity."""
    import logging as py_logging

    f = flags.FLAGS
    if not f.is_parsed() or f.verbose or f["verbosity"].present:  # not parsed: called directly
        return
    logging.set_verbosity(logging.WARNING)
    py_logging.getLogger("tensorflow").setLevel(py_logging.WARNING)


def wrap(main):
    def wrapped(argv):
        quiet_python_logging()
        try:
            return main(argv)
        except Exception as e:  # noqa: BLE001 (re-raised unless it is a user error)
            if not is_user_error(e):
                raise
            sys.stdout.flush()
            print(one_line(e), file=sys.stderr, flush=True)
            sys.exit(1)

    return wrapped


def run(main):
    app.run(wrap(main))
