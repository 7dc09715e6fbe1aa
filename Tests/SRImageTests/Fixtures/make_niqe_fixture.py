"""Reference NIQE scores for NIQETests, from an independent numpy/scipy implementation of the authors' MATLAB
algorithm (computequality.m, computefeature.m, estimateaggdparam.m; Mittal, Soundararajan and Bovik, IEEE SPL
2013), with the pristine model in ../../../weights/niqe_pristine_params.safetensors.

Writes niqe-*.png (8-bit RGB test images made here from a seed) and niqe_expected.json.
Needs numpy, scipy, safetensors and Pillow. Conventions: Y of BT.601 on 0-255 (16 + 65.481 R + 128.553 G +
24.966 B with RGB in [0, 1]), rounded; MATLAB imresize(0.5) (antialiased bicubic) on [0, 1] values."""
import json

import numpy as np
from PIL import Image
from safetensors.numpy import load_file
from scipy.ndimage import convolve
from scipy.special import gamma


def matlab_imresize_half(img):
    def weights(length):
        scale, width = 0.5, 8.0
        out = length // 2
        x = np.arange(1, out + 1)
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = np.floor(u - width / 2)
        idx = left[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
        d = u[:, None] - idx
        a = np.abs(scale * d)
        cubic = np.where(a <= 1, 1.5 * a ** 3 - 2.5 * a ** 2 + 1,
                         np.where(a <= 2, -0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2, 0))
        w = scale * cubic
        w /= w.sum(axis=1, keepdims=True)
        mirror = np.concatenate([np.arange(length), np.arange(length - 1, -1, -1)])
        idx = mirror[np.mod(idx.astype(int) - 1, 2 * length)]
        return idx, w

    rows, rw = weights(img.shape[0])
    cols, cw = weights(img.shape[1])
    tmp = (img[rows] * rw[:, :, None]).sum(axis=1)
    return (tmp[:, cols] * cw[None, :, :]).sum(axis=2)


def aggd(x):
    x = x.ravel()
    gam = np.arange(0.2, 10.0005, 0.001)
    r_gam = gamma(2 / gam) ** 2 / (gamma(1 / gam) * gamma(3 / gam))
    left = np.sqrt(np.mean(x[x < 0] ** 2))
    right = np.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    r = np.mean(np.abs(x)) ** 2 / np.mean(x ** 2)
    rn = r * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    alpha = gam[np.argmin((r_gam - rn) ** 2)]
    f = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * f, right * f


def block_features(b):
    alpha, bl, br = aggd(b)
    feats = [alpha, (bl + br) / 2]
    for shift in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        a, l, r = aggd(b * np.roll(b, shift, axis=(0, 1)))
        feats += [a, (r - l) * gamma(2 / a) / gamma(1 / a), l, r]
    return feats


def niqe(rgb, mu_p, cov_p):
    y = np.round(16 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2])
    h, w = (y.shape[0] // 96) * 96, (y.shape[1] // 96) * 96
    img = y[:h, :w]
    t = np.exp(-np.arange(-3, 4) ** 2 / (2 * (7 / 6) ** 2))
    window = np.outer(t, t) / np.outer(t, t).sum()
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        size = 96 // scale
        per_scale.append([block_features(mscn[i:i + size, j:j + size])
                          for i in range(0, img.shape[0], size) for j in range(0, img.shape[1], size)])
        img = matlab_imresize_half(img / 255.0) * 255.0
    feats = np.hstack([np.array(per_scale[0]), np.array(per_scale[1])])
    feats = feats[np.all(np.isfinite(feats), axis=1)]
    mu, cov = feats.mean(axis=0), np.cov(feats, rowvar=False)
    d = mu_p - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2) @ d))


params = load_file("../../../weights/niqe_pristine_params.safetensors")
mu_p, cov_p = params["mean"].astype(np.float64), params["covariance"].astype(np.float64)
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:200, 0:296] / 40.0
smooth = np.stack([0.5 + 0.3 * np.sin(xx + c) * np.cos(yy * 1.3 - c) for c in range(3)], axis=-1)
texture = np.clip(smooth + 0.08 * rng.standard_normal(smooth.shape), 0, 1)
blocky = np.kron(smooth[::8, ::8], np.ones((8, 8, 1)))[:200, :296]
expected = {}
for name, image in [("smooth", smooth), ("texture", texture), ("blocky", blocky)]:
    pixels = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(f"niqe-{name}.png")
    expected[name] = niqe(pixels.astype(np.float64) / 255, mu_p, cov_p)
with open("niqe_expected.json", "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
print(expected)
