"""Independent numpy reference for Real-ESRGAN's SRVGGNetCompact (body.0 conv 3->F, body.1 PReLU, ...,
body.{2N+2} conv F->3*s*s, pixel shuffle, plus the nearest-upsampled input), as its state dicts name it.
Writes tiny_srvgg_x4.safetensors (a plain state dict, no metadata: the loader must recognise the family from the
names) and tiny_srvgg_x4_io.safetensors (input [1, 3, 7, 6] and the expected output). Needs numpy and safetensors."""
import numpy as np
from safetensors.numpy import save_file
from numpy_reference import conv, pixel_shuffle, prelu


rng = np.random.default_rng(5)
features, convs, scale = 6, 2, 4
p = {}
shapes = [(features, 3)] + [(features, features)] * convs + [(3 * scale * scale, features)]
for index, (o, c) in enumerate(shapes):
    p[f"body.{2 * index}.weight"] = (rng.standard_normal((o, c, 3, 3)) * np.sqrt(2 / (c * 9))).astype(np.float32)
    p[f"body.{2 * index}.bias"] = (rng.standard_normal(o) * 0.1).astype(np.float32)
    if index < len(shapes) - 1:
        p[f"body.{2 * index + 1}.weight"] = rng.uniform(0.05, 0.4, o).astype(np.float32)
x = rng.random((1, 3, 7, 6)).astype(np.float32)
y = x.astype(np.float64)
q = {k: v.astype(np.float64) for k, v in p.items()}
for index in range(len(shapes)):
    y = conv(y, q[f"body.{2 * index}.weight"], q[f"body.{2 * index}.bias"])
    if index < len(shapes) - 1:
        y = prelu(y, q[f"body.{2 * index + 1}.weight"])
y = pixel_shuffle(y, scale) + x.astype(np.float64).repeat(scale, axis=2).repeat(scale, axis=3)
save_file(p, "tiny_srvgg_x4.safetensors")
save_file({"input": x, "expected": y.astype(np.float32)}, "tiny_srvgg_x4_io.safetensors")
