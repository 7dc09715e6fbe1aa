"""Writes Netpbm fixtures for SRImageTests.NetpbmTests (run from this folder; needs numpy and Pillow).

Pillow writes 8-bit PGM and PPM and 16-bit PGM. The rest is assembled here byte by byte: a PPM with a comment
in its header and a maximum of 100 (rescaled to 8 bits), a 16-bit PPM with a maximum of 1023 (rescaled to 16
bits), and PAM files with alpha; Pillow must decode the 8- and 16-bit PGM and PPM ones to the same pixels.
Samples under another maximum are rescaled with rounding, as netpbm's own pamdepth does (Pillow truncates:
it must agree within 1).

netpbm_expected.json: per file, the size, channels and bit depth the reader must deliver and the pixels
(interleaved, top to bottom, at that depth), or the message it must fail with."""
import json
import numpy as np
from PIL import Image

rng = np.random.default_rng(10)
H, W = 9, 11
cases = {}


def case(name, expected, bits, pillow=None):
    if pillow:
        back = np.asarray(Image.open(name).convert(pillow) if pillow != "I" else Image.open(name)).astype(np.int64)
        assert np.array_equal(back.reshape(expected.shape), expected), name
    h, w, c = expected.shape
    cases[name] = {"width": w, "height": h, "channels": c, "bitDepth": bits,
                   "pixels": [int(v) for v in expected.ravel()]}


gray = rng.integers(0, 256, size=(H, W, 1))
Image.fromarray(gray[:, :, 0].astype(np.uint8), "L").save("gray8.pgm")
case("gray8.pgm", gray, 8, "L")
rgb = rng.integers(0, 256, size=(H, W, 3))
Image.fromarray(rgb.astype(np.uint8), "RGB").save("rgb8.ppm")
case("rgb8.ppm", rgb, 8, "RGB")
gray16 = rng.integers(0, 65536, size=(H, W, 1))
Image.fromarray(gray16[:, :, 0].astype(np.uint16)).save("gray16.pgm")
assert open("gray16.pgm", "rb").read().startswith(b"P5\n11 9\n65535\n")
case("gray16.pgm", gray16, 16, "I")

# A comment in the header and a maximum of 100: samples rescaled to 8 bits, rounded.
small = rng.integers(0, 101, size=(H, W, 3))
open("rgb-max100-comment.ppm", "wb").write(b"P6\n# made for the tests\n11 9 100\n" + small.astype(np.uint8).tobytes())
case("rgb-max100-comment.ppm", (small * 255 + 50) // 100, 8)
assert np.abs(np.asarray(Image.open("rgb-max100-comment.ppm")).astype(np.int64) - (small * 255 + 50) // 100).max() <= 1
# A 16-bit PPM with a maximum of 1023 (10-bit samples), rescaled to 16 bits, rounded.
ten = rng.integers(0, 1024, size=(H, W, 3))
open("rgb-max1023.ppm", "wb").write(b"P6 11 9 1023\n" + ten.astype(">u2").tobytes())
case("rgb-max1023.ppm", (ten * 65535 + 511) // 1023, 16)
# PAM with alpha, 8 and 16 bits.
for name, depth, tupl, maximum, dtype in [("rgba8.pam", 4, "RGB_ALPHA", 255, np.uint8),
                                          ("gray-alpha16.pam", 2, "GRAYSCALE_ALPHA", 65535, ">u2")]:
    pixels = rng.integers(0, maximum + 1, size=(H, W, depth))
    header = f"P7\nWIDTH {W}\nHEIGHT {H}\nDEPTH {depth}\nMAXVAL {maximum}\nTUPLTYPE {tupl}\nENDHDR\n".encode()
    open(name, "wb").write(header + pixels.astype(dtype).tobytes())
    case(name, pixels, 8 if maximum == 255 else 16)

refusals = {
    "ascii.pgm": (b"P2\n2 2\n255\n0 1 2 3\n", "ASCII or bilevel"),
    "truncated.ppm": (b"P6\n11 9\n255\n" + bytes(100), "ends early"),
    "zero-maximum.pgm": (b"P5\n11 9\n0\n" + bytes(99), "maximum sample value of 0"),
    "bad-pam.pam": (b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 7\nMAXVAL 255\nENDHDR\n" + bytes(28), "valid WIDTH, HEIGHT, DEPTH"),
}
for name, (data, message) in refusals.items():
    open(name, "wb").write(data)
    cases[name] = {"error": message}

json.dump(cases, open("netpbm_expected.json", "w"), separators=(",", ":"))
