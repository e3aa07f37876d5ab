#!/usr/bin/env bash
# Fetches the real data sets img2img's demo and tests use, from Debian packages, without
# installing them: `apt-get download` + `dpkg-deb -x` into data/ (kept between runs).
#   data/etopo5.cdf          ETOPO5 global relief, 5 arc-minutes, public domain (ferret-datasets)
#   data/photos/*.jpg        nature photographs, ~1920 px (mate-backgrounds)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() {  # package -> extracted tree in $tmp/$1
  (cd "$tmp" && apt-get download "$1" >/dev/null 2>&1) || { apt-get update -q >/dev/null && (cd "$tmp" && apt-get download "$1"); }
  dpkg-deb -x "$tmp"/"$1"_*.deb "$tmp/$1"
}

if [ ! -s data/etopo5.cdf ]; then
  fetch ferret-datasets
  src=$(find "$tmp/ferret-datasets" -name 'etopo5.cdf' | head -n 1)
  [ -n "$src" ] || { echo "fetch_data: etopo5.cdf not found in ferret-datasets" >&2; exit 1; }
  cp "$src" data/etopo5.cdf
fi
if [ ! -d data/photos ] || [ -z "$(ls -A data/photos 2>/dev/null)" ]; then
  fetch mate-backgrounds
  mkdir -p data/photos
  # The JPEGs are the photographs (the PNGs are artwork); skip the multi-megapixel duplicates.
  find "$tmp/mate-backgrounds" -type f -iname '*.jpg' -size +200k -size -3M -exec cp {} data/photos/ \;
fi
echo "fetch_data: $(du -sh data | cut -f1) in data/ ($(ls data/photos | wc -l) photos)"
