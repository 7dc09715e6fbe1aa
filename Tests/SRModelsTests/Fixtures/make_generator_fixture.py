"""Independent numpy reference for the MSRResNet forward pass (BasicSR's srresnet_arch.MSRResNet) and for
our CompactResNet (body at input resolution, conv_body with a skip from conv_first, conv_up, one pixel shuffle):
writes tiny_generators.safetensors with, per configuration, random weights under BasicSR's state-dict
names (prefixed `<config>/`), an input and the expected output. Needs numpy and safetensors.
Convolution is a direct sum over kernel offsets; pixel shuffle is PyTorch's reshape/transpose;
the bilinear base follows PyTorch's align_corners=False source-index rule."""
import numpy as np
from safetensors.numpy import save_file
from numpy_reference import conv, lrelu, pixel_shuffle, prelu


def bilinear(x, s):
    n, c, h, w = x.shape

    def taps(length):
        src = np.maximum((np.arange(length * s) + 0.5) / s - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), length - 1)
        i1 = np.where(i0 < length - 1, i0 + 1, i0)
        return i0, i1, src - i0

    y0, y1, ly = taps(h)
    x0, x1, lx = taps(w)
    top = x[:, :, y0][:, :, :, x0] * (1 - lx) + x[:, :, y0][:, :, :, x1] * lx
    bottom = x[:, :, y1][:, :, :, x0] * (1 - lx) + x[:, :, y1][:, :, :, x1] * lx
    return top * (1 - ly)[None, None, :, None] + bottom * ly[None, None, :, None]


def forward(p, x, feat, blocks, scale, act, kf, kl):
    a = (lambda t, name: prelu(t, p[name])) if act == "prelu" else (lambda t, name: lrelu(t))
    out = a(conv(x, p["conv_first.weight"], p["conv_first.bias"]), "act_first.weight")
    for i in range(blocks):
        r = conv(out, p[f"body.{i}.conv1.weight"], p[f"body.{i}.conv1.bias"])
        r = prelu(r, p[f"body.{i}.act.weight"]) if act == "prelu" else np.maximum(r, 0)
        out = out + conv(r, p[f"body.{i}.conv2.weight"], p[f"body.{i}.conv2.bias"])
    stage = 3 if scale == 3 else 2
    out = a(pixel_shuffle(conv(out, p["upconv1.weight"], p["upconv1.bias"]), stage), "act_up1.weight")
    if scale == 4:
        out = a(pixel_shuffle(conv(out, p["upconv2.weight"], p["upconv2.bias"]), 2), "act_up2.weight")
    out = conv(a(conv(out, p["conv_hr.weight"], p["conv_hr.bias"]), "act_hr.weight"), p["conv_last.weight"], p["conv_last.bias"])
    return out + bilinear(x, scale)


rng = np.random.default_rng(42)
tensors = {}
for name, (feat, blocks, scale, act, kf, kl) in {
    "x4_lrelu": (8, 2, 4, "lrelu", 3, 3),
    "x3_lrelu": (6, 1, 3, "lrelu", 3, 3),
    "x2_prelu_k9": (5, 1, 2, "prelu", 9, 9),
}.items():
    stage = 3 if scale == 3 else 2
    shapes = {"conv_first": (feat, 3, kf, kf), "upconv1": (feat * stage * stage, feat, 3, 3), "conv_hr": (feat, feat, 3, 3),
              "conv_last": (3, feat, kl, kl)}
    if scale == 4:
        shapes["upconv2"] = (feat * 4, feat, 3, 3)
    for i in range(blocks):
        shapes[f"body.{i}.conv1"] = shapes[f"body.{i}.conv2"] = (feat, feat, 3, 3)
    p = {}
    for key, shape in shapes.items():
        p[key + ".weight"] = (rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[1:]))).astype(np.float32)
        p[key + ".bias"] = (rng.standard_normal(shape[0]) * 0.1).astype(np.float32)
    if act == "prelu":
        for key in ["act_first", "act_up1", "act_hr"] + [f"body.{i}.act" for i in range(blocks)]:
            p[key + ".weight"] = rng.uniform(0.05, 0.4, feat).astype(np.float32)
    x = rng.random((1, 3, 7, 6)).astype(np.float32)
    y = forward({k: v.astype(np.float64) for k, v in p.items()}, x.astype(np.float64), feat, blocks, scale, act, kf, kl)
    for k, v in p.items():
        tensors[f"{name}/{k}"] = v
    tensors[f"{name}/input"] = x
    tensors[f"{name}/expected"] = y.astype(np.float32)


def forward_compact(p, x, blocks, scale):
    features = lrelu(conv(x, p["conv_first.weight"], p["conv_first.bias"]))
    out = features
    for i in range(blocks):
        r = np.maximum(conv(out, p[f"body.{i}.conv1.weight"], p[f"body.{i}.conv1.bias"]), 0)
        out = out + conv(r, p[f"body.{i}.conv2.weight"], p[f"body.{i}.conv2.bias"])
    out = conv(out, p["conv_body.weight"], p["conv_body.bias"]) + features
    return pixel_shuffle(conv(out, p["conv_up.weight"], p["conv_up.bias"]), scale) + bilinear(x, scale)


for name, (feat, blocks, scale) in {"x4_compact": (8, 2, 4), "x3_compact": (6, 1, 3)}.items():
    shapes = {"conv_first": (feat, 3, 3, 3), "conv_body": (feat, feat, 3, 3), "conv_up": (3 * scale * scale, feat, 3, 3)}
    for i in range(blocks):
        shapes[f"body.{i}.conv1"] = shapes[f"body.{i}.conv2"] = (feat, feat, 3, 3)
    p = {}
    for key, shape in shapes.items():
        p[key + ".weight"] = (rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[1:]))).astype(np.float32)
        p[key + ".bias"] = (rng.standard_normal(shape[0]) * 0.1).astype(np.float32)
    x = rng.random((1, 3, 7, 6)).astype(np.float32)
    y = forward_compact({k: v.astype(np.float64) for k, v in p.items()}, x.astype(np.float64), blocks, scale)
    for k, v in p.items():
        tensors[f"{name}/{k}"] = v
    tensors[f"{name}/input"] = x
    tensors[f"{name}/expected"] = y.astype(np.float32)
save_file(tensors, "tiny_generators.safetensors")
