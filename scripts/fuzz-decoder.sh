#!/usr/bin/env bash
# Coverage-guided fuzzing of the record decoder and recovery (native/cc/fuzz_decoder.cc) with
# libFuzzer, ASan and UBSan for SECONDS, then merges the inputs that reach new coverage into
# the kept corpus (test/reliability/fuzz-corpus, replayed by npm test) and saves any crash
# there too. g++ has no libFuzzer: this installs Debian's clang if it is missing.
#   scripts/fuzz-decoder.sh [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  apt-get install -y clang libclang-rt-14-dev
fi
corpus=test/reliability/fuzz-corpus
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hashlog-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
engine=(status crc32c hash file_posix file_faults log_format segment hash_index log_writer recovery checkpoint lock_file compaction store store_compaction)
srcs=(native/cc/fuzz_decoder.cc)
for e in "${engine[@]}"; do srcs+=("native/$e.cc"); done
clang++ -std=c++17 -g -O1 -pthread -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -o "$tmp/fuzz_decoder" "${srcs[@]}"
mkdir -p "$tmp/work" "$tmp/new"
set +e
"$tmp/fuzz_decoder" -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 \
  -artifact_prefix="$tmp/" "$tmp/work" "$corpus" 2>"$tmp/log"
status=$?
set -e
grep -E "stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb" "$tmp/log" || true
if [ "$status" -ne 0 ]; then
  tail -60 "$tmp/log"
  for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-*; do
    [ -e "$a" ] && cp "$a" "$corpus/" && echo "saved $(basename "$a") to $corpus (replayed by npm test once fixed)"
  done
  exit "$status"
fi
# Keep only inputs that add coverage to what the corpus already has.
"$tmp/fuzz_decoder" -merge=1 -max_len=2048 "$corpus" "$tmp/work" 2>"$tmp/merge.log" >/dev/null
echo "corpus: $(ls "$corpus" | wc -l) inputs, $(cat "$corpus"/* | wc -c) bytes"
