#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then
# `cargo test`. The end-to-end tests drive the real kubectl against `wharf up`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v tar >/dev/null || need_apt+=(tar)
command -v gzip >/dev/null || need_apt+=(gzip)
# The node agent: a static busybox for test images, runc as the second OCI runtime,
# libseccomp to build youki's libcontainer with real seccomp; Debian's docker-registry is the
# reference peer of the registry tests and benchmark.
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v runc >/dev/null || need_apt+=(runc)
dpkg -s libseccomp-dev >/dev/null 2>&1 || need_apt+=(libseccomp-dev)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# Services (kube-proxy role) are programmed with nftables through the `nft` binary.
command -v nft >/dev/null || need_apt+=(nftables)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing packages: ${need_apt[*]} (run as root or install them)" >&2
    exit 1
  fi
fi
# The AWS front door's tests drive the real aws CLI (v1, botocore).
if ! command -v aws >/dev/null; then
  python3 -m pip install --quiet awscli
fi
if ! command -v kubectl >/dev/null; then
  echo "kubectl is required for the end-to-end tests" >&2
  exit 1
fi

export CARGO_TERM_COLOR=never
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo's last line is a doc-test summary).
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
