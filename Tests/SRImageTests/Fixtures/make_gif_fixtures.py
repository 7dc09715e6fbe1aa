"""Writes GIF fixtures for SRImageTests.GIFTests (run from this folder; needs numpy, Pillow).

animated.gif: a 20x18 canvas, loop count 3, five frames assembled here block by block so that every
compositing rule occurs: a full interlaced frame, a sub-rectangle with its own colour table and a
transparent index that is restored afterwards (disposal 3), a transparent sub-rectangle cleared afterwards
(disposal 2), a small frame over the cleared area, and a frame that keeps what is below (disposal 1).
Each frame's LZW data is Pillow's (a one-frame GIF of the rectangle, interlaced where Pillow interlaces).
still87a.gif: 7x5, GIF87a, no global table, one frame with a local table and no extensions.
gif_expected.json: size, loop count, delays and the frames as shown (RGBA, colour zeroed where transparent),
computed here by the compositing rules and checked against Pillow's own reading of the files."""
import io, json
import numpy as np
from PIL import Image, ImageSequence

rng = np.random.default_rng(11)


def pillow_image_data(indices, palette):
    """(interlaced, LZW bytes from the code size to the block terminator) of Pillow's one-frame GIF."""
    im = Image.fromarray(indices.astype(np.uint8), "P")
    im.putpalette(palette.ravel().tolist())
    out = io.BytesIO()
    im.save(out, format="GIF", interlace=True, optimize=False)
    b = out.getvalue()
    p = 13 + (3 * (2 << (b[10] & 7)) if b[10] & 0x80 else 0)
    while b[p] == 0x21:
        p += 2
        while b[p]:
            p += 1 + b[p]
        p += 1
    assert b[p] == 0x2C
    flags = b[p + 9]
    p += 10 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    start = p
    p += 1
    while b[p]:
        p += 1 + b[p]
    return bool(flags & 0x40), b[start:p + 1]


def word(v):
    return bytes([v & 255, v >> 8])


def table_bytes(palette):
    bits = max(1, int(np.ceil(np.log2(len(palette)))))
    padded = np.zeros((1 << bits, 3), np.uint8)
    padded[: len(palette)] = palette
    return bits, padded.tobytes()


W, H = 20, 18
global_palette = rng.integers(0, 256, size=(16, 3)).astype(np.uint8)
local_palette = rng.integers(0, 256, size=(8, 3)).astype(np.uint8)
# (left, top, indices, local palette or None, transparent index or None, disposal, delay)
frames = [
    (0, 0, rng.integers(0, 16, size=(H, W)), None, 15, 1, 10),
    (4, 3, rng.integers(0, 8, size=(6, 9)), local_palette, 2, 3, 20),
    (10, 1, rng.integers(0, 16, size=(16, 10)), None, 0, 2, 0),
    (11, 2, rng.integers(1, 16, size=(4, 6)), None, 15, 1, 5),
    (0, 12, rng.integers(0, 16, size=(6, 20)), None, 7, 1, 40),
]

gct_bits, gct = table_bytes(global_palette)
out = bytearray(b"GIF89a" + word(W) + word(H) + bytes([0x80 | 0x70 | (gct_bits - 1), 0, 0]) + gct)
out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + word(3) + b"\x00"
canvas = np.zeros((H, W, 4), np.uint8)
shown, delays, pending = [], [], None
for left, top, idx, local, transparent, disposal, delay in frames:
    palette = global_palette if local is None else local
    interlaced, data = pillow_image_data(idx, palette)
    packed = disposal << 2 | (1 if transparent is not None else 0)
    out += b"\x21\xf9\x04" + bytes([packed]) + word(delay) + bytes([transparent or 0, 0])
    flags = (0x40 if interlaced else 0)
    if local is not None:
        bits, lct = table_bytes(local)
        flags |= 0x80 | (bits - 1)
    h, w = idx.shape
    out += b"\x2c" + word(left) + word(top) + word(w) + word(h) + bytes([flags])
    if local is not None:
        out += lct
    out += data
    # The compositing rules, as browsers apply them.
    if pending is not None:
        (pl, pt, pw, ph, pd, saved) = pending
        if pd == 2:
            canvas[pt:pt + ph, pl:pl + pw] = 0
        elif pd == 3:
            canvas[:] = saved
    pending = (left, top, w, h, disposal, canvas.copy() if disposal == 3 else None)
    drawn = np.ones(idx.shape, bool) if transparent is None else idx != transparent
    region = canvas[top:top + h, left:left + w]
    region[drawn, :3] = palette[idx[drawn]]
    region[drawn, 3] = 255
    shown.append(canvas.copy())
    delays.append(delay)
out += b"\x3b"
open("animated.gif", "wb").write(bytes(out))

still_palette = rng.integers(0, 256, size=(8, 3)).astype(np.uint8)
still_idx = rng.integers(0, 8, size=(5, 7))
_, data = pillow_image_data(still_idx, still_palette)
bits, lct = table_bytes(still_palette)
still = b"GIF87a" + word(7) + word(5) + bytes([0, 0, 0]) + b"\x2c" + word(0) + word(0) + word(7) + word(5)
still += bytes([0x80 | (bits - 1)]) + lct + data + b"\x3b"
open("still87a.gif", "wb").write(still)
still_rgba = np.concatenate([still_palette[still_idx], np.full((5, 7, 1), 255, np.uint8)], axis=2)


def zero_hidden(rgba):
    rgba = rgba.copy()
    rgba[rgba[..., 3] == 0] = 0
    return rgba


expected = {
    "animated.gif": {"width": W, "height": H, "loop": 3, "delays": delays, "frames": [zero_hidden(f).ravel().tolist() for f in shown]},
    "still87a.gif": {"width": 7, "height": 5, "loop": None, "delays": [0], "frames": [still_rgba.ravel().tolist()]},
}
for name, entry in expected.items():
    with Image.open(name) as im:
        read = [zero_hidden(np.array(f.convert("RGBA"))) for f in ImageSequence.Iterator(im)]
    truth = [np.array(f, np.uint8).reshape(entry["height"], entry["width"], 4) for f in entry["frames"]]
    assert len(read) == len(truth), name
    for k, (a, b) in enumerate(zip(read, truth)):
        assert (a == b).all(), f"{name} frame {k}: Pillow reads it differently"
json.dump(expected, open("gif_expected.json", "w"))
print("wrote animated.gif, still87a.gif, gif_expected.json")
