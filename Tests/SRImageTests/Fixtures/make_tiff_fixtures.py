"""Writes TIFF fixtures for SRImageTests.TIFFTests (run from this folder; needs numpy, Pillow with libtiff).

Each file is assembled here byte by byte (header, strips or tiles, image directory) so that every layout the
reader claims occurs: strips and tiles (cropped at the right and bottom edges), chunky and planar samples,
both byte orders, classic TIFF and BigTIFF, no compression, PackBits, LZW (an encoder written here, with
table clears) and Deflate (zlib), horizontal differencing on 8- and 16-bit samples, gray (black or white is
zero), 1-, 4-, 8- and 16-bit samples, palette, RGB, associated and unassociated alpha, and an orientation
tag. Pillow (libtiff) decodes every file whose layout it can hold and must agree with the pixels written.
A few files the reader must refuse (CMYK, JPEG compression, signed samples) carry the expected message.
(Floating-point files come from make_float_tiff_fixtures.py.)

tiff_expected.json: per file, the display size, channels and bit depth the reader must deliver and the
pixels (interleaved, display order), or the message it must fail with."""
import io, json, struct, zlib
import numpy as np
from PIL import Image

rng = np.random.default_rng(5)
TYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 16: 8}


def lzw(data):
    """TIFF LZW: MSB-first codes, 9-12 bits (the encoder widens at 512, 1024, 2048 codes; the decoder, a code
    behind, one code early); a clear code first and whenever the table reaches 4094, an end code last."""
    out, acc, nacc = bytearray(), 0, 0

    def put(code, width):
        nonlocal acc, nacc
        acc = (acc << width) | code
        nacc += width
        while nacc >= 8:
            out.append((acc >> (nacc - 8)) & 255)
            nacc -= 8

    table = {bytes([i]): i for i in range(256)}
    width, nxt = 9, 258
    put(256, width)
    w = b""
    for byte in data:
        wc = w + bytes([byte])
        if wc in table:
            w = wc
            continue
        put(table[w], width)
        table[wc] = nxt
        nxt += 1
        if nxt >= (1 << width) and width < 12:
            width += 1
        if nxt >= 4094:
            put(256, width)
            table = {bytes([i]): i for i in range(256)}
            width, nxt = 9, 258
        w = bytes([byte])
    if w:
        put(table[w], width)
        nxt += 1
        if nxt >= (1 << width) and width < 12:
            width += 1
    put(257, width)
    if nacc:
        out.append((acc << (8 - nacc)) & 255)
    return bytes(out)


def packbits(data):
    out, i = bytearray(), 0
    while i < len(data):
        run = 1
        while i + run < len(data) and run < 128 and data[i + run] == data[i]:
            run += 1
        if run >= 3:
            out += bytes([257 - run, data[i]])
            i += run
            continue
        j = i
        while j < len(data) and j - i < 128 and not (j + 2 < len(data) and data[j] == data[j + 1] == data[j + 2]):
            j += 1
        out += bytes([j - i - 1]) + bytes(data[i:j])
        i = j
    return bytes(out)


def compress(raw, scheme):
    return {1: lambda d: d, 5: lzw, 8: zlib.compress, 32773: packbits}[scheme](raw)


