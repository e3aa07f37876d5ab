#!/usr/bin/env bash
# The main job: installs everything, builds, fetches ETOPO5, builds the terrain data set, trains a
# sketch -> height model (examples/terrain.toml), applies it to the held-out test tiles and prints a
# summary. About 15 minutes on a 2-core CPU once built (see README.md).
#   scripts/demo.sh              everything
#   SKIP_SETUP=1 scripts/demo.sh skip package installation and the build (already done)
#   QUICK=1 scripts/demo.sh      300 tiles x 3 iterations (~3 minutes; a rough model)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "[demo $(( $(date +%s) - start )) s] $*"; }

if [ -z "${SKIP_SETUP:-}" ]; then scripts/setup.sh --main-only; fi
scripts/fetch_data.sh
bin="${IMG2IMG_BIN:-build/img2img}"

max_train=800; train_flags=()
if [ -n "${QUICK:-}" ]; then max_train=300; train_flags=(--train.max_iterations=3 --train.linear_decay=2 --test.frequency=3); fi
# Well-posed task: land tiles with real relief, one fixed metres <-> 16-bit mapping (-500..6500 m,
# 0.11 m per step) and one contour interval for the whole set, and a hypsometric sketch (each cell
# tinted by its 250 m band) so the sketch tells the height band everywhere.
stamp "building the terrain data set from data/etopo5.cdf"
rm -rf data/terrain
"$bin" dataset terrain --input data/etopo5.cdf --output data/terrain \
  --tile-size 64 --stride 32 --lat-band=-60,72 --test-box 20,0,52,32 \
  --min-land 0.5 --min-relief 1500 --height-range=-500,6500 --contour-interval 250 --fill-bands \
  --max-train "$max_train" --seed 1

run="runs/terrain-$(date +%Y%m%d-%H%M%S)"
stamp "training examples/terrain.toml into $run"
"$bin" train --config examples/terrain.toml --output.run_dir="$run" "${train_flags[@]}"

stamp "applying the final model to the held-out test sketches"
"$bin" infer --checkpoint "$run" --input data/terrain/test/sketch --output "$run/test_generated"
"$bin" dataset combine --left data/terrain/test/sketch --right "$run/test_generated" \
  --more data/terrain/test/height --output "$run/test_triplets" >/dev/null
ssim=$("$bin" ssim "$run/test_generated" data/terrain/test/height | awk '$1 == "mean" {print $2}' || true)

stamp "done"
cat <<SUMMARY

== img2img demo: sketch -> terrain (ETOPO5) ==
report:            $run/report.html   (open it in a browser: status, curves, test images)
test SSIM (generated vs real height, $(ls data/terrain/test/height | wc -l) held-out tiles): $ssim
run folder:        $run
  checkpoints:     $run/checkpoints/
  final model:     $(ls -t "$run"/checkpoints/generator_0_*[0-9].pt | head -n 1)
  ONNX:            $(ls -t "$run"/onnx/*.onnx | head -n 1)   (input/output [N, C, H, W] in [0, 1]; docs/onnx.md)
  plots:           $run/plots/   (ssim, loss, score)
  manifest:        $run/outputs.json
  test outputs:    $run/test_generated/   (16-bit heights; metres: data/terrain/terrain.json)
  triplets:        $run/test_triplets/    (sketch | generated | real)
  training log:    $run/train.log
total time: $(( $(date +%s) - start )) s
SUMMARY
