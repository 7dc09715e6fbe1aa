"""Builds realistic-gan-x4.png: crops of degraded input (nearest ×4) | x4-psnr | the realistic GAN generator |
ground truth, on BSD100 images degraded by `upscale degrade` (Real-ESRGAN's pipeline, fixed seeds; the last row a
clean bicubic input of flat sky), outputs by the real CLI. This script only crops and arranges them (Pillow).
Run from the repository root: python3 samples/make_realistic_sheet.py GAN.safetensors"""
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw

BIN = ".build/release/upscale"
GAN = sys.argv[1]
CASES = [  # (ground truth, seed or None for a clean bicubic input, crop box in ground-truth pixels (left, top, size))
    ("../shared/data/bench/BSD100/img_012.png", 1, (150, 90, 128)),
    ("../shared/data/bench/BSD100/img_038.png", 2, (200, 120, 128)),
    ("../shared/data/bench/BSD100/img_076.png", 3, (160, 100, 128)),
    ("../shared/data/bench/BSD100/img_005.png", 4, (40, 40, 128)),
    # Flat sky from a clean bicubic input: the GAN output must stay flat (no checkerboard).
    ("../shared/data/bench/BSD100/img_038.png", None, (190, 0, 80)),
]
COLUMNS = ["degraded input", "x4-psnr", "realistic GAN", "ground truth"]
ZOOM = 2
tmp = tempfile.mkdtemp()
rows = []
for index, (truth, seed, (left, top, size)) in enumerate(CASES):
    lr = f"{tmp}/lr{index}.png"
    degradation = ["--degradation", "bicubic"] if seed is None else ["--seed", str(seed)]
    subprocess.run([BIN, "degrade", truth, lr, "--scale", "4"] + degradation, check=True, capture_output=True)
    images = [Image.open(lr).convert("RGB").resize((Image.open(truth).width // 4 * 4,
                                                     Image.open(truth).height // 4 * 4), Image.NEAREST)]
    for model in ("psnr", GAN):
        out = f"{tmp}/out{index}-{os.path.basename(model)}.png"
        subprocess.run([BIN, lr, out, "--scale", "4", "--model", model, "--quiet"], check=True)
        images.append(Image.open(out).convert("RGB"))
    images.append(Image.open(truth).convert("RGB"))
    box = (left, top, left + size, top + size)
    cell = CASES[0][2][2] * ZOOM
    rows.append([im.crop(box).resize((cell, cell), Image.NEAREST) for im in images])
sheet = Image.new("RGB", (cell * len(COLUMNS), 24 + cell * len(rows)), "white")
draw = ImageDraw.Draw(sheet)
for column, title in enumerate(COLUMNS):
    draw.text((column * cell + 6, 6), title, fill="black")
for r, row in enumerate(rows):
    for column, image in enumerate(row):
        sheet.paste(image, (column * cell, 24 + r * cell))
sheet.save("samples/realistic-gan-x4.png", optimize=True)
print("wrote samples/realistic-gan-x4.png")
