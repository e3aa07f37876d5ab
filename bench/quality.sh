#!/usr/bin/env bash
# Test-set quality of the generator a run saves, over seeds and tested iterations (issue 18,
# docs/quality.md). Trains on three data sets it builds itself, tests every 2 iterations on every test
# sample (test.size = 0), and prints per tested iteration the mean and spread over seeds of the test
# SSIM and mean absolute error (metres for terrain, 8-bit levels for colour) next to two trivial
# predictions (the mean training reference image, a constant mid-grey); bench/quality_metrics.py
# computes them from the test images. Not a test: it takes minutes.
#
#   bench/quality.sh [--quick] [--bin PATH] [--work DIR] [--label NAME] [--sets LIST] [-- TRAIN FLAGS...]
#     --quick      screening sizes (a few minutes on an idle 2-core machine; see below)
#     --bin PATH   the img2img binary to measure (default build/img2img): a build of another commit
#                  measures "before"
#     --work DIR   data sets and runs (default /tmp/img2img-quality); data sets are reused
#     --label NAME runs go to WORK/runs/NAME (default: before/after-like name from the flags)
#     --sets LIST  comma-separated subset of terrain64,terrain128,colour (default: all three)
#     --seeds LIST comma-separated seeds of terrain64 (default 1,2,3,4,5 full, 1,2,3 quick)
#     -- FLAGS     extra `img2img train` flags for every run (a candidate: --generator.ema_decay=0)
#     --before OLD also measure the binary OLD (a build of the commit before, docs/quality.md) with the same
#                  sizes first, then this one, and print the two side by side: one command for before/after
#   bench/quality.sh --compare WORK/runs/A WORK/runs/B   the two summaries side by side
#
# Sets (full / --quick):
#   terrain64   the demo's terrain data set (scripts/demo.sh's `dataset terrain` command; 300 / 200
#               train tiles, 68 test tiles), examples/terrain.toml, 12 / 6 iterations, seeds 1-5 / 1-3
#   terrain128  `dataset terrain --tile-size 128` (150 / 80 train tiles), pix2pix settings as in the
#               issue (batch 1, BatchNorm, dropout, vanilla GAN, L1 x 100, constant learning rate
#               2e-4; a 7-layer U-Net at half pix2pix's width for CPU time), 12 / 6 iterations, seed 1
#   colour      `dataset pairs --size 128 --crops 16` (grey -> colour; 128 / 48 train pairs, 32 test
#               pairs), examples/colorize.toml, 12 / 6 iterations, seed 1
# Every run uses 2 CPU threads (results depend on the thread count, not on the machine's load).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/build/img2img"; work=/tmp/img2img-quality; label=""; quick=0; sets="terrain64,terrain128,colour"
extra=(); before=""; seeds_arg=""
if [ "${1:-}" = "--compare" ]; then exec /usr/bin/python3 "$repo/bench/quality_metrics.py" --compare "$2" "$3"; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --bin) bin="$(realpath "$2")"; shift ;;
    --work) work="$2"; shift ;;
    --label) label="$2"; shift ;;
    --sets) sets="$2"; shift ;;
    --before) before="$(realpath "$2")"; shift ;;
    --seeds) seeds_arg="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "quality.sh: unknown argument '$1' (see the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "quality.sh: no img2img binary at '$bin'; build it or pass --bin PATH" >&2; exit 2; }
etopo="$repo/data/etopo5.cdf"
[ -f "$etopo" ] || { echo "quality.sh: '$etopo' is missing; run scripts/fetch_data.sh" >&2; exit 2; }
photos="$repo/data/photos"
mode=full; [ "$quick" = 1 ] && mode=quick
[ -n "$label" ] || label="$mode-$(date +%Y%m%d-%H%M%S)"
if [ -n "$before" ]; then  # before/after in one command: the same sizes and flags for both binaries
  q=(); [ "$quick" = 1 ] && q=(--quick)
  [ -n "$seeds_arg" ] && q+=(--seeds "$seeds_arg")
  "$0" "${q[@]}" --bin "$before" --work "$work" --label "$label-before" --sets "$sets" -- ${extra[@]+"${extra[@]}"}
  "$0" "${q[@]}" --bin "$bin" --work "$work" --label "$label-after" --sets "$sets" -- ${extra[@]+"${extra[@]}"}
  exec /usr/bin/python3 "$repo/bench/quality_metrics.py" --compare "$(realpath "$work")/runs/$label-before" \
    "$(realpath "$work")/runs/$label-after"
fi
# Fixed thread counts spin-wait (GOMP_SPINCOUNT 300000 for train, issue 16): beside other work a run took
# 21 min instead of 3 (2026-12-07, load 6). The passive wait changes no result, only the time.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p "$work/data"
work="$(realpath "$work")"
out="$work/runs/$label"
rm -rf "$out"; mkdir -p "$out"
start=$(date +%s)
stamp() { echo "[quality $(( $(date +%s) - start )) s] $*"; }

