#!/usr/bin/env bash
# Long corruption loop: seeds 1..N, each writing a store and opening I damaged copies.
#   scripts/corruption.sh [seeds=100] [iterations=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-100} iters=${2:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hashlog-co-bin.XXXXXX")
scratch=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/hashlog-co.XXXXXX")
trap 'rm -rf "$tmp" "$scratch"' EXIT
scripts/build-cc.sh corruption_test "$tmp/corruption_test" -O2
files=0 undetected=0
for seed in $(seq 1 "$seeds"); do
  out=$("$tmp/corruption_test" "$seed" "$iters" "$scratch")
  files=$((files + $(sed -E 's/.*files=([0-9]+).*/\1/' <<<"$out")))
  undetected=$((undetected + $(sed -E 's/.*undetected_mid_log_cuts=([0-9]+).*/\1/' <<<"$out")))
done
echo "corrupt files tried: $files, undetected mid-log cuts: $undetected, wrong values: 0"
