"""Writes floating-point TIFF fixtures for SRImageTests.TIFFTests with tifffile and imagecodecs (an encoder
independent of ours: `pip install tifffile imagecodecs numpy`, run from this folder).

The files cover 16-, 32- and 64-bit samples, the floating-point predictor 3 and none, Deflate, LZW and no
compression, strips and tiles (cropped at the right and bottom edges), chunky and planar samples, both byte
orders, unassociated and associated alpha, values below 0 and above 1, NaN and infinities.

float_tiff_expected.json: per file, the size and channels the reader must deliver and the interleaved 32-bit
values it must deliver exactly: the stored values rounded to float32, NaN and infinities as 0, alpha clamped
to [0, 1], associated alpha divided out in float32 (0 where alpha is 0).

`python make_float_tiff_fixtures.py --check FILE.tif` prints how tifffile reads a file upscale wrote (sample
type, predictor, compression, shape, range), to check our writer against an independent reader."""
import json, sys
import numpy as np
import tifffile

if len(sys.argv) == 3 and sys.argv[1] == "--check":
    with tifffile.TiffFile(sys.argv[2]) as tif:
        page = tif.pages[0]
        data = page.asarray()
        print(f"{sys.argv[2]}: {data.dtype} shape {data.shape} predictor {page.predictor} "
              f"compression {page.compression} extrasamples {page.extrasamples} "
              f"min {np.nanmin(data):.6f} max {np.nanmax(data):.6f} mean {data.astype(np.float64).mean():.6f}")
    sys.exit(0)

rng = np.random.default_rng(11)
H, W = 19, 23


def smooth(channels, low, high):
    """Gradients with noise spanning [low, high]: what the predictor is for, and values outside [0, 1]."""
    y, x = np.mgrid[0:H, 0:W]
    planes = [np.sin(x * (k + 1) * 0.3) * np.cos(y * 0.2 + k) for k in range(channels)]
    base = (np.stack(planes, -1) + 1) / 2 * (high - low) + low
    return base + rng.normal(0, 0.01, size=base.shape)


def expected(stored, alpha=None, associated=False):
    """The delivered float32 values of `stored` (height, width, channels), alpha the last channel if any."""
    values = stored.astype(np.float32)
    values[~np.isfinite(values)] = 0
    if alpha:
        a = np.clip(values[:, :, -1:], 0, 1)
        colour = values[:, :, :-1]
        if associated:
            with np.errstate(divide="ignore", invalid="ignore"):
                colour = np.where(a > 0, colour / np.where(a > 0, a, 1), np.float32(0)).astype(np.float32)
        values = np.concatenate([colour, a], -1)
    return values


cases = {}


def case(name, stored, delivered, **options):
    tifffile.imwrite(name, stored, **options)
    back = tifffile.imread(name)
    assert np.array_equal(back.reshape(stored.shape), stored, equal_nan=True), name
    h, w, c = delivered.shape
    cases[name] = {"width": w, "height": h, "channels": c, "values": [float(v) for v in delivered.ravel()]}


gray = smooth(1, -0.5, 1.5).astype(np.float32)
gray[2, 3], gray[5, 7], gray[11, 0] = np.nan, np.inf, -np.inf
case("float32-gray-deflate-predictor.tif", gray, expected(gray), photometric="minisblack", compression="zlib",
     predictor=3, rowsperstrip=4)

rgba = smooth(4, -0.2, 1.3).astype(np.float32)
case("float32-rgba-tiles-lzw-predictor-bigendian.tif", rgba, expected(rgba, alpha=True), photometric="rgb",
     compression="lzw", predictor=3, tile=(16, 16), byteorder=">", extrasamples=["unassalpha"])

rgb16 = smooth(3, 0, 1).astype(np.float16)
case("float16-rgb-planar-deflate-predictor.tif", np.moveaxis(rgb16, -1, 0), expected(rgb16), photometric="rgb",
     planarconfig="separate", compression="zlib", predictor=3, rowsperstrip=5)

gray_alpha = smooth(2, 0, 1)
gray_alpha[:3, :, 1] = 0
gray_alpha[:, :, 0] *= gray_alpha[:, :, 1]
case("float64-gray-associated-alpha-bigendian.tif", gray_alpha, expected(gray_alpha, alpha=True, associated=True),
     photometric="minisblack", planarconfig="contig", byteorder=">", extrasamples=["assocalpha"], rowsperstrip=7)

json.dump(cases, open("float_tiff_expected.json", "w"), separators=(",", ":"))
