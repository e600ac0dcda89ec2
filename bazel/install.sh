#!/usr/bin/env bash
# Installs what the offline Bazel test run needs (idempotent; see bazel/NOTES.md):
#   bazel-bootstrap         Debian's Bazel 4.2.3
#   bazel-bootstrap-source  /usr/src/bazel-bootstrap/mock_repos/: the rule repositories
#                           (rules_cc, rules_java, ...) that .bazelrc points Bazel at instead
#                           of downloading them
#   python-is-python3       only when no `python` is on PATH: Bazel 4's py_test launcher
#                           starts with `#!/usr/bin/env python`
# The remote_coverage_tools stub is committed in bazel/stub_repos/; nothing is generated.
# apt-get runs only when something is missing.
set -euo pipefail

mock_repos=/usr/src/bazel-bootstrap/mock_repos
stub="$(cd "$(dirname "$0")" && pwd)/stub_repos/remote_coverage_tools"

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

packages=()
installed bazel-bootstrap && command -v bazel >/dev/null 2>&1 || packages+=(bazel-bootstrap)
installed bazel-bootstrap-source && [ -f "$mock_repos/rules_cc/WORKSPACE" ] ||
  packages+=(bazel-bootstrap-source)
command -v python >/dev/null 2>&1 || packages+=(python-is-python3)

if [ "${#packages[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bazel/install.sh: apt-get install ${packages[*]}" >&2
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
fi

for repo in rules_cc rules_java rules_proto platforms bazel_skylib rules_pkg \
    remote_java_tools_linux; do
  if [ ! -d "$mock_repos/$repo" ]; then
    echo "bazel/install.sh: missing $mock_repos/$repo (bazel-bootstrap-source)" >&2
    exit 1
  fi
done
for f in WORKSPACE BUILD unavailable.sh; do
  if [ ! -f "$stub/$f" ]; then
    echo "bazel/install.sh: missing $stub/$f" >&2
    exit 1
  fi
done
