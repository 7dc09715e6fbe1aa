"""Writes hostile inputs for HardeningTests (run from this folder; needs only the standard library).

interlaced-bomb.png: an 8000x8000 8-bit gray Adam7-interlaced PNG of zeros, about 60 KB on disk,
64 MB when decoded. Interlaced PNGs cannot be decoded row by row, so the reader must refuse it under
a small memory budget instead of allocating, and refuse it under a pixel limit before decoding.
"""
import struct
import zlib

WIDTH = HEIGHT = 8000

# Adam7 passes: (x start, y start, x step, y step).
PASSES = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


compressor = zlib.compressobj(9)
stream = b""
for x0, y0, dx, dy in PASSES:
    columns = (WIDTH - x0 + dx - 1) // dx
    rows = (HEIGHT - y0 + dy - 1) // dy
    if columns == 0 or rows == 0:
        continue
    line = b"\x00" * (1 + columns)  # filter byte 0 and one gray byte per pixel
    for _ in range(rows):
        stream += compressor.compress(line)
stream += compressor.flush()

header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 0, 0, 0, 1)  # 8-bit gray, interlace method 1
with open("interlaced-bomb.png", "wb") as out:
    out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b""))
