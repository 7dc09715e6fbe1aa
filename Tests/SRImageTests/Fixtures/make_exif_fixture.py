"""Writes exif-pillow.jpg for SRImageTests.ExifTests and the CLI's metadata test (run from this folder; needs
Pillow): a 40x24 JPEG whose EXIF, laid out by Pillow, has orientation 8 (turn 90 degrees counter-clockwise
to view), camera make, DateTime, an Exif IFD (DateTimeOriginal, PixelXDimension 40, PixelYDimension 24) and a
GPS IFD. exif_expected.json records what a reader must find."""
import json
from PIL import Image

image = Image.new("RGB", (40, 24), (120, 30, 200))
for x in range(40):
    image.putpixel((x, 3), (255, 255, 0))
exif = Image.Exif()
exif[0x0112] = 8
exif[0x010F] = "Canon"
exif[0x0132] = "2021:07:04 12:00:00"
sub = exif.get_ifd(0x8769)
sub[0x9003] = "2021:07:04 11:59:58"
sub[0xA002] = 40
sub[0xA003] = 24
gps = exif.get_ifd(0x8825)
gps[1] = "N"
gps[2] = (52.0, 30.0, 0.0)
block = exif.tobytes()
image.save("exif-pillow.jpg", exif=block, quality=95)
with open("exif_expected.json", "w") as f:
    json.dump({"orientation": 8, "pixel_x": 40, "pixel_y": 24, "exif_length": len(block) - 6,
               "date": "2021:07:04 11:59:58"}, f)
