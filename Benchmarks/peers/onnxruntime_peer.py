"""Our generators against ONNX Runtime on the same weights, input and threads (`make bench-peers`).

Installs onnxruntime, onnx, numpy, safetensors and Pillow from PyPI into a virtual environment in the build
folder (never in `make test`), writes the generator as an ONNX graph with onnx's helper API (no PyTorch),
checks that ONNX Runtime's output matches `upscale`'s within 1/255, and prints in one run:
  forward_vs_onnxruntime  ONNX Runtime's forward time / ours (higher is better; both whole-image, one pass)
  cli_vs_onnxruntime      ONNX Runtime's forward time / our whole CLI run (decode, tiles, encode)
plus the CPU and the OpenBLAS core the figures came from.

Usage: python3 Benchmarks/peers/onnxruntime_peer.py [MODEL.safetensors ...] (default: the shipped x4 models)
"""
import json
import os
import subprocess
import sys
import time

from peer_venv import ROOT, enter

enter(["onnxruntime", "onnx", "numpy", "safetensors", "pillow"])

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402

THREADS = 2
SIZE = 512


def load(path):
    with safe_open(path, "np") as f:
        return {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}, f.metadata()


def graph(weights, meta):
    """The generator as ONNX nodes: Conv, LeakyRelu/Relu, Add, DepthToSpace (CRD = PyTorch's pixel shuffle)
    and a bilinear Resize (half-pixel centres, as the base path)."""
    nodes, inits = [], [numpy_helper.from_array(v, k) for k, v in weights.items()]
    scale = int(meta["upscale"])
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def conv(x, layer):
        out = name(layer)
        k = weights[layer + ".weight"].shape[2]
        nodes.append(helper.make_node("Conv", [x, layer + ".weight", layer + ".bias"], [out], pads=[k // 2] * 4))
        return out

    def lrelu(x):
        out = name("lrelu")
        nodes.append(helper.make_node("LeakyRelu", [x], [out], alpha=0.1))
        return out

    def relu(x):
        out = name("relu")
        nodes.append(helper.make_node("Relu", [x], [out]))
        return out

    def add(a, b):
        out = name("add")
        nodes.append(helper.make_node("Add", [a, b], [out]))
        return out

    def shuffle(x, r):
        out = name("shuffle")
        nodes.append(helper.make_node("DepthToSpace", [x], [out], blocksize=r, mode="CRD"))
        return out

    blocks = int(meta["num_block"])
    features = lrelu(conv("input", "conv_first"))
    x = features
    for i in range(blocks):
        x = add(x, conv(relu(conv(x, f"body.{i}.conv1")), f"body.{i}.conv2"))
    if meta["arch"] == "CompactResNet":
        x = shuffle(conv(add(conv(x, "conv_body"), features), "conv_up"), scale)
    else:
        stages = [3] if scale == 3 else [2] * (2 if scale == 4 else 1)
        for index, r in enumerate(stages):
            x = lrelu(shuffle(conv(x, f"upconv{index + 1}"), r))
        x = conv(lrelu(conv(x, "conv_hr")), "conv_last")
    inits.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"))
    nodes.append(
        helper.make_node(
            "Resize", ["input", "", "scales"], ["base"], mode="linear", coordinate_transformation_mode="half_pixel"))
    nodes.append(helper.make_node("Add", [x, "base"], ["output"]))
    g = helper.make_graph(
        nodes, "upscale", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, None, None])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, None, None])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def best(run, repeats=5):
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    models = sys.argv[1:] or [os.path.join(ROOT, "weights", m) for m in ("x4-psnr.safetensors", "x4-gan.safetensors")]
    upscale = os.path.join(ROOT, ".build", "release", "upscale")
    bench = os.path.join(ROOT, ".build", "release", "upscale-bench")
    version = subprocess.run([upscale, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    print(f"# {version}")
    print(f"# onnxruntime {onnxruntime.__version__}, {THREADS} threads, {SIZE}x{SIZE} input, best of 5")
    rng = np.random.default_rng(0)
    # A smooth image with edges (a plain noise image would be an unfair, unnatural input for both).
    base = rng.random((SIZE // 16, SIZE // 16, 3))
    image = np.kron(base, np.ones((16, 16, 1)))
    pixels = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    work = os.path.join(ROOT, ".build", "peers")
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "input.png")
    Image.fromarray(pixels).save(source)
    x = (pixels.astype(np.float32) / 255).transpose(2, 0, 1)[None]
    for path in models:
        weights, meta = load(path)
        model = graph(weights, meta)
        onnx.checker.check_model(model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        ours_png = os.path.join(work, "ours.png")
        cli = best(lambda: subprocess.run([upscale, source, ours_png, "--model", path, "--quiet",
                                           "--scale", meta["upscale"], "--threads", str(THREADS)], check=True),
                   repeats=3)
        ort_out = session.run(None, {"input": x})[0]
        ours = np.asarray(Image.open(ours_png).convert("RGB")).astype(np.float32) / 255
        theirs = np.clip(np.round(ort_out[0].transpose(1, 2, 0) * 255), 0, 255) / 255
        difference = float(np.abs(ours - theirs).max())
        ort = best(lambda: session.run(None, {"input": x}))
        lines = subprocess.run([bench, "--forward", path, str(SIZE)], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        forward = float(next(line for line in lines if line.startswith("forward_seconds:")).split(":")[1])
        name = os.path.basename(path)
        megapixels = (SIZE * int(meta["upscale"])) ** 2 / 1e6
        print(json.dumps({"model": name, "max_difference_255": round(difference * 255, 2),
                          "onnxruntime_s_per_mp": round(ort / megapixels, 3),
                          "ours_forward_s_per_mp": round(forward / megapixels, 3),
                          "ours_cli_s_per_mp": round(cli / megapixels, 3)}))
        print(f"{name} forward_vs_onnxruntime: {ort / forward:.3f}")
        print(f"{name} cli_vs_onnxruntime: {ort / cli:.3f}")
        if difference > 1.5 / 255:
            print(f"{name}: outputs differ by {difference * 255:.2f}/255 (more than 1/255 after rounding)")
            sys.exit(1)


main()
