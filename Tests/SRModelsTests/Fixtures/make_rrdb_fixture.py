"""Independent numpy reference for ESRGAN's RRDBNet (BasicSR rrdbnet_arch, as Real-ESRGAN x4plus/x2plus use it).
Writes, per case, a plain state dict (no metadata; the loader recognises the family by its names):
  tiny_rrdb_x4.safetensors      BasicSR names, 8 features, growth 4, 2 blocks, x4
  tiny_rrdb_x4_old.safetensors  the same weights under ESRGAN's original names (model.0, model.1.sub.I.RDBk...)
  tiny_rrdb_x2.safetensors      BasicSR names, x2 (input pixel-unshuffled by 2 into 12 channels)
and tiny_rrdb_io.safetensors with the inputs and expected outputs ("x4/input", "x4/expected", "x2/…").
Needs numpy and safetensors."""
import numpy as np
from safetensors.numpy import save_file
from numpy_reference import conv
from numpy_reference import lrelu as leaky


def lrelu(x):
    return leaky(x, 0.2)


def unshuffle(x, r):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h // r, w // r)


def nearest2(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


def forward(p, x, blocks, scale):
    c = lambda t, name: conv(t, p[name + ".weight"], p[name + ".bias"])
    if scale == 2:
        x = unshuffle(x, 2)
    feat = c(x, "conv_first")
    body = feat
    for i in range(blocks):
        rrdb_in = body
        for k in (1, 2, 3):
            rdb_in = body
            feats = [rdb_in]
            for j in range(1, 5):
                feats.append(lrelu(c(np.concatenate(feats, axis=1), f"body.{i}.rdb{k}.conv{j}")))
            x5 = c(np.concatenate(feats, axis=1), f"body.{i}.rdb{k}.conv5")
            body = rdb_in + 0.2 * x5
        body = rrdb_in + 0.2 * body
    feat = feat + c(body, "conv_body")
    feat = lrelu(c(nearest2(feat), "conv_up1"))
    feat = lrelu(c(nearest2(feat), "conv_up2"))
    return c(lrelu(c(feat, "conv_hr")), "conv_last")


def weights(rng, nf, gc, blocks, in_channels):
    shapes = {"conv_first": (nf, in_channels), "conv_body": (nf, nf), "conv_up1": (nf, nf), "conv_up2": (nf, nf),
              "conv_hr": (nf, nf), "conv_last": (3, nf)}
    for i in range(blocks):
        for k in (1, 2, 3):
            for j in range(1, 6):
                shapes[f"body.{i}.rdb{k}.conv{j}"] = (nf if j == 5 else gc, nf + (j - 1) * gc)
    p = {}
    for name, (o, c) in shapes.items():
        p[name + ".weight"] = (rng.standard_normal((o, c, 3, 3)) * np.sqrt(2 / (c * 9)) * 0.5).astype(np.float32)
        p[name + ".bias"] = (rng.standard_normal(o) * 0.05).astype(np.float32)
    return p


def old_names(p):
    fixed = {"conv_first": "model.0", "conv_body": "model.1.sub.2", "conv_up1": "model.3", "conv_up2": "model.6",
             "conv_hr": "model.8", "conv_last": "model.10"}
    out = {}
    for name, value in p.items():
        parts = name.split(".")
        if parts[0] == "body":
            out[f"model.1.sub.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.0.{parts[4]}"] = value
        else:
            out[fixed[parts[0]] + "." + parts[1]] = value
    return out


rng = np.random.default_rng(11)
io = {}
for scale, in_channels in ((4, 3), (2, 12)):
    p = weights(rng, 8, 4, 2, in_channels)
    x = rng.random((1, 3, 6, 8)).astype(np.float32)
    y = forward({k: v.astype(np.float64) for k, v in p.items()}, x.astype(np.float64), 2, scale)
    save_file(p, f"tiny_rrdb_x{scale}.safetensors")
    if scale == 4:
        save_file(old_names(p), "tiny_rrdb_x4_old.safetensors")
    io[f"x{scale}/input"] = x
    io[f"x{scale}/expected"] = y.astype(np.float32)
save_file(io, "tiny_rrdb_io.safetensors")
