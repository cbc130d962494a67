#!/usr/bin/env bash
# Builds one standalone C++ reliability program (native/cc/<name>.cc) with the engine
# sources, no N-API. Extra arguments are passed to g++ (e.g. sanitizer flags).
#   scripts/build-cc.sh <name> <out> [g++ flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 out=$2
shift 2
engine=(status crc32c hash file_posix file_faults log_format segment hash_index log_writer recovery checkpoint lock_file compaction store store_compaction store_shared epoch)
srcs=("native/cc/$name.cc" native/testing/recording_file_system.cc)
for e in "${engine[@]}"; do srcs+=("native/$e.cc"); done
g++ -std=c++17 -g -Wall -Wextra -Werror -pthread "$@" -o "$out" "${srcs[@]}"
