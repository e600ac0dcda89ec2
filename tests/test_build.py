"""The Bazel BUILD file lists every test file, so `bazel test //...` runs what pytest runs."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_test_file_is_a_bazel_target():
    build = open(os.path.join(ROOT, "BUILD")).read()
    listed = set(ast.literal_eval(re.search(r"TESTS = (\{.*?\n\})", build, re.S).group(1)))
    files = {f[:-3] for f in os.listdir(os.path.join(ROOT, "tests"))
             if f.startswith("test_") and f.endswith(".py")}
    assert listed == files, f"BUILD lacks {files - listed}; BUILD has extra {listed - files}"
