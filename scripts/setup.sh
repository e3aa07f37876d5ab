#!/usr/bin/env bash
# Installs every dependency of img2img from Debian 12's packages (run as root, or with sudo
# available), then configures and builds into build/. Safe to re-run.
#   scripts/setup.sh             all packages (incl. test-only references) + build everything
#   scripts/setup.sh --main-only packages to build and run img2img + build only the img2img program
#                                (what scripts/demo.sh needs; about a third of the compile work)
#   scripts/setup.sh --no-build  only install packages
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libtorch-dev            # LibTorch 1.13 (CPU)
  libgloo-dev             # Gloo headers for c10d data-parallel training (core/process_group.cpp; docs/distributed.md)
  libopenblas0-openmp     # fast BLAS for libtorch (the reference BLAS is ~8x slower)
  libdnnl-dev             # oneDNN's SGEMM for small-feature-map convolutions (models/fast_conv)
  libopencv-dev           # image I/O and geometry
  libjpeg-dev             # JPEG integrity check before OpenCV decodes (data/image_io.cpp)
  zlib1g-dev libpng-dev   # PNG chunk CRC check and silent libpng decode (same file)
  libtiff-dev             # the sample format of TIFFs OpenCV cannot decode (same file)
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev
  libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX export
  libgdal-dev             # elevation data for `img2img dataset terrain`
  gnuplot-nox             # PNG plots
)
# Test-only: independent references (torch.load of our checkpoints, scikit-image SSIM, golden files).
TEST_PACKAGES=(python3-torch python3-skimage)
mode="${1:-}"
if [ "$mode" != "--main-only" ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$mode" = "--no-build" ]; then exit 0; fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
if [ "$mode" = "--main-only" ]; then
  cmake --build build -j "$(nproc)" --target img2img
else
  cmake --build build -j "$(nproc)"
fi
