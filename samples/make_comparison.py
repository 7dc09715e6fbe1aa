"""Builds comparison-x4.png: crops of bicubic | PSNR model | GAN (the default, trained on realistic inputs) |
GAN trained on clean inputs (`--model gan-clean`) | ground truth at ×4 on Set14 and
BSD100 images. The low-resolution inputs are made by `upscale` itself (MATLAB-style bicubic downscale), the
outputs by the shipped models through the real CLI; this script only crops and arranges them (Pillow).
Run from the repository root after `swift build -c release`: python3 samples/make_comparison.py"""
import os
import subprocess
import tempfile
from PIL import Image, ImageDraw

BIN = ".build/release/upscale"
CASES = [  # (ground truth, crop box in ground-truth pixels (left, top, size))
    ("../shared/data/bench/Set14/baboon.png", (300, 40, 112)),
    ("../shared/data/bench/Set14/zebra.png", (180, 150, 112)),
    ("../shared/data/bench/BSD100/img_038.png", (200, 120, 112)),
]
COLUMNS = ["bicubic", "psnr", "gan (default)", "gan-clean", "ground truth"]
ZOOM = 2
tmp = tempfile.mkdtemp()
rows = []
for index, (truth, (left, top, size)) in enumerate(CASES):
    gt = Image.open(truth).convert("RGB")
    w, h = gt.size
    gt = gt.crop((0, 0, w - w % 4, h - h % 4))
    gt_path = f"{tmp}/gt{index}.png"
    gt.save(gt_path)
    lr = f"{tmp}/lr{index}.png"
    subprocess.run([BIN, gt_path, lr, "--scale", "0.25", "--method", "bicubic", "--quiet"], check=True)
    outputs = []
    for args in (["--method", "bicubic"], ["--model", "psnr"], ["--model", "gan"], ["--model", "gan-clean"]):
        out = f"{tmp}/out{index}{args[1]}.png"
        subprocess.run([BIN, lr, out, "--scale", "4", "--quiet"] + args, check=True)
        outputs.append(Image.open(out).convert("RGB"))
    outputs.append(gt)
    box = (left, top, left + size, top + size)
    rows.append([o.crop(box).resize((size * ZOOM, size * ZOOM), Image.NEAREST) for o in outputs])
cell = CASES[0][1][2] * ZOOM
sheet = Image.new("RGB", (len(COLUMNS) * cell + (len(COLUMNS) + 1) * 4, len(rows) * cell + (len(rows) + 1) * 4 + 18), "white")
draw = ImageDraw.Draw(sheet)
for c, title in enumerate(COLUMNS):
    draw.text((4 + c * (cell + 4) + 4, 3), title, fill="black")
for r, row in enumerate(rows):
    for c, crop in enumerate(row):
        sheet.paste(crop, (4 + c * (cell + 4), 18 + 4 + r * (cell + 4)))
sheet.save("samples/comparison-x4.png", optimize=True)
print("wrote samples/comparison-x4.png")
