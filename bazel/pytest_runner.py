"""Run one pytest file as a Bazel py_test (Bazel 4.2.3, offline; see bazel/NOTES.md).

BUILD use: py_test(srcs = ["bazel/pytest_runner.py", "tests/test_x.py"],
main = "bazel/pytest_runner.py", args = ["tests/test_x.py"], ...). Other pytest options may
stand in args too.

* The working directory is the workspace folder of the runfiles tree, also put first on
  sys.path, so `import pixelrnn_tf` finds the package whatever the workspace is named.
* pytest's exit code is passed through. Exit 5, "no tests collected" (also when -m / -k /
  --test_filter left none), is a failure, except for a shard that got none of the file's tests
  because the target has more shards than the file has tests.
* Sharding (shard_count = N): Bazel sets TEST_TOTAL_SHARDS and TEST_SHARD_INDEX; shard i runs
  the collected test ids i, i+N, i+2N, ... (after -m / -k filtering), and the runner touches
  TEST_SHARD_STATUS_FILE to tell Bazel it shards.
* `-m "not slow"` is added unless args pass their own -m, as README's test command does.
* `bazel test --test_filter=EXPR` becomes pytest's `-k EXPR`; pytest writes its JUnit XML to
  XML_OUTPUT_FILE, so test.xml in bazel-testlogs lists every test case.
"""

import os
import sys

NO_TESTS_COLLECTED = 5


class _Shard:
    """pytest plugin: counts the file's selected tests and keeps this shard's share."""

    def __init__(self, index, total):
        self.index, self.total = index, total
        self.selected = 0

    def modifyitems(self, config, items):
        self.selected = len(items)
        if self.total > 1:
            keep = items[self.index :: self.total]
            kept = {id(item) for item in keep}
            dropped = [item for item in items if id(item) not in kept]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
            items[:] = keep


def _has_markexpr(argv):
    return any(a == "-m" or (a.startswith("-m") and not a.startswith("--")) for a in argv)


def main(argv):
    import pytest

    workspace = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(workspace)
    if sys.path[:1] != [workspace]:
        sys.path.insert(0, workspace)

    total = int(os.environ.get("TEST_TOTAL_SHARDS") or 1)
    index = int(os.environ.get("TEST_SHARD_INDEX") or 0)
    status_file = os.environ.get("TEST_SHARD_STATUS_FILE")
    if status_file:
        open(status_file, "a").close()

    shard = _Shard(index, total)

    class Plugin:
        # trylast: after pytest's own -m / -k / --deselect filtering.
        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, config, items):
            shard.modifyitems(config, items)

    args = ["-q", "-p", "no:cacheprovider", "--rootdir", workspace]
    if not _has_markexpr(argv):
        args += ["-m", "not slow"]
    test_filter = os.environ.get("TESTBRIDGE_TEST_ONLY")
    if test_filter:
        args += ["-k", test_filter]
    if os.environ.get("XML_OUTPUT_FILE"):
        args.append("--junitxml=" + os.environ["XML_OUTPUT_FILE"])

    code = int(pytest.main(args + list(argv), plugins=[Plugin()]))

    if code == NO_TESTS_COLLECTED:
        if total > 1 and shard.selected:
            print(
                "pytest_runner: shard %d of %d got none of the file's %d tests (more shards "
                "than tests): passing" % (index + 1, total, shard.selected),
                file=sys.stderr,
            )
            return 0
        print(
            "pytest_runner: no tests collected from %s: failing (pytest exit 5)" % " ".join(argv),
            file=sys.stderr,
        )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
