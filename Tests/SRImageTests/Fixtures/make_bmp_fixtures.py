"""Writes BMP fixtures for SRImageTests.BMPTests (run from this folder; needs numpy and Pillow).

Pillow writes 1-bit, 8-bit gray, 8-bit palette, 24-bit and 32-bit files (rows bottom to top). The layouts
Pillow does not write are assembled here byte by byte, and Pillow must decode each to the same pixels: rows
top to bottom (a negative height), a 4-bit palette, 16-bit 5-6-5 and 32-bit files with bit masks (the latter
with an alpha mask in a V4 header), and an OS/2 core header. Widths are odd so every row is
padded to 4 bytes.

bmp_expected.json: per file, the size and channels the reader must deliver and the pixels (interleaved,
top to bottom), or the message it must fail with."""
import json, struct
import numpy as np
from PIL import Image

rng = np.random.default_rng(9)
H, W = 11, 13
cases = {}


def case(name, expected, mode):
    back = np.asarray(Image.open(name).convert(mode)).astype(np.int64).reshape(expected.shape)
    assert np.array_equal(back, expected), name
    h, w, c = expected.shape
    cases[name] = {"width": w, "height": h, "channels": c, "pixels": [int(v) for v in expected.ravel()]}


def noise(channels):
    return rng.integers(0, 256, size=(H, W, channels))


rgb = noise(3)
Image.fromarray(rgb.astype(np.uint8), "RGB").save("rgb24.bmp")
case("rgb24.bmp", rgb, "RGB")
gray = noise(1)
Image.fromarray(gray[:, :, 0].astype(np.uint8), "L").save("gray8.bmp")
case("gray8.bmp", gray, "L")
bits = rng.integers(0, 2, size=(H, W, 1))
Image.fromarray(bits[:, :, 0].astype(bool)).save("bilevel1.bmp")
case("bilevel1.bmp", bits * 255, "L")
indices = rng.integers(0, 7, size=(H, W))
palette = rng.integers(0, 256, size=(7, 3))
image = Image.fromarray(indices.astype(np.uint8), "P")
image.putpalette([int(v) for v in palette.ravel()])
image.save("palette8.bmp")
case("palette8.bmp", palette[indices], "RGB")


def file_header(data_offset, size):
    return b"BM" + struct.pack("<IHHI", size, 0, 0, data_offset)


def info(width, height, bits, compression=0, colours=0, size=40):
    return struct.pack("<IiiHHIIiiII", size, width, height, 1, bits, compression, 0, 2835, 2835, colours, 0)


def rows(stored, row_bytes):
    return b"".join(bytes(r) + bytes(row_bytes - len(bytes(r))) for r in stored)


def write(name, headers, pixel_rows):
    data = headers + pixel_rows
    open(name, "wb").write(file_header(14 + len(headers), 14 + len(data)) + data)


# 24-bit, rows top to bottom.
top = noise(3)
write("rgb24-top-down.bmp", info(W, -H, 24), rows([r[:, ::-1].astype(np.uint8).tobytes() for r in top], (W * 3 + 3) // 4 * 4))
case("rgb24-top-down.bmp", top, "RGB")
# 4-bit palette of 16 colours, bottom to top.
idx4 = rng.integers(0, 16, size=(H, W))
pal4 = rng.integers(0, 256, size=(16, 3))
packed = [bytes((int(r[x]) << 4) | (int(r[x + 1]) if x + 1 < W else 0) for x in range(0, W, 2)) for r in idx4[::-1]]
table = b"".join(bytes([int(b), int(g), int(r), 0]) for r, g, b in pal4)
write("palette4.bmp", info(W, H, 4, colours=16) + table, rows(packed, (W * 4 + 31) // 32 * 4))
case("palette4.bmp", pal4[idx4], "RGB")
# 16-bit 5-6-5 with bit masks after the info header.
f565 = np.stack([rng.integers(0, 32, (H, W)), rng.integers(0, 64, (H, W)), rng.integers(0, 32, (H, W))], -1)
words = (f565[:, :, 0] << 11) | (f565[:, :, 1] << 5) | f565[:, :, 2]
masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
write("rgb565-bitfields.bmp", info(W, H, 16, compression=3) + masks,
      rows([r.astype("<u2").tobytes() for r in words[::-1]], (W * 2 + 3) // 4 * 4))
expected565 = np.stack([f565[:, :, 0] * 255 // 31, f565[:, :, 1] * 255 // 63, f565[:, :, 2] * 255 // 31], -1)
case("rgb565-bitfields.bmp", expected565, "RGB")
# 32-bit with an alpha mask in a V4 header, stored B, G, R, A from the low byte up.
rgba = noise(4)
v4 = info(W, H, 32, compression=3, size=108) + struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
v4 += struct.pack("<I", 0x73524742) + bytes(48)
stored = np.stack([rgba[:, :, 2], rgba[:, :, 1], rgba[:, :, 0], rgba[:, :, 3]], -1)
write("bgra32-v4.bmp", v4, rows([r.astype(np.uint8).tobytes() for r in stored[::-1]], W * 4))
case("bgra32-v4.bmp", rgba, "RGBA")
# OS/2 core header, 24-bit.
core = noise(3)
write("os2-core-rgb24.bmp", struct.pack("<IHHHH", 12, W, H, 1, 24),
      rows([r[:, ::-1].astype(np.uint8).tobytes() for r in core[::-1]], (W * 3 + 3) // 4 * 4))
case("os2-core-rgb24.bmp", core, "RGB")

# Files the reader must refuse, with the message it must give.
refusals = {
    "rle8.bmp": (info(W, H, 8, compression=1) + bytes(1024), "run-length compressed"),
    "twelve-bit.bmp": (info(W, H, 12), "12-bit pixels"),
    "truncated.bmp": (info(W, H, 24) + bytes(10), "ends early"),
    "unknown-header.bmp": (struct.pack("<I", 20) + bytes(16), "unknown BMP header"),
}
for name, (headers, message) in refusals.items():
    write(name, headers, b"")
    cases[name] = {"error": message}

json.dump(cases, open("bmp_expected.json", "w"), separators=(",", ":"))
