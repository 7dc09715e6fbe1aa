"""Writes a tiny ncnn graph (tiny_ncnn_x4.param / .bin) that uses every layer type upscale's interpreter runs, in
the shapes the shipped ncnn upscalers use them (SPAN's mean subtraction and attention, Real-ESRGAN's fused LeakyReLU,
Eltwise sums with coefficients and nearest/bilinear Interp), and its expected output, computed here in float64
numpy from the same (float16-rounded where stored as float16) weights: tiny_ncnn_x4_io.safetensors holds input
[1, 3, 7, 6] and expected [1, 3, 28, 24]. The .bin mixes every weight encoding ncnn reads: float16 (tag 0x01306B47),
float32 (tag 0) and a 256-entry table with byte indices. Needs numpy and safetensors."""
import struct

import numpy as np
from safetensors.numpy import save_file
from numpy_reference import conv, pixel_shuffle, lrelu, prelu

rng = np.random.default_rng(11)
layers, blob_count, weights = [], set(), bytearray()


def layer(kind, name, inputs, outputs, params=""):
    layers.append(f"{kind:<16} {name:<12} {len(inputs)} {len(outputs)} {' '.join(inputs + outputs)} {params}".rstrip())
    blob_count.update(outputs)


def raw(values):
    weights.extend(struct.pack(f"<{values.size}f", *values.astype(np.float32).ravel()))


def tagged(values, encoding):
    flat = values.astype(np.float32).ravel()
    if encoding == "fp16":
        half = flat.astype(np.float16)
        weights.extend(struct.pack("<I", 0x01306B47) + half.tobytes())
        weights.extend(b"\0" * (-len(half.tobytes()) % 4))
        return half.astype(np.float64).reshape(values.shape)
    if encoding == "table":
        table = np.linspace(-0.5, 0.5, 256).astype(np.float32)
        index = np.abs(flat[:, None] - table[None, :]).argmin(axis=1).astype(np.uint8)
        weights.extend(bytes([1, 2, 3, 4]) + table.tobytes() + index.tobytes() + b"\0" * (-index.size % 4))
        return table[index].astype(np.float64).reshape(values.shape)
    weights.extend(b"\0\0\0\0")
    raw(flat)
    return flat.astype(np.float64).reshape(values.shape)


def convolution(name, x_name, y_name, cin, cout, k, encoding, activation=""):
    w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2 / (cin * k * k)) * 0.5
    b = rng.standard_normal(cout) * 0.1
    layer("Convolution", name, [x_name], [y_name], f"0={cout} 1={k} 4={k // 2} 5=1 6={w.size} {activation}")
    stored = tagged(w, encoding)
    raw(b)
    return stored, b.astype(np.float32).astype(np.float64)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def upsample_bilinear(x, s):
    """PyTorch F.interpolate(mode="bilinear", align_corners=False) by an integer factor."""
    def taps(n):
        src = np.maximum((np.arange(n * s) + 0.5) / s - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n - 1)
        return i0, np.minimum(i0 + 1, n - 1), src - i0
    y0, y1, fy = taps(x.shape[2])
    x0, x1, fx = taps(x.shape[3])
    rows = x[:, :, y0, :] * (1 - fy)[None, None, :, None] + x[:, :, y1, :] * fy[None, None, :, None]
    return rows[:, :, :, x0] * (1 - fx) + rows[:, :, :, x1] * fx


F = 4
x = rng.random((1, 3, 7, 6)).astype(np.float32)
v = x.astype(np.float64)
mean = np.array([0.45, 0.44, 0.40])

layer("Input", "in", [], ["data"], "0=6 1=7 2=3")
layer("Split", "in2", ["data"], ["data_a", "data_b"])  # ncnn needs a Split wherever a blob fans out
layer("MemoryData", "mean", [], ["mean"], "0=1 1=1 2=3")
raw(mean)
layer("BinaryOp", "sub", ["data_a", "mean"], ["centred"], "0=1")
layer("BinaryOp", "scale", ["centred"], ["scaled"], "0=2 1=1 2=2.0")
h = (v - mean[None, :, None, None]) * 2.0
w, b = convolution("c0", "scaled", "f0", 3, F, 3, "fp16", "9=2 -23310=1,2.000000e-01")
f0 = lrelu(conv(h, w, b), 0.2)
layer("Split", "s0", ["f0"], ["f0a", "f0b", "f0c"])
w, b = convolution("c1", "f0a", "f1", F, F, 3, "fp32")
f1 = conv(f0, w, b)
layer("Swish", "sw", ["f1"], ["f1s"])
f1s = f1 * sigmoid(f1)
w, b = convolution("c2", "f1s", "f2", F, F, 3, "table")
f2 = conv(f1s, w, b)
layer("Split", "s1", ["f2"], ["f2a", "f2b"])
layer("Sigmoid", "sg", ["f2a"], ["att"])
layer("BinaryOp", "half", ["att"], ["att2"], "0=1 1=1 2=5.000000e-01")
layer("BinaryOp", "add", ["f2b", "f0b"], ["sum"], "0=0")
layer("BinaryOp", "mul", ["sum", "att2"], ["gated"], "0=2")
gated = (f2 + f0) * (sigmoid(f2) - 0.5)
layer("PReLU", "pr", ["gated"], ["pr"], f"0={F}")
slopes = rng.uniform(0.05, 0.4, F)
raw(slopes)
slopes = slopes.astype(np.float32).astype(np.float64)
g = prelu(gated, slopes)
layer("Concat", "cat", ["f0c", "pr"], ["cat"], "0=0")
w, b = convolution("c3", "cat", "fused", 2 * F, F, 1, "fp32", "9=1")
fused = np.maximum(conv(np.concatenate([f0, g], axis=1), w, b), 0)
layer("Split", "s2", ["fused"], ["fa", "fb"])
layer("Eltwise", "elt", ["fa", "fb"], ["elt"], "0=1 -23301=2,5.000000e-01,1.000000e+00")
e = 0.5 * fused + fused
layer("Interp", "up2", ["elt"], ["up2"], "0=2 1=2.000000e+00 2=2.000000e+00")
u = upsample_bilinear(e, 2)
w, b = convolution("c4", "up2", "hr", F, 3 * 4, 3, "fp16", "9=3 -23310=2,-1.000000e+00,1.000000e+00")
hr = np.clip(conv(u, w, b), -1, 1)
layer("PReLU", "hr_pr", ["hr"], ["hr_p"], "0=12")  # a convolution's only reader: runs in place after it
hr_slopes = rng.uniform(0.05, 0.4, 12)
raw(hr_slopes)
hr = prelu(hr, hr_slopes.astype(np.float32).astype(np.float64))
layer("PixelShuffle", "ps", ["hr_p"], ["shuf"], "0=2")
layer("Interp", "base", ["data_b"], ["base"], "0=1 1=4.000000e+00 2=4.000000e+00")
layer("BinaryOp", "res", ["shuf", "base"], ["resid"], "0=0")
layer("ReLU", "relu", ["resid"], ["output"], "0=1.000000e-01")
y = lrelu(pixel_shuffle(hr, 2) + v.repeat(4, axis=2).repeat(4, axis=3), 0.1)

blobs = {"data"} | blob_count
with open("tiny_ncnn_x4.param", "w") as f:
    f.write(f"7767517\n{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n")
with open("tiny_ncnn_x4.bin", "wb") as f:
    f.write(bytes(weights))
save_file({"input": x, "expected": y.astype(np.float32)}, "tiny_ncnn_x4_io.safetensors")
