#!/usr/bin/env bash
# The test command: installs dependencies, fetches the real test data, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch_data.sh
scripts/setup_onnxruntime.sh
# The LibTorch-only build on the CPU (~1-2 min warm, bench 1 step per case); its reference weights are compared
# with this build's by TorchOnlyStepTest.SameWeightsAsFullBuild, which must not skip here.
DEVICE=cpu STEPS="${IMG2IMG_GPU_CHECK_STEPS:-1}" JOBS=2 scripts/gpu_check.sh
IMG2IMG_REQUIRE_TORCH_ONLY_WEIGHTS=1 ctest --test-dir build --output-on-failure -j 2 -LE "bench" "$@"
# libFuzzer targets (config parser; image decoding + channel rule), ~60 s each; IMG2IMG_SKIP_FUZZ=1 skips.
if [ "${IMG2IMG_SKIP_FUZZ:-0}" != 1 ]; then scripts/fuzz.sh "${IMG2IMG_FUZZ_SECONDS:-60}"; fi
