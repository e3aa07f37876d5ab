#!/usr/bin/env bash
# One-command check of the LibTorch-only build (CMake option IMG2IMG_TORCH_ONLY) on a machine with LibTorch, CMake
# and a C++ compiler only (e.g. a GPU image with PyTorch 2.x): configures and builds it, checks that its programs
# link no OpenCV/GDAL/ONNX/fmt/CLI11 library themselves, runs its tests on $DEVICE, runs the step benchmark at
# the standard cases and prints one summary. Everything goes to gpu_check/ in the checkout (git-ignored).
#
#   DEVICE=cuda Torch_DIR=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/share/cmake/Torch \
#     scripts/gpu_check.sh
#
# Variables: DEVICE (cpu | cuda | cuda:N; default cpu), Torch_DIR (default: the system LibTorch), STEPS (timed
# steps per bench case; default 5), JOBS (build jobs; default the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cpu}
STEPS=${STEPS:-5}
JOBS=${JOBS:-$(nproc)}
OUT=gpu_check
mkdir -p "$OUT"
start=$(date +%s)
fail() {
  echo "gpu_check: FAILED: $1 (log: $OUT/$2)" >&2
  tail -n 40 "$OUT/$2" >&2
  exit 1
}

# Every package but LibTorch is disabled, so the configuration proves it needs none of them.
args=(-S . -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DIMG2IMG_TORCH_ONLY=ON)
for p in OpenCV CLI11 nlohmann_json fmt GTest ONNX GDAL JPEG PNG TIFF; do args+=("-DCMAKE_DISABLE_FIND_PACKAGE_$p=ON"); done
if [ -n "${Torch_DIR:-}" ]; then args+=("-DTorch_DIR=$Torch_DIR"); fi
if [ ! -f "$OUT/build/CMakeCache.txt" ] && command -v ninja > /dev/null; then args+=(-G Ninja); fi
cmake --no-warn-unused-cli "${args[@]}" > "$OUT/configure.log" 2>&1 || fail "configure" configure.log
c10d_note=""
if ! nice cmake --build "$OUT/build" -j "$JOBS" > "$OUT/build.log" 2>&1; then
  # core/process_group.cpp's c10d code has only been compiled against Debian's LibTorch 1.13: where a LibTorch 2.x
  # ships the Gloo headers it is compiled too. If the build failed there, build the rest without it (the models,
  # the step, their tests and bench) and say so, rather than spending a GPU lease on nothing.
  if grep -q "process_group" "$OUT/build.log" && ! grep -q "distributed training is not in this build" "$OUT/configure.log"; then
    cp "$OUT/build.log" "$OUT/build_c10d.log"
    cmake --no-warn-unused-cli "${args[@]}" -DIMG2IMG_DISTRIBUTED=OFF > "$OUT/configure.log" 2>&1 || fail "configure" configure.log
    nice cmake --build "$OUT/build" -j "$JOBS" > "$OUT/build.log" 2>&1 || fail "build" build.log
    c10d_note="c10d (core/process_group.cpp) did NOT build with this LibTorch: built without data-parallel training; see $OUT/build_c10d.log"
  else
    fail "build" build.log
  fi
fi
built=$(date +%s)
bin="$OUT/build/tests/torch_only"

# Direct dependencies of our own programs (LibTorch's own dependencies do not count).
needed=""
if command -v readelf > /dev/null; then
  for b in "$bin/img2img_torch_tests" "$bin/img2img_torch_bench"; do
    readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' > "$OUT/needed_$(basename "$b").txt"
    if grep -iE 'opencv|gdal|onnx|fmt|cli11|protobuf|gtest|json' "$OUT/needed_$(basename "$b").txt"; then
      echo "gpu_check: FAILED: $(basename "$b") links a library the LibTorch-only build must not" >&2
      exit 1
    fi
  done
  needed=$(tr '\n' ' ' < "$OUT/needed_img2img_torch_tests.txt")
else
  needed="(readelf not found: not checked)"
fi

# Tests on $DEVICE; also the CPU reference weights the main suite compares with the full build.
tests_ok=1
DEVICE=$DEVICE "$bin/img2img_torch_tests" --write-weights "$OUT/torch_only_weights.bin" > "$OUT/tests.log" 2>&1 || tests_ok=0
tested=$(date +%s)
bench_ok=1
DEVICE=$DEVICE STEPS=$STEPS "$bin/img2img_torch_bench" > "$OUT/bench.log" 2>&1 || bench_ok=0
done_at=$(date +%s)

{
  echo "== gpu_check summary (DEVICE=$DEVICE, STEPS=$STEPS) =="
  grep -m1 '^LibTorch' "$OUT/tests.log" || true
  grep -E 'IMG2IMG_TORCH_ONLY=' "$OUT/configure.log" | sed 's/^-- //' || true
  echo "build: $((built - start)) s; tests: $((tested - built)) s; bench: $((done_at - tested)) s; total: $((done_at - start)) s"
  echo "NEEDED (img2img_torch_tests): $needed"
  [ -z "$c10d_note" ] || echo "$c10d_note"
  grep -E '^(PASS|FAIL)|max \|cuda' "$OUT/tests.log" || true
  tail -n 1 "$OUT/tests.log"
  grep '^bench' "$OUT/bench.log" || true
  [ $bench_ok = 1 ] || { echo "bench FAILED:"; tail -n 5 "$OUT/bench.log"; }
  echo "logs: $OUT/{configure,build,tests,bench}.log"
  if [ $tests_ok = 1 ] && [ $bench_ok = 1 ]; then echo "gpu_check: OK"; else echo "gpu_check: FAILED"; fi
} | tee "$OUT/summary.txt"
[ $tests_ok = 1 ] && [ $bench_ok = 1 ]
