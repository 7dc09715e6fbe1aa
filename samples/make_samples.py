"""Regenerates the small sample images in this folder from ../../shared/data (run from samples/).
Needs numpy and Pillow. Each sample exercises one thing a real user's file has."""
import io
import numpy as np
from PIL import Image, ImageCms

BENCH = "../../shared/data/bench"


def lowres(path, box=None, size=None):
    img = Image.open(path).convert("RGB")
    if box:
        img = img.crop(box)
    w, h = img.size
    return img.resize(size or (w // 4, h // 4), Image.BICUBIC, reducing_gap=None)


# 1. The demo input: Set5 "bird" at a quarter of its size (72x72), plain 8-bit RGB.
lowres(f"{BENCH}/Set5/bird.png").save("bird-lr.png")

# 2. RGBA with a soft circular alpha (transparency must survive upscaling).
rgb = np.asarray(lowres(f"{BENCH}/Set5/butterfly.png"), dtype=np.float64)
yy, xx = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]]
r = np.hypot(yy - rgb.shape[0] / 2, xx - rgb.shape[1] / 2)
alpha = np.clip((rgb.shape[0] * 0.45 - r) / 4, 0, 1) * 255
Image.fromarray(np.dstack([rgb, alpha]).round().astype(np.uint8), "RGBA").save("butterfly-alpha.png")

# 3. 16-bit RGB PNG (a scan-like file): a BSD100 crop, smooth-shaded to use the extra depth.
crop = np.asarray(lowres(f"{BENCH}/BSD100/img_012.png", box=(0, 0, 320, 240)), dtype=np.float64) / 255
shade = np.linspace(0.85, 1.0, crop.shape[1])[None, :, None]
data16 = (crop * shade * 65535).round().astype(">u2")
# Pillow cannot write 16-bit RGB, so write the PNG by hand (zlib + crc).
import struct, zlib
def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
h, w, _ = data16.shape
raw = b"".join(b"\x00" + data16[y].tobytes() for y in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open("scan-16bit.png", "wb").write(png)

# 4. Grayscale (Set14 "bridge" is stored as 1-channel gray).
lowres(f"{BENCH}/Set14/bridge.png", box=(0, 0, 256, 256)).convert("L").save("gray.png")

# 5. A phone-style JPEG: stored sideways with EXIF orientation 6 (rotate 90° clockwise to view) and an
#    sRGB ICC profile. Upright it is Set14 "monarch" at a quarter size (128x96 upright).
upright = lowres(f"{BENCH}/Set14/monarch.png")
stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
exif = Image.Exif()
exif[0x0112] = 6
icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
stored.save("phone-exif6-icc.jpg", quality=92, exif=exif.tobytes(), icc_profile=icc)

# 6. A photo as people have it: BSD100 img_012 resized to half (240x160) and saved as a quality-60 JPEG,
#    so its 8x8 blocks and ringing are what the upscaler must not sharpen. `make demo` upscales it.
photo = Image.open(f"{BENCH}/BSD100/img_012.png").convert("RGB")
photo.resize((photo.width // 2, photo.height // 2), Image.BICUBIC, reducing_gap=None).save(
    "photo-q60.jpg", quality=60)
