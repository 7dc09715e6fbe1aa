"""Builds the two ×4 crop sheets: crops-clean-x4.png (clean bicubic inputs) and crops-jpeg50-x4.png (the same
inputs saved as JPEG quality 50), each with the columns bicubic | x4-psnr (faithful) | GAN | Real-ESRGAN x4plus |
ground truth. Inputs are made by `upscale` itself (MATLAB-style bicubic downscale); every output comes from the
real CLI, x4plus too (its ncnn files, run by `upscale --model realesrgan-x4plus.param`). Each model sees the
crop's input with a 16-pixel margin, cut off afterwards. This script only crops, saves the JPEG inputs and
arranges the sheets (Pillow).
Run from the repository root after `swift build -c release`:
  python3 samples/make_crop_sheets.py GAN.safetensors path/to/realesrgan-x4plus.param
(`make bench-ncnn` installs the x4plus files under .build/peers-venv; see Benchmarks/peers/ncnn_peer.py.)"""
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw

BIN = ".build/release/upscale"
GAN, X4PLUS = sys.argv[1], sys.argv[2]
CASES = [  # (ground truth, crop box in ground-truth pixels (left, top, size)), sizes multiples of 4
    ("../shared/data/bench/Set14/baboon.png", (300, 40, 128)),
    ("../shared/data/bench/BSD100/img_038.png", (200, 120, 128)),
    ("../shared/data/bench/BSD100/img_076.png", (160, 100, 128)),
]
COLUMNS = ["bicubic", "x4-psnr (faithful)", os.path.basename(GAN).replace(".safetensors", ""), "Real-ESRGAN x4plus",
           "ground truth"]
MODELS = [["--method", "bicubic"], ["--model", "psnr"], ["--model", GAN], ["--model", X4PLUS]]
MARGIN = 16  # input pixels of context around each crop
ZOOM = 2


def sheet(rows, title):
    width = sum(image.width for image in rows[0]) + 4 * (len(COLUMNS) - 1)
    height = 24 + sum(row[0].height + 4 for row in rows)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    y = 24
    for row in rows:
        x = 0
        for column, image in enumerate(row):
            canvas.paste(image, (x, y))
            if y == 24:
                draw.rectangle((x, y, x + len(COLUMNS[column]) * 6 + 6, y + 12), fill="white")
                draw.text((x + 3, y), COLUMNS[column], fill="black")
            x += image.width + 4
        y += row[0].height + 4
    return canvas


def main():
    work = tempfile.mkdtemp()
    sheets = {"clean": [], "jpeg50": []}
    for index, (truth, (left, top, size)) in enumerate(CASES):
        gt = Image.open(truth).convert("RGB")
        gt = gt.crop((0, 0, gt.width - gt.width % 4, gt.height - gt.height % 4))
        gt_path = f"{work}/gt{index}.png"
        gt.save(gt_path)
        lr_path = f"{work}/lr{index}.png"
        subprocess.run([BIN, gt_path, lr_path, "--scale", "0.25", "--method", "bicubic", "--quiet"], check=True)
        lr = Image.open(lr_path).convert("RGB")
        # The crop's input with its margin (clipped at the image border).
        box = (max(0, left // 4 - MARGIN), max(0, top // 4 - MARGIN),
               min(lr.width, (left + size) // 4 + MARGIN), min(lr.height, (top + size) // 4 + MARGIN))
        inner = ((left // 4 - box[0]) * 4, (top // 4 - box[1]) * 4)
        for kind in sheets:
            source = f"{work}/in{index}-{kind}.png"
            patch = lr.crop(box)
            if kind == "jpeg50":
                jpeg = f"{work}/in{index}.jpg"
                patch.save(jpeg, quality=50)
                patch = Image.open(jpeg).convert("RGB")
            patch.save(source)
            row = []
            for number, arguments in enumerate(MODELS):
                out = f"{work}/out{index}-{kind}-{number}.png"
                subprocess.run([BIN, source, out, "--scale", "4", "--quiet"] + arguments, check=True)
                upscaled = Image.open(out).convert("RGB")
                row.append(upscaled.crop((inner[0], inner[1], inner[0] + size, inner[1] + size)))
            row.append(gt.crop((left, top, left + size, top + size)))
            sheets[kind].append([image.resize((size * ZOOM, size * ZOOM), Image.NEAREST) for image in row])
    titles = {
        "clean": "x4, clean bicubic inputs: " + " | ".join(COLUMNS),
        "jpeg50": "x4, the same inputs as JPEG quality 50: " + " | ".join(COLUMNS),
    }
    for kind, rows in sheets.items():
        path = os.path.join("samples", f"crops-{kind}-x4.png")
        sheet(rows, titles[kind]).save(path, optimize=True)
        print("wrote", path)


main()
