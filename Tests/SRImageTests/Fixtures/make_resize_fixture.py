"""Writes resize_cases.json: inputs and outputs of an independent numpy port of MATLAB's imresize
(bicubic, antialiased when shrinking), for SRImageTests.ResamplerTests. Run: python3 make_resize_fixture.py"""
import json
import numpy as np


def cubic(x):
    a = np.abs(x)
    return ((1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1)
            + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


def contributions(in_len, out_len, scale):
    kernel_width = 4.0
    if scale < 1:
        kernel_width /= scale
        h = lambda x: scale * cubic(scale * x)
    else:
        h = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(np.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(p)[None, :]
    weights = h(u[:, None] - ind)
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    ind = aux[np.mod(ind.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], ind[:, keep]


def imresize(img, out_h, out_w):
    # MATLAB resizes the dimension with the smaller scale first; the result is the same up to rounding.
    w_h, i_h = contributions(img.shape[0], out_h, out_h / img.shape[0])
    w_w, i_w = contributions(img.shape[1], out_w, out_w / img.shape[1])
    tmp = np.einsum('ok,okw->ow', w_h, img[i_h])
    return np.einsum('ok,hok->ho', w_w, tmp[:, i_w])


rng = np.random.default_rng(1)
cases = []
for (h, w, oh, ow) in [(16, 16, 4, 4), (17, 13, 68, 52), (21, 19, 7, 6), (10, 15, 25, 37), (33, 27, 11, 18),
                       (12, 12, 30, 30), (9, 11, 27, 33), (40, 24, 13, 8)]:
    img = rng.random((h, w))
    out = imresize(img, oh, ow)
    cases.append({"in_h": h, "in_w": w, "out_h": oh, "out_w": ow,
                  "input": [round(float(v), 7) for v in img.ravel()],
                  "output": [round(float(v), 7) for v in out.ravel()]})
with open("resize_cases.json", "w") as f:
    json.dump(cases, f)
