"""Checks `upscale model export` in ONNX Runtime: each exported graph must pass onnx.checker and match
`upscale`'s own output (8-bit PNG) within 1/255 on the same input, and on that input cropped to odd sides
(which the pixel-unshuffled RRDBNet ×2 and ×1 graphs pad and crop back). Run by `make bench-peers`.
Usage: check_onnx_export.py UPSCALE INPUT.png MODEL [MODEL ...]"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime
from PIL import Image

upscale, source, models = sys.argv[1], sys.argv[2], sys.argv[3:]
full = np.asarray(Image.open(source).convert("RGB"))
odd = full[: full.shape[0] - 1 + full.shape[0] % 2, : full.shape[1] - 1 + full.shape[1] % 2]
worst = 0.0
with tempfile.TemporaryDirectory() as folder:
    for model in models:
        path = os.path.join(folder, "model.onnx")
        subprocess.run([upscale, "model", "export", model, path], check=True, capture_output=True)
        onnx.checker.check_model(onnx.load(path))
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        for pixels in (full, odd):
            input_path = os.path.join(folder, "input.png")
            Image.fromarray(pixels).save(input_path)
            x = (pixels.astype(np.float32) / 255).transpose(2, 0, 1)[None]
            theirs = np.clip(np.round(session.run(None, {"input": x})[0][0].transpose(1, 2, 0) * 255), 0, 255)
            ours_path = os.path.join(folder, "ours.png")
            scale = theirs.shape[0] // pixels.shape[0]
            subprocess.run(
                [upscale, input_path, ours_path, "--model", model, "--scale", str(scale), "--quiet"], check=True)
            ours = np.asarray(Image.open(ours_path).convert("RGB")).astype(np.float64)
            difference = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else float("inf")
            worst = max(worst, difference)
            size = f"{pixels.shape[1]}x{pixels.shape[0]}"
            print(f"onnx_export {os.path.basename(model)} {size}: max difference {difference:.0f}/255")
sys.exit(0 if worst <= 1 else 1)
