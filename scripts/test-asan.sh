#!/usr/bin/env bash
# Builds the standalone C++ test programs (no N-API) with AddressSanitizer and UBSan and runs
# them: the hash index tests (shared readers included), the readers-on-other-threads test, the workload driver (the whole Store API), the power-cut test,
# the I/O fault loop, the corruption loop and the fuzz corpus; then the threaded ones under
# ThreadSanitizer. Any report fails the run (-fno-sanitize-recover, halt_on_error).
#   npm run test:asan [-- <scale=1>]     (scale multiplies seeds and rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hashlog-asan.XXXXXX")
scratch=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/hashlog-asan.XXXXXX")
trap 'rm -rf "$tmp" "$scratch"' EXIT
san=(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

echo "building with ${san[*]}"
g++ -std=c++17 -g -Wall -Wextra -Werror "${san[@]}" -o "$tmp/hash_index_test" \
  test/native/cc/hash_index_test.cc native/hash_index.cc native/status.cc
g++ -std=c++17 -g -Wall -Wextra -Werror "${san[@]}" -o "$tmp/hash_index_resize_test" \
  test/native/cc/hash_index_resize_test.cc native/hash_index.cc native/status.cc
g++ -std=c++17 -g -Wall -Wextra -Werror -pthread "${san[@]}" -o "$tmp/hash_index_shared_test" \
  test/native/cc/hash_index_shared_test.cc native/hash_index.cc native/epoch.cc native/status.cc
for p in workload_driver power_cut_test fault_loop_test compaction_fault_loop_test corruption_test shared_readers_test; do
  scripts/build-cc.sh "$p" "$tmp/$p" "${san[@]}"
done
scripts/build-cc.sh fuzz_replay "$tmp/fuzz_replay" "${san[@]}" native/cc/fuzz_decoder.cc

for seed in 1 2 3; do "$tmp/hash_index_test" "$seed"; "$tmp/hash_index_resize_test" "$seed"; done
"$tmp/hash_index_shared_test" 1 $((20 * scale)) 2
"$tmp/shared_readers_test" 1 $((10 * scale)) "$scratch" 2
for seed in $(seq 1 $((4 * scale))); do "$tmp/workload_driver" "$seed" $((10 * scale)) "$scratch"; done
"$tmp/power_cut_test" 1 $((6 * scale)) 3 "$scratch"
"$tmp/fault_loop_test" 1 40 "$scratch"
"$tmp/compaction_fault_loop_test" 1 40 "$scratch"
for seed in $(seq 1 $((2 * scale))); do "$tmp/corruption_test" "$seed" 500 "$scratch"; done
"$tmp/fuzz_replay" test/reliability/fuzz-corpus
echo "asan/ubsan: no reports"

# The owner and flush threads under ThreadSanitizer too (-Wno-tsan: TSan does not model
# the hash index's seqlock fences, which it warns about at compile time).
for p in workload_driver fault_loop_test compaction_fault_loop_test shared_readers_test; do
  scripts/build-cc.sh "$p" "$tmp/$p-tsan" -O1 -fsanitize=thread -Wno-tsan
done
g++ -std=c++17 -g -Wall -Wextra -Werror -pthread -O1 -fsanitize=thread -Wno-tsan -o "$tmp/hash_index_shared_test-tsan" \
  test/native/cc/hash_index_shared_test.cc native/hash_index.cc native/epoch.cc native/status.cc
TSAN_OPTIONS=halt_on_error=1 "$tmp/hash_index_shared_test-tsan" 1 $((20 * scale)) 2
TSAN_OPTIONS=halt_on_error=1 "$tmp/shared_readers_test-tsan" 1 $((10 * scale)) "$scratch" 2
for seed in $(seq 1 $((4 * scale))); do
  TSAN_OPTIONS=halt_on_error=1 "$tmp/workload_driver-tsan" "$seed" $((10 * scale)) "$scratch"
done
TSAN_OPTIONS=halt_on_error=1 "$tmp/fault_loop_test-tsan" 1 40 "$scratch"
TSAN_OPTIONS=halt_on_error=1 "$tmp/compaction_fault_loop_test-tsan" 1 40 "$scratch"
echo "tsan: no reports"
