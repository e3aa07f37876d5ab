#!/usr/bin/python3
"""Test-set quality of img2img runs, for bench/quality.sh (docs/quality.md).

Reads the test images every tested iteration wrote (RUN/test/<iteration>/*_{generated,reference}.png,
all tested samples: quality.sh sets test.image_count above the test set's size) and prints, per data
set and tested iteration, the mean and the spread over seeds of
  - SSIM: scikit-image structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1) on images in [0, 1], the formulation
    of img2img's own test SSIM (src/img2img/metrics/ssim.h), averaged over the test samples;
  - MAE: mean absolute error over pixels and channels, in the set's unit (metres for terrain via
    terrain.json's metres_per_value; 8-bit levels for colour images),
next to two trivial predictions: the mean training reference image and a constant mid-grey.
Needs numpy and scikit-image (Debian: python3-numpy, python3-skimage, under /usr/bin/python3).
16-bit RGB PNGs are decoded here (zlib + PNG filters): Pillow reads them as 8-bit.

  quality_metrics.py LABEL_DIR             every <set>-s<seed>/ run below it (set.json beside them)
  quality_metrics.py --compare A_DIR B_DIR  the two labels' summaries (quality.json) side by side
"""
import json
import os
import re
import struct
import sys
import zlib

import numpy as np
from skimage.metrics import structural_similarity


def read_png(path):
    """A PNG as float64 [H, W, C] in [0, 1] (8- or 16-bit grey, grey+alpha, RGB, RGBA; not interlaced)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (8, 16) or interlace:
        raise ValueError(f"{path}: unsupported PNG (colour type {colour}, depth {depth}, interlace {interlace})")
    bpp = channels * depth // 8
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per byte position within the pixel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            row = (line + prev) % 256
        elif kind == 3:  # Average (sequential)
            row = np.zeros(stride, dtype=np.int32)
            for x in range(0, stride, bpp):
                left = row[x - bpp:x] if x else 0
                row[x:x + bpp] = (line[x:x + bpp] + (left + prev[x:x + bpp]) // 2) % 256
        elif kind == 4:  # Paeth (sequential over pixels, vectorised over a pixel's bytes)
            row = np.zeros(stride, dtype=np.int32)
            for x in range(0, stride, bpp):
                a = row[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32)
                b = prev[x:x + bpp]
                c = prev[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32)
                p = a + b - c
                pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
                pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                row[x:x + bpp] = (line[x:x + bpp] + pred) % 256
        else:
            raise ValueError(f"{path}: bad filter {kind}")
        out[y] = row
        prev = row
    if depth == 16:
        values = (out[:, 0::2] * 256 + out[:, 1::2]).astype(np.float64) / 65535.0
    else:
        values = out.astype(np.float64) / 255.0
    return values.reshape(height, width, channels)


def ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0, channel_axis=-1)


def with_channels(image, c):
    if image.shape[2] == c:
        return image
    if image.shape[2] > c:
        return image[:, :, :c]
    return np.concatenate([image] + [image[:, :, -1:]] * (c - image.shape[2]), axis=2)


def test_pairs(folder):
    """{sample name: (generated path, reference path)} of one test/<iteration>/ folder."""
    pairs = {}
    for name in os.listdir(folder):
        m = re.match(r"^\d+_(.*)_generated\.png$", name)
        if m:
            ref = os.path.join(folder, name.replace("_generated.png", "_reference.png"))
            pairs[m.group(1)] = (os.path.join(folder, name), ref)
    return pairs


def run_metrics(run_dir, scale, mean_image):
    """[(iteration, ssim, mae)] of one run and the baselines {mean_image: (ssim, mae), mid_grey: ...}."""
    test_root = os.path.join(run_dir, "test")
    iterations = sorted(int(d) for d in os.listdir(test_root) if d.isdigit())
    rows, refs = [], None
    for it in iterations:
        pairs = test_pairs(os.path.join(test_root, str(it)))
        if not pairs:
            continue
        s, e = [], []
        loaded_refs = {}
        for name, (gen_path, ref_path) in sorted(pairs.items()):
            g, r = read_png(gen_path), read_png(ref_path)
            loaded_refs[name] = r
            s.append(ssim(g, r))
            e.append(np.abs(g - r).mean() * scale)
        rows.append((it, float(np.mean(s)), float(np.mean(e)), len(s)))
        refs = loaded_refs
    baselines = {}
    if refs:
        c = next(iter(refs.values())).shape[2]
        m = with_channels(mean_image, c)
        for label, pred in (("mean_image", lambda r: m), ("mid_grey", lambda r: np.full_like(r, 0.5))):
            s = [ssim(pred(r), r) for r in refs.values()]
            e = [np.abs(pred(r) - r).mean() * scale for r in refs.values()]
            baselines[label] = (float(np.mean(s)), float(np.mean(e)))
    return rows, baselines


def mean_train_image(folder):
    images = [read_png(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".png")]
    c = max(i.shape[2] for i in images)
    return np.mean([with_channels(i, c) for i in images], axis=0)


def images_per_second(run_dir):
    """The mean training speed of the run's iteration lines (train.log), img/s."""
    values = []
    with open(os.path.join(run_dir, "train.log")) as f:
        for line in f:
            m = re.match(r"^iteration \d+/\d+ .* ([0-9.]+) img/s", line)
            if m:
                values.append(float(m.group(1)))
    return float(np.mean(values)) if values else float("nan")


