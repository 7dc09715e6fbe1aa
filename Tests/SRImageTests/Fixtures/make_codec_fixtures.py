"""Writes small PNG variants for SRImageTests.CodecTests (run from this folder; needs numpy, Pillow):
palette.png (8-bit palette with tRNS), bilevel.png (1-bit gray), interlaced.png (Adam7, 8-bit RGB, written
by hand), and expected.json with their decoded values as the tests expect them (RGBA/gray floats ×255)."""
import json, struct, zlib
import numpy as np
from PIL import Image

rng = np.random.default_rng(4)
expected = {}

# Palette with a transparent entry: decodes to RGBA.
pal = Image.new("P", (7, 5))
palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]
pal.putpalette(palette + [0] * (768 - len(palette)))
idx = rng.integers(0, 4, size=(5, 7)).astype(np.uint8)
pal.putdata(idx.ravel().tolist())
pal.save("palette.png", transparency=0)
rgba = np.array([[palette[3 * i], palette[3 * i + 1], palette[3 * i + 2], 0 if i == 0 else 255] for i in range(4)])
expected["palette.png"] = {"channels": 4, "width": 7, "height": 5, "values": rgba[idx].transpose(2, 0, 1).ravel().tolist()}

# 1-bit gray: decodes to 8-bit gray 0/255.
bits = rng.integers(0, 2, size=(6, 13)).astype(bool)
Image.fromarray(bits).save("bilevel.png")
expected["bilevel.png"] = {"channels": 1, "width": 13, "height": 6, "values": (bits * 255).ravel().tolist()}

# Adam7 interlaced 8-bit RGB, encoded by hand (filter 0 on every sub-image row).
w, h = 11, 9
img = rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8)
passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
raw = b""
for x0, y0, dx, dy in passes:
    sub = img[y0::dy, x0::dx]
    if sub.size == 0:
        continue
    raw += b"".join(b"\x00" + row.tobytes() for row in sub)
def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open("interlaced.png", "wb").write(png)
expected["interlaced.png"] = {"channels": 3, "width": w, "height": h, "values": img.transpose(2, 0, 1).ravel().tolist()}

with open("expected.json", "w") as f:
    json.dump(expected, f)
