#!/usr/bin/env bash
# The test command: installs dependencies, fetches the real test data, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch_data.sh
scripts/setup_onnxruntime.sh
ctest --test-dir build --output-on-failure -j 2 -LE "bench" "$@"