def chunk_bytes(samples, bits, big, predictor):
    """One strip or tile (rows, columns, samples) as stored bytes, rows padded to whole bytes."""
    s = samples.astype(np.int64)
    if predictor == 2:
        d = s.copy()
        d[:, 1:] = s[:, 1:] - s[:, :-1]
        s = d % (1 << bits)
    if bits == 16:
        return s.astype(">u2" if big else "<u2").tobytes()
    if bits == 8:
        return s.astype(np.uint8).tobytes()
    rows = []
    for row in s.reshape(s.shape[0], -1):
        value, n = 0, 0
        for v in row:
            value = (value << bits) | int(v)
            n += bits
        pad = (-n) % 8
        rows.append((value << pad).to_bytes((n + pad) // 8, "big"))
    return b"".join(rows)


def directory(tags, e, bigtiff, start):
    """An image file directory placed at `start`: its entries, the next-directory offset 0, then the values
    that do not fit in their entries."""
    fmt = {1: "B", 2: "B", 3: "H", 4: "I", 7: "B", 16: "Q"}
    inline = 8 if bigtiff else 4
    size = (8 if bigtiff else 2) + len(tags) * (20 if bigtiff else 12) + inline
    entries, data = [], bytearray()
    for tag in sorted(tags):
        typ, values = tags[tag]
        if typ == 5:
            raw = struct.pack(e + "II" * len(values), *[v for pair in values for v in pair])
        else:
            raw = struct.pack(e + fmt[typ] * len(values), *values)
        if len(raw) > inline:
            data += b"\0" * (len(data) % 2)
            field = struct.pack(e + ("Q" if bigtiff else "I"), start + size + len(data))
            data += raw
        else:
            field = raw + b"\0" * (inline - len(raw))
        entries.append(struct.pack(e + ("HHQ" if bigtiff else "HHI"), tag, typ, len(values)) + field)
    return (struct.pack(e + ("Q" if bigtiff else "H"), len(entries)) + b"".join(entries)
            + struct.pack(e + ("Q" if bigtiff else "I"), 0) + bytes(data))


def tiff(stored, bits, photometric, scheme=1, predictor=1, big=False, bigtiff=False, tile=None, rows_per_strip=None,
         planar=False, extra=None, colormap=None, orientation=None, extra_tags=(), sub_ifds=None):
    """A TIFF of `stored` (height, width, samples) as described."""
    h, w, spp = stored.shape
    planes = [stored[:, :, k:k + 1] for k in range(spp)] if planar else [stored]
    chunks = []
    for plane in planes:
        if tile:
            tw, tl = tile
            padded = np.zeros((-(-h // tl) * tl, -(-w // tw) * tw, plane.shape[2]), np.int64)
            padded[:h, :w] = plane
            for ty in range(0, h, tl):
                for tx in range(0, w, tw):
                    chunks.append(chunk_bytes(padded[ty:ty + tl, tx:tx + tw], bits, big, predictor))
        else:
            for y in range(0, h, rows_per_strip):
                chunks.append(chunk_bytes(plane[y:y + rows_per_strip], bits, big, predictor))
    chunks = [compress(c, scheme) for c in chunks]
    e = ">" if big else "<"
    off_type, off_fmt = (16, "Q") if bigtiff else (4, "I")
    header = (b"MM" if big else b"II") + (struct.pack(e + "HHHQ", 43, 8, 0, 0) if bigtiff else struct.pack(e + "HI", 42, 0))
    body = bytearray(header)
    offsets = []
    for c in chunks:
        body += b"\0" * (len(body) % 2)
        offsets.append(len(body))
        body += c
    tags = {256: (4, [w]), 257: (4, [h]), 258: (3, [bits] * spp), 259: (3, [scheme]), 262: (3, [photometric]),
            277: (3, [spp]), 284: (3, [2 if planar else 1])}
    if tile:
        tags.update({322: (3, [tile[0]]), 323: (3, [tile[1]]), 324: (off_type, offsets),
                     325: (off_type, [len(c) for c in chunks])})
    else:
        tags.update({273: (off_type, offsets), 278: (3, [rows_per_strip]), 279: (off_type, [len(c) for c in chunks])})
    if predictor != 1:
        tags[317] = (3, [predictor])
    if extra is not None:
        tags[338] = (3, [extra])
    if colormap is not None:
        tags[320] = (3, list(colormap.T.ravel()))
    if orientation:
        tags[274] = (3, [orientation])
    for tag, typ, values in extra_tags:
        tags[tag] = (typ, values)
    # Sub-directories (Exif, GPS): {pointer tag: {tag: (type, values)}}, written before the first directory.
    for pointer, sub in (sub_ifds or {}).items():
        body += b"\0" * (len(body) % 2)
        start = len(body)
        body += directory(sub, e, bigtiff, start)
        tags[pointer] = (16 if bigtiff else 4, [start])
    body += b"\0" * (len(body) % 2)
    ifd = len(body)
    body += directory(tags, e, bigtiff, ifd)
    body[(8 if bigtiff else 4):(16 if bigtiff else 8)] = struct.pack(e + ("Q" if bigtiff else "I"), ifd)
    return bytes(body)


def noise(h, w, spp, bits):
    return rng.integers(0, 1 << bits, size=(h, w, spp)).astype(np.int64)


def smooth(h, w, spp, bits):
    """Gradients with a little noise (what differencing is for), spanning the whole range."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [(x * (k + 1) * 7 + y * (5 - k) * 3) for k in range(spp)]
    base = np.stack(planes, -1).astype(np.float64)
    base = base / base.max() * ((1 << bits) - 1) * 0.9
    return np.clip(base + rng.integers(0, 1 << max(1, bits - 6), size=base.shape), 0, (1 << bits) - 1).astype(np.int64)


cases = {}


def case(name, data, display, bits_out, pillow=None):
    open(name, "wb").write(data)
    h, w, c = display.shape
    cases[name] = {"width": w, "height": h, "channels": c, "bitDepth": bits_out,
                   "pixels": [int(v) for v in display.ravel()]}
    if pillow is not None:
        im = np.asarray(Image.open(name).convert(pillow)).astype(np.int64).reshape(h, w, -1)
        assert np.array_equal(im, display.reshape(h, w, -1)), name


W, H = 23, 19
a = smooth(H, W, 3, 8)
case("strips-lzw-predictor-rgb8.tif", tiff(a, 8, 2, scheme=5, predictor=2, rows_per_strip=4), a, 8, "RGB")
b = noise(48, 64, 3, 8)  # 9 KB of noise: the LZW table fills and is cleared several times
case("strips-lzw-noise-rgb8.tif", tiff(b, 8, 2, scheme=5, rows_per_strip=48), b, 8, "RGB")
c = smooth(H, W, 4, 16)
case("tiles-deflate-predictor-rgba16-bigendian.tif",
     tiff(c, 16, 2, scheme=8, predictor=2, big=True, tile=(16, 16), extra=2), c, 16)
d = smooth(H, W, 3, 16)
case("planar-strips-uncompressed-rgb16.tif", tiff(d, 16, 2, rows_per_strip=5, planar=True), d, 16)
e = smooth(H, W, 1, 16)
case("bigtiff-deflate-gray16-bigendian.tif", tiff(e, 16, 1, scheme=8, big=True, bigtiff=True, rows_per_strip=7),
     e, 16)
f = noise(H, W, 1, 4)
palette = rng.integers(0, 65536, size=(16, 3))
case("palette4-lzw.tif", tiff(f, 4, 3, scheme=5, rows_per_strip=H, colormap=palette), (palette[f[:, :, 0]] >> 8), 8,
     "RGB")
g = noise(H, W, 1, 1)
case("bilevel-white-is-zero.tif", tiff(g, 1, 0, rows_per_strip=3), (1 - g) * 255, 8, "L")
# Gray + associated (premultiplied) alpha, PackBits: straight colour = round(stored * 255 / alpha), at most 255.
alpha = noise(H, W, 1, 8)
alpha[:4] = 0
alpha[4:8] = 255
gray = (smooth(H, W, 1, 8) * alpha + 127) // 255
straight = np.where(alpha == 0, 0, np.minimum(255, (gray * 255 + alpha // 2) // np.maximum(alpha, 1)))
case("gray-associated-alpha-packbits.tif", tiff(np.concatenate([gray, alpha], -1), 8, 1, scheme=32773, rows_per_strip=6,
                                                extra=1), np.concatenate([straight, alpha], -1), 8)
o = smooth(H, W, 3, 8)
case("orientation6-tiles-planar-deflate.tif",
     tiff(o, 8, 2, scheme=8, predictor=2, tile=(16, 16), planar=True, orientation=6), np.rot90(o, -1), 8, None)
r = smooth(H, W, 3, 8)
# 300 by 150 pixels per centimetre: 762 by 381 per inch.
case("resolution-icc-xmp.tif",
     tiff(r, 8, 2, rows_per_strip=H, extra_tags=[(282, 5, [(300, 1)]), (283, 5, [(300, 2)]), (296, 3, [3]),
                                                 (700, 1, list(b"<x:xmpmeta/>")), (34675, 7, list(range(40)))]),
     r, 8, "RGB")

# EXIF in a big-endian TIFF: camera and date in the first directory, an Exif and a GPS sub-directory.
x = smooth(4, 6, 1, 8)
exif_ifd = {36867: (2, list(b"2020:01:02 03:04:05\0")), 40962: (3, [6]), 40963: (3, [4]), 33434: (5, [(1, 250)])}
gps_ifd = {0: (1, [2, 3, 0, 0]), 2: (5, [(52, 1), (30, 1), (15, 2)])}
case("exif-bigendian.tif", tiff(x, 8, 1, big=True, rows_per_strip=4, extra_tags=[
    (271, 2, list(b"Nikon\0")), (306, 2, list(b"2020:01:02 03:04:06\0")), (33432, 2, list(b"Someone\0"))],
    sub_ifds={34665: exif_ifd, 34853: gps_ifd}), x, 8, "L")
read_exif = Image.open("exif-bigendian.tif").getexif()
assert read_exif[271] == "Nikon" and read_exif.get_ifd(34665)[36867] == "2020:01:02 03:04:05"
assert read_exif.get_ifd(34853)[2] == (52.0, 30.0, 7.5)

# Fax-compressed bilevel pages, encoded by libtiff (through Pillow): T.6 (with bits stored least significant
# first and white as zero), T.4 two-dimensional with fill bits, and modified Huffman. Marks, a 2-pixel rule,
# a 2 600-pixel bar (make-up codes past 2 560) and rows of noise; the expected pixels are a PNG.
from PIL import ImageDraw, TiffImagePlugin

page = Image.new("1", (2700, 24), 1)
draw = ImageDraw.Draw(page)
for _ in range(120):
    px, py = int(rng.integers(0, 2680)), int(rng.integers(0, 16))
    draw.rectangle([px, py, px + int(rng.integers(1, 15)), py + int(rng.integers(1, 6))], fill=0)
draw.line([0, 10, 2699, 11], fill=0, width=2)
draw.rectangle([5, 16, 2605, 18], fill=0)
bits = np.array(page)
bits[20:23] = rng.random((3, 2700)) < 0.5
page = Image.fromarray(bits)
page.save("fax-expected.png")
for name, compression, tags in [("fax-group4.tif", "group4", {266: 2, 262: 0}),
                                ("fax-group3-2d.tif", "group3", {292: 5}),
                                ("fax-modified-huffman.tif", "tiff_ccitt", {})]:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        info[tag] = value
    page.save(name, compression=compression, tiffinfo=info)
    stored = Image.open(name)
    assert all(stored.tag_v2.get(tag) == value for tag, value in tags.items()), name
    assert np.array_equal(np.array(stored), bits), name
    cases[name] = {"expected": "fax-expected.png"}

# Three pages of different sizes and colour models, written by libtiff (through Pillow), LZW.
pages = [rng.integers(0, 256, size=(4, 5, 3)), rng.integers(0, 256, size=(3, 3, 1)),
         rng.integers(0, 256, size=(2, 4, 4))]
images = [Image.fromarray(page.astype(np.uint8).squeeze()) for page in pages]
images[0].save("pages-pillow.tif", save_all=True, append_images=images[1:], compression="tiff_lzw")
cases["pages-pillow.tif"] = {"pages": [{"width": pg.shape[1], "height": pg.shape[0], "channels": pg.shape[2],
                                        "bitDepth": 8, "pixels": [int(v) for v in pg.ravel()]} for pg in pages]}

# Files the reader must refuse, with the message it must give.
refusals = {
    "cmyk.tif": (tiff(noise(4, 4, 4, 8), 8, 5, rows_per_strip=4), "CMYK"),
    "jpeg-compressed.tif": (tiff(noise(4, 4, 3, 8), 8, 2, rows_per_strip=4).replace(
        struct.pack("<HHIH", 259, 3, 1, 1), struct.pack("<HHIH", 259, 3, 1, 7)), "JPEG-compressed"),
    "signed16.tif": (tiff(noise(4, 4, 1, 16), 16, 1, rows_per_strip=4, extra_tags=[(339, 3, [2])]), "signed integer"),
}
for name, (data, message) in refusals.items():
    open(name, "wb").write(data)
    cases[name] = {"error": message}
assert b"\x03\x01\x03\x00\x01\x00\x00\x00\x07\x00" in open("jpeg-compressed.tif", "rb").read()

json.dump(cases, open("tiff_expected.json", "w"), separators=(",", ":"))