def spread(values):
    """(mean, sample standard deviation, range) over seeds; sd 0 for one seed."""
    v = np.asarray(values)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, float(v.max() - v.min())


def summarise(label_dir):
    sets = {}
    for d in sorted(os.listdir(label_dir)):
        m = re.match(r"^(.*)-s(\d+)$", d)
        if m and os.path.isdir(os.path.join(label_dir, d, "test")):
            sets.setdefault(m.group(1), []).append((int(m.group(2)), os.path.join(label_dir, d)))
    summary = {"label": os.path.basename(os.path.normpath(label_dir)), "sets": {}}
    for name, runs in sets.items():
        with open(os.path.join(label_dir, f"{name}.set.json")) as f:
            info = json.load(f)
        mean_image = mean_train_image(info["train_reference_dir"])
        per_seed, baselines = {}, None
        for seed, run_dir in sorted(runs):
            rows, baselines = run_metrics(run_dir, info["scale"], mean_image)
            per_seed[seed] = {"rows": rows, "img_per_s": images_per_second(run_dir)}
        summary["sets"][name] = {"unit": info["unit"], "seeds": per_seed, "baselines": baselines,
                                 "flags": info.get("flags", "")}
    return summary


def check_targets(set_summary):
    """The issue's per-run checks: drops below the best so far from the 4th test on, final vs mean image."""
    out = []
    base = set_summary["baselines"]["mean_image"]
    for seed, r in set_summary["seeds"].items():
        rows = r["rows"]
        best, worst_drop = -1.0, 0.0
        for k, (_, s, _, _) in enumerate(rows):
            if k >= 3:
                worst_drop = max(worst_drop, best - s)
            best = max(best, s)
        final = rows[-1]
        out.append((seed, worst_drop, final[1] > base[0] and final[2] < base[1]))
    return out