if [ "$quick" = 1 ]; then its=6; t64_tiles=200; t128_tiles=80; colour_pairs=48; t64_seeds="1 2 3"
else its=12; t64_tiles=300; t128_tiles=150; colour_pairs=128; t64_seeds="1 2 3 4 5"; fi
if [ -n "$seeds_arg" ]; then
  [[ "$seeds_arg" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "quality.sh: --seeds '$seeds_arg': expected comma-separated whole numbers, e.g. 1,2,3,4,5" >&2; exit 2; }
  t64_seeds="${seeds_arg//,/ }"
fi
half=$(( its / 2 ))
# Written test images of every tested sample (the metrics read them); no ONNX files (not measured).
common=(--test.enabled=true --test.frequency=2 --test.size=0 --test.image_count=100000
        --train.max_iterations="$its" --output.onnx_path= --output.model_save_rate=0 --plot.type=csv
        --device.cpu_threads=2)

terrain_set() {  # terrain_set NAME TILE_SIZE STRIDE MAX_TRAIN: the demo's command at another size
  local dir="$work/data/$1"
  if [ ! -f "$dir/terrain.json" ]; then
    rm -rf "$dir"
    "$bin" dataset terrain --input "$etopo" --output "$dir" --tile-size "$2" --stride "$3" --lat-band=-60,72 \
      --test-box 20,0,52,32 --min-land 0.5 --min-relief 1500 --height-range=-500,6500 --contour-interval 250 \
      --fill-bands --max-train "$4" --seed 1 >/dev/null
  fi
  echo "$dir"
}

set_info() {  # set_info NAME TRAIN_REFERENCE_DIR SCALE UNIT: what quality_metrics.py needs of a set
  printf '{"train_reference_dir": "%s", "scale": %s, "unit": "%s", "flags": "%s"}\n' "$2" "$3" "$4" "${extra[*]:-}" \
    > "$out/$1.set.json"
}

train_run() {  # train_run SET SEED FLAGS...
  local set="$1" seed="$2"; shift 2
  stamp "training $set seed $seed"
  "$bin" train "$@" "${common[@]}" --train.seed="$seed" --output.run_dir="$out/$set-s$seed" \
    ${extra[@]+"${extra[@]}"} > "$out/$set-s$seed.out" 2>&1 \
    || { echo "quality.sh: training $set seed $seed failed; see $out/$set-s$seed.out" >&2; tail -5 "$out/$set-s$seed.out" >&2; exit 1; }
}

metres() {  # metres per 16-bit value of a terrain set
  /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['height_mapping']['metres_per_value'] * 65535)" "$1/terrain.json"
}

case ",$sets," in *,terrain64,*)
  d=$(terrain_set "terrain64-$t64_tiles" 64 32 "$t64_tiles")
  set_info terrain64 "$d/train/height" "$(metres "$d")" "metres"
  for seed in $t64_seeds; do
    train_run terrain64 "$seed" --config "$repo/examples/terrain.toml" --train.linear_decay="$half" \
      --data.input_dir="$d/train/sketch" --data.reference_dir="$d/train/height" \
      --test.input_dir="$d/test/sketch" --test.reference_dir="$d/test/height"
  done ;;
esac

case ",$sets," in *,terrain128,*)
  d=$(terrain_set "terrain128-$t128_tiles" 128 64 "$t128_tiles")
  set_info terrain128 "$d/train/height" "$(metres "$d")" "metres"
  train_run terrain128 1 --data.input_dir="$d/train/sketch" --data.reference_dir="$d/train/height" \
    --test.input_dir="$d/test/sketch" --test.reference_dir="$d/test/height" --data.image_size=128 \
    --data.batch_size=1 --data.flip_horizontal=0.5 --data.flip_vertical=0.5 --train.scheduler=step \
    --train.step_size=1000 --train.learning_rate=0.0002 --generator.layers=7 --generator.initial_layer_size=32 \
    --generator.max_layer_size=256 --discriminator.initial_layer_size=32 ;;
esac

case ",$sets," in *,colour,*)
  d="$work/data/photo_pairs-128-16"
  if [ ! -d "$d/train/color" ]; then
    rm -rf "$d"
    "$bin" dataset pairs --input "$photos" --output "$d" --size 128 --crops 16 >/dev/null
  fi
  # The first colour_pairs training pairs by name (data.limit_count); their references give the mean image.
  ref="$out/colour-train-reference"
  mkdir -p "$ref"
  ls "$d/train/color" | sort | head -n "$colour_pairs" | while read -r f; do ln -s "$d/train/color/$f" "$ref/$f"; done
  set_info colour "$ref" 255 "8-bit levels"
  train_run colour 1 --config "$repo/examples/colorize.toml" --train.linear_decay="$half" \
    --data.limit_count="$colour_pairs" --data.input_dir="$d/train/gray" --data.reference_dir="$d/train/color" \
    --test.input_dir="$d/test/gray" --test.reference_dir="$d/test/color" ;;
esac

stamp "computing the metrics"
/usr/bin/python3 "$repo/bench/quality_metrics.py" "$out" | tee "$out/summary.txt"
stamp "done: $out (summary.txt, quality.json; compare two with: bench/quality.sh --compare DIR_A DIR_B)"
