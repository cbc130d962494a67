#!/usr/bin/env bash
# Long power-cut run: N workloads (seeds 1000..1000+N), every fsync boundary plus R random
# lost/torn/reordered-write states per boundary, each rebuilt, recovered and checked.
#   scripts/power-cut.sh [workloads=500] [random-states-per-boundary=8]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500} r=${2:-8}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hashlog-pc-bin.XXXXXX")
scratch=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/hashlog-pc.XXXXXX")
trap 'rm -rf "$tmp" "$scratch"' EXIT
scripts/build-cc.sh power_cut_test "$tmp/power_cut_test" -O2
"$tmp/power_cut_test" 1000 "$n" "$r" "$scratch"
