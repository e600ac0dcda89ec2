#!/usr/bin/env bash
# `bazel test` offline (Bazel 4.2.3 from Debian): installs it when missing (bazel/install.sh),
# runs the py_test targets with the python3 that has requirements.txt installed, then prints
# a closing line summed over all pytest test cases.
#   bash bazel/test.sh                       # bazel test //...
#   bash bazel/test.sh --test_filter=EXPR //:test_sampling
# Flags (in --flag=value form) and targets given are passed to `bazel test`; with no target,
# //... is tested. Exit code: bazel's (0 passed, 3 a test failed, 1 build error).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bazel/install.sh

# --python_path must be absolute to pin the interpreter: the one pip installed into.
python_bin=$(python3 -c 'import sys; print(sys.executable)')

# ../shared/data beside the checkout, for the offline TFDS tests (passed on by .bazelrc's
# --test_env=PIXELRNN_SHARED_DATA).
if [ -z "${PIXELRNN_SHARED_DATA:-}" ] && [ -d ../shared/data ]; then
  PIXELRNN_SHARED_DATA=$(cd ../shared/data && pwd)
  export PIXELRNN_SHARED_DATA
fi

flags=(--python_path="$python_bin")
# Bazel cannot see site-packages or ../shared/data as inputs: in CI, never reuse a cached pass.
if [ -n "${CI:-}" ]; then
  flags+=(--nocache_test_results)
fi
targets=()
for arg in "$@"; do
  case "$arg" in
    -*) flags+=("$arg") ;;
    *) targets+=("$arg") ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=(//...)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
bazel test "${flags[@]}" -- "${targets[@]}" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}

# Bazel's summary above counts targets; sum the pytest test cases from the JUnit XML
# (test.xml) of every test target of this run, cached ones included. A target Bazel reports
# failed (timeout, crash, "no tests collected") with no failed case in its XML counts as one.
if [ "$status" = 0 ] || [ "$status" = 3 ]; then
  testlogs=$(bazel info bazel-testlogs 2>/dev/null || echo bazel-testlogs)
  query=""
  for t in "${targets[@]}"; do
    part="tests($t)"
    # Like `bazel test`, leave out tags = ["manual"] targets that a wildcard matches.
    case "$t" in *...*|*:all|*:\*) part="($part except attr(tags, manual, $part))" ;; esac
    query="${query:+$query + }$part"
  done
  echo "Test logs: $testlogs"
  bazel query "$query" 2>/dev/null | python3 -c '
import glob, os, re, sys
import xml.etree.ElementTree as ET
logs, bazel_log = sys.argv[1], sys.argv[2]
failed_targets = set(re.findall(
    r"^(//\S+)\s.*(?:FAILED|TIMEOUT|NO STATUS|INCOMPLETE)", open(bazel_log).read(), re.M))
passed = failed = skipped = 0
for label in sys.stdin.read().split():
    pkg, _, name = label.lstrip("/").partition(":")
    base = os.path.join(logs, pkg, name)
    target_failed = 0
    for xml in glob.glob(base + "/test.xml") + glob.glob(base + "/shard_*_of_*/test.xml"):
        try:
            cases = list(ET.parse(xml).getroot().iter("testcase"))
        except (ET.ParseError, OSError):
            cases = []
        for case in cases:
            tags = {child.tag for child in case}
            if tags & {"failure", "error"}:
                target_failed += 1
            elif "skipped" in tags:
                skipped += 1
            else:
                passed += 1
    if label in failed_targets and not target_failed:
        target_failed = 1
    failed += target_failed
print("bazel: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
' "$testlogs" "$log" || true
else
  echo "bazel: build failed or no test targets (bazel test exit $status)"
fi
exit "$status"
