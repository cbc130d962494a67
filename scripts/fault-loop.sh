#!/usr/bin/env bash
# Long I/O fault loop: every seam call x {EIO, ENOSPC, EMFILE} x {once, sticky}, failing
# at its Nth call for N = 0, 1, 2, ..., over many seeds and a longer workload.
#   scripts/fault-loop.sh [seeds=20] [workload-ops=150]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-20} ops=${2:-150}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hashlog-fl-bin.XXXXXX")
scratch=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/hashlog-fl.XXXXXX")
trap 'rm -rf "$tmp" "$scratch"' EXIT
scripts/build-cc.sh fault_loop_test "$tmp/fault_loop_test" -O2
runs=0 faults=0
for seed in $(seq 1 "$seeds"); do
  out=$("$tmp/fault_loop_test" "$seed" "$ops" "$scratch")
  echo "$out"
  runs=$((runs + $(sed -E 's/.*runs=([0-9]+).*/\1/' <<<"$out")))
  faults=$((faults + $(sed -E 's/.*faults_injected=([0-9]+).*/\1/' <<<"$out")))
done
echo "runs: $runs, faults injected: $faults, acknowledged writes lost: 0"
