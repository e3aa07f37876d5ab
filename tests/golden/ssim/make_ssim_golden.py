#!/usr/bin/python3
"""Makes the SSIM golden fixtures for tests/unit/metrics/ssim_test.cpp.

Run with Debian's Python (python3-skimage, python3-pil):
    /usr/bin/python3 tests/golden/ssim/make_ssim_golden.py [data/photos]

From real photographs (data/photos/*.jpg, fetched by scripts/fetch_data.sh) it cuts small crops (2x2 box-averaged, so 16-bit files have 16-bit detail), makes
distorted versions (JPEG quality 15, Gaussian blur sigma 1.2 on floats, Gaussian noise sigma 0.05) and writes
reference and distorted images as 8- and 16-bit PNGs, grey and colour. expected.csv holds
scikit-image's structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0, channel_axis=-1) of the decoded [0, 1] values.
PNGs are written by a tiny encoder below (PIL cannot write 16-bit RGB), so the values the C++ test
decodes are exactly the ones scored here.
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

HERE = os.path.dirname(os.path.abspath(__file__))
# (photo, left, top, width, height): crops with texture, edges and flat areas; non-square on purpose.
CROPS = [("Elephants.jpg", 700, 500, 72, 64), ("LadyBird.jpg", 900, 500, 64, 80), ("Garden.jpg", 300, 300, 80, 72)]


def write_png(path, array):
    """Writes uint8/uint16 [H, W] or [H, W, 3] as PNG (colour type 0 or 2, no filtering)."""
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    bits = 16 if array.dtype == np.uint16 else 8
    data = array.astype(">u2" if bits == 16 else "u1").reshape(h, -1).tobytes()
    row = w * channels * bits // 8
    raw = b"".join(b"\x00" + data[y * row:(y + 1) * row] for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, bits, 0 if channels == 1 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def quantise(x, bits):
    top = 65535 if bits == 16 else 255
    q = np.clip(np.round(x * top), 0, top).astype(np.uint16 if bits == 16 else np.uint8)
    return q, q.astype(np.float64) / top


def distort(ref, kind, rng):
    """ref: float [H, W(, 3)] in [0, 1] -> distorted float in [0, 1]."""
    img = Image.fromarray(np.round(ref * 255).astype(np.uint8))
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=15)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64) / 255
    if kind == "blur":
        return gaussian_filter(ref, sigma=(1.2, 1.2, 0)[:ref.ndim])
    return np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)  # noise, kept at full precision


def main():
    photos = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../data/photos")
    rng = np.random.default_rng(0)
    rows = ["reference,distorted,ssim"]
    for photo, left, top, w, h in CROPS:
        full = Image.open(os.path.join(photos, photo)).convert("RGB").crop((left, top, left + 2 * w, top + 2 * h))
        stem = os.path.splitext(photo)[0].lower()
        for mode in ("rgb", "grey"):
            big = np.asarray(full.convert("L") if mode == "grey" else full, dtype=np.float64) / 255
            # 2x2 box average: values between the 8-bit steps, so the 16-bit files carry 16-bit detail.
            base = big.reshape(h, 2, w, 2, *big.shape[2:]).mean(axis=(1, 3))
            for bits in (8, 16):
                ref_q, ref = quantise(base, bits)
                ref_name = f"{stem}_{mode}{bits}_ref.png"
                write_png(os.path.join(HERE, ref_name), ref_q)
                for kind in ("jpeg", "blur", "noise"):
                    dist_q, dist = quantise(distort(base, kind, rng), bits)
                    name = f"{stem}_{mode}{bits}_{kind}.png"
                    write_png(os.path.join(HERE, name), dist_q)
                    s = structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                              data_range=1.0, channel_axis=-1 if mode == "rgb" else None)
                    rows.append(f"{ref_name},{name},{s:.10f}")
    with open(os.path.join(HERE, "expected.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
