#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: config parser; image decoding + channel rule) with clang,
# ASan and UBSan into build-fuzz/, and runs each for SECONDS seconds (default 60) via the CTest
# label "fuzz". Any crash, uncaught exception or sanitizer report fails; the input that caused it
# is left in build-fuzz/ (crash-*) to reproduce with: build-fuzz/<target> crash-<hash>.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang libclang-rt-14-dev
fi
CC=clang CXX=clang++ cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIMG2IMG_FUZZ_SECONDS="$SECONDS_EACH" >/dev/null
cmake --build build-fuzz -j "$(nproc)"
cd build-fuzz && ctest -L fuzz --output-on-failure
