"""Checks `upscale model export MODEL OUT.param` in ncnn itself (the Python binding, CPU, no Vulkan): each
exported .param/.bin pair must load in ncnn and, fed as realesrgan-ncnn-vulkan and Upscayl feed it (RGB x 1/255
into blob "data", blob "output" x 255), match `upscale`'s own output (8-bit PNG) within 1/255 on the same input.
Run by `make bench-peers`; installs ncnn, numpy and Pillow into the peers' environment first.
Usage: check_ncnn_export.py UPSCALE INPUT.png MODEL [MODEL ...]"""
import os
import subprocess
import sys
import tempfile

from peer_venv import enter

enter(["ncnn", "numpy", "pillow"])

import ncnn  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

upscale, source, models = sys.argv[1], sys.argv[2], sys.argv[3:]
pixels = np.ascontiguousarray(np.asarray(Image.open(source).convert("RGB")))
worst = 0.0
with tempfile.TemporaryDirectory() as folder:
    for model in models:
        param = os.path.join(folder, "model.param")
        subprocess.run([upscale, "model", "export", model, param], check=True, capture_output=True)
        net = ncnn.Net()
        net.opt.use_vulkan_compute = False
        net.opt.num_threads = 2
        assert net.load_param(param) == 0 and net.load_model(param[:-6] + ".bin") == 0, model
        mat = ncnn.Mat.from_pixels(pixels, ncnn.Mat.PixelType.PIXEL_RGB, pixels.shape[1], pixels.shape[0])
        mat.substract_mean_normalize([], [1 / 255.0] * 3)
        extractor = net.create_extractor()
        extractor.input("data", mat)
        _, result = extractor.extract("output")
        theirs = np.clip(np.round(np.array(result).transpose(1, 2, 0) * 255), 0, 255)
        scale = theirs.shape[0] // pixels.shape[0]
        ours_path = os.path.join(folder, "ours.png")
        subprocess.run([upscale, source, ours_path, "--model", model, "--scale", str(scale), "--quiet"], check=True)
        ours = np.asarray(Image.open(ours_path).convert("RGB")).astype(np.float64)
        difference = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else float("inf")
        worst = max(worst, difference)
        print(f"ncnn_export {os.path.basename(model)} x{scale}: max difference {difference:.0f}/255")
sys.exit(0 if worst <= 1 else 1)