def print_summary(summary):
    print(f"== quality: {summary['label']} ==")
    for name, s in summary["sets"].items():
        unit = s["unit"]
        seeds = sorted(s["seeds"])
        print(f"\n[{name}] seeds {', '.join(map(str, seeds))}; MAE in {unit}; flags: {s['flags'] or '(none)'}")
        b = s["baselines"]
        print(f"  trivial: mean training image SSIM {b['mean_image'][0]:.4f} MAE {b['mean_image'][1]:.1f};"
              f" mid-grey SSIM {b['mid_grey'][0]:.4f} MAE {b['mid_grey'][1]:.1f}")
        print("  iteration  SSIM mean   sd      range   | MAE mean     sd      range   | per seed SSIM")
        iterations = [row[0] for row in s["seeds"][seeds[0]]["rows"]]
        for k, it in enumerate(iterations):
            ss = [s["seeds"][x]["rows"][k][1] for x in seeds if k < len(s["seeds"][x]["rows"])]
            ee = [s["seeds"][x]["rows"][k][2] for x in seeds if k < len(s["seeds"][x]["rows"])]
            sm, ssd, sr = spread(ss)
            em, esd, er = spread(ee)
            print(f"  {it:9d}  {sm:.4f}    {ssd:.4f}  {sr:.4f}  | {em:9.1f}  {esd:8.1f} {er:8.1f}  |"
                  f" {' '.join(f'{v:.3f}' for v in ss)}")
        speeds = [s["seeds"][x]["img_per_s"] for x in seeds]
        print(f"  training speed: {np.mean(speeds):.1f} img/s (mean over seeds; depends on the machine's load)")
        for seed, drop, beats in check_targets(s):
            print(f"  seed {seed}: largest drop below the best so far from the 4th test on {drop:.4f}"
                  f" ({'ok' if drop <= 0.03 else 'over 0.03'}); final beats the mean image in SSIM and MAE:"
                  f" {'yes' if beats else 'no'}")


def print_compare(a, b):
    print(f"== quality: {a['label']} (A) vs {b['label']} (B) ==")
    for name in a["sets"]:
        if name not in b["sets"]:
            continue
        sa, sb = a["sets"][name], b["sets"][name]
        print(f"\n[{name}] MAE in {sa['unit']}")
        print("  iteration | A SSIM mean sd     | B SSIM mean sd     | A MAE mean sd        | B MAE mean sd")
        seeds_a, seeds_b = sorted(sa["seeds"]), sorted(sb["seeds"])
        n = min(len(sa["seeds"][seeds_a[0]]["rows"]), len(sb["seeds"][seeds_b[0]]["rows"]))
        for k in range(n):
            it = sa["seeds"][seeds_a[0]]["rows"][k][0]
            va = [sa["seeds"][x]["rows"][k] for x in seeds_a]
            vb = [sb["seeds"][x]["rows"][k] for x in seeds_b]
            a_s, a_sd, _ = spread([v[1] for v in va])
            b_s, b_sd, _ = spread([v[1] for v in vb])
            a_e, a_esd, _ = spread([v[2] for v in va])
            b_e, b_esd, _ = spread([v[2] for v in vb])
            print(f"  {it:9d} | {a_s:.4f} {a_sd:.4f}      | {b_s:.4f} {b_sd:.4f}      |"
                  f" {a_e:8.1f} {a_esd:7.1f}     | {b_e:8.1f} {b_esd:7.1f}")
        sp_a = np.mean([sa["seeds"][x]["img_per_s"] for x in seeds_a])
        sp_b = np.mean([sb["seeds"][x]["img_per_s"] for x in seeds_b])
        print(f"  speed: A {sp_a:.1f} img/s, B {sp_b:.1f} img/s (B/A {sp_b / sp_a:.2f}; same machine and load only)")
        if len(seeds_a) > 1 and len(seeds_b) > 1:  # issue 18: final SSIM spread over seeds at most half of A's
            last = len(sa["seeds"][seeds_a[0]]["rows"]) - 1
            _, a_sd, _ = spread([sa["seeds"][x]["rows"][last][1] for x in seeds_a])
            _, b_sd, _ = spread([sb["seeds"][x]["rows"][last][1] for x in seeds_b])
            ratio = b_sd / a_sd if a_sd > 0 else float("inf")
            print(f"  final SSIM spread over seeds: B/A = {b_sd:.4f}/{a_sd:.4f} = {ratio:.2f} "
                  f"(target <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'}; {len(seeds_a)} and {len(seeds_b)} seeds)")


def main(argv):
    if len(argv) == 3 and argv[0] == "--compare":
        loaded = []
        for d in argv[1:]:
            with open(os.path.join(d, "quality.json")) as f:
                loaded.append(json.load(f))
        for s in loaded:  # JSON keys are strings
            for st in s["sets"].values():
                st["seeds"] = {int(k): v for k, v in st["seeds"].items()}
        print_compare(*loaded)
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    summary = summarise(argv[0])
    with open(os.path.join(argv[0], "quality.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
