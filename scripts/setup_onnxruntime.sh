#!/usr/bin/env bash
# Installs onnxruntime-node (pinned in tests/onnxruntime/package.json) into tests/onnxruntime/node_modules
# for the `onnxruntime` CTest tests. ONNXRUNTIME_NODE_INSTALL=skip stops its install script from
# downloading GPU binaries (which fails offline); the CPU runtime ships inside the package.
# Needs node and npm (v18+) on PATH; do not use Debian's npm package. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/../tests/onnxruntime"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "setup_onnxruntime: node and npm are required for the onnxruntime tests" >&2
  exit 1
fi
if [ -f package-lock.json ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
else
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
fi
node -e "import('onnxruntime-node').then(o => console.log('onnxruntime-node ' + o.env.versions.common + ' ready'))"
