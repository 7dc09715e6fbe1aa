"""Writes TGA fixtures for SRImageTests.TGATests (run from this folder; needs numpy and Pillow).

Pillow writes true-colour, gray, gray + alpha and colour-mapped files, run-length encoded or not, with rows
bottom to top (TGA's default) or top to bottom. Two layouts Pillow does not write are assembled here byte by
byte: 16-bit (5-5-5) true colour and rows stored right to left; Pillow must decode the first to the same
pixels. Every picture has flat areas (so run-length packets repeat pixels, some across row ends) and noise
(so raw packets occur).

tga_expected.json: per file, the size and channels the reader must deliver and the pixels (interleaved,
display order), or the message it must fail with."""
import json, struct
import numpy as np
from PIL import Image

rng = np.random.default_rng(8)
H, W = 13, 17


def picture(channels):
    """Flat blocks, a gradient and noise, so both kinds of run-length packets occur."""
    base = np.zeros((H, W, channels), np.int64)
    y, x = np.mgrid[0:H, 0:W]
    for c in range(channels):
        base[:, :, c] = (x * 13 + y * 7 * (c + 1)) % 256
    base[3:7] = rng.integers(0, 256, size=(1, 1, channels))   # flat rows
    base[9:, 5:] = rng.integers(0, 256, size=(H - 9, W - 5, channels))  # noise
    return base


cases = {}


def case(name, expected):
    h, w, c = expected.shape
    cases[name] = {"width": w, "height": h, "channels": c, "pixels": [int(v) for v in expected.ravel()]}


def check(name, expected, mode):
    back = np.asarray(Image.open(name).convert(mode)).astype(np.int64).reshape(expected.shape)
    assert np.array_equal(back, expected), name


for name, mode, channels, rle, orientation in [
    ("rgb-rle-bottom-up.tga", "RGB", 3, True, -1),
    ("rgba-raw-top-down.tga", "RGBA", 4, False, 1),
    ("rgba-rle-bottom-up.tga", "RGBA", 4, True, -1),
    ("gray-rle-top-down.tga", "L", 1, True, 1),
    ("gray-alpha-raw-bottom-up.tga", "LA", 2, False, -1),
]:
    pixels = picture(channels)
    image = Image.fromarray(pixels.astype(np.uint8).squeeze(), mode)
    image.save(name, compression="tga_rle" if rle else None, orientation=orientation)
    stored = open(name, "rb").read()
    assert stored[2] == {1: 3, 2: 3, 3: 2, 4: 2}[channels] + (8 if rle else 0), name
    assert bool(stored[17] & 0x20) == (orientation == 1), name
    check(name, pixels, mode)
    case(name, pixels)

# Colour-mapped, run-length encoded: a 24-bit map of 16 colours.
indices = rng.integers(0, 16, size=(H, W))
indices[4:8] = 3
palette = rng.integers(0, 256, size=(16, 3))
image = Image.fromarray(indices.astype(np.uint8), "P")
image.putpalette([int(v) for v in palette.ravel()])
image.save("palette-rle.tga", compression="tga_rle")
assert open("palette-rle.tga", "rb").read()[2] == 9
check("palette-rle.tga", palette[indices], "RGB")
case("palette-rle.tga", palette[indices])


def header(image_type, bits, descriptor, width=W, height=H):
    return struct.pack("<BBBHHBHHHHBB", 0, 0, image_type, 0, 0, 0, 0, 0, width, height, bits, descriptor)


# 16-bit true colour (x-5-5-5, little-endian words, rows bottom to top), uncompressed.
fields = rng.integers(0, 32, size=(H, W, 3))
words = (fields[:, :, 0] << 10) | (fields[:, :, 1] << 5) | fields[:, :, 2]
data = header(2, 16, 0) + words[::-1].astype("<u2").tobytes()
open("rgb16-raw-bottom-up.tga", "wb").write(data)
widened = fields * 255 // 31
check("rgb16-raw-bottom-up.tga", widened, "RGB")
case("rgb16-raw-bottom-up.tga", widened)

# Rows top to bottom, pixels right to left (descriptor bits 5 and 4), 24-bit BGR, uncompressed.
mirrored = picture(3)
stored = mirrored[:, ::-1, ::-1]  # each row stored from its right end, each pixel as B, G, R
open("rgb-raw-right-to-left.tga", "wb").write(header(2, 24, 0x30) + stored.astype(np.uint8).tobytes())
case("rgb-raw-right-to-left.tga", mirrored)

# Files the reader must refuse, with the message it must give.
refusals = {
    "no-image-data.tga": (header(0, 24, 0), "without image data"),
    "twelve-bit.tga": (header(2, 12, 0) + bytes(W * H * 2), "12-bit true-colour"),
    "truncated.tga": (header(2, 24, 0) + bytes(W * H * 3 - 5), "ends early"),
    "zero-size.tga": (header(2, 24, 0, width=0), "no valid image size"),
}
for name, (data, message) in refusals.items():
    open(name, "wb").write(data)
    cases[name] = {"error": message}

json.dump(cases, open("tga_expected.json", "w"), separators=(",", ":"))
