"""Our trainer against PyTorch's on the same networks, batch and threads (`make bench-train-peer`).

What an ML engineer would otherwise run on a CPU is a BasicSR-style PyTorch loop. This script installs torch
(the CPU build, from PyTorch's index), numpy, safetensors and Pillow into the peers' virtual environment (never in
`make test`), builds the shipped networks in plain PyTorch with the shipped weights, and times in one run:

  l1   CompactResNet 48x8 x4 (`x4-psnr`), L1 loss, Adam, batch 16 x 96-px crops: the faithful stage.
  gan  the same generator, Real-ESRGAN's recipe: L1 + VGG16 perceptual (conv1_2..conv5_3 weighted
       0.1/0.1/1/1/1) + vanilla GAN 0.1 against the U-Net discriminator with spectral norm (32 features),
       Adam for both, generator EMA, batch 2 x 192-px crops: the shipped default's stage.

Ours is `upscale train` through the whole CLI on ../shared/data/train (decoding, cropping and degrading on its
data thread included, bicubic for l1, realistic for gan with the unsharp-masked target); PyTorch's gets random
tensors of the same shapes with no data pipeline, which favours it. Each side runs alone on the same cores;
steps per second are taken after warm-up, and the ratio ours / PyTorch's is printed (higher is better for us),
against PyTorch's default NCHW tensors and against channels-last ones (the layout its oneDNN convolutions prefer).

Usage: python3 Benchmarks/peers/torch_train_peer.py [--steps N] [--threads T] [--stage l1|gan|both]
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from peer_venv import ROOT, enter

enter(["numpy", "safetensors", "pillow"], cpu_torch=True)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data", "train")
GENERATOR = os.path.join(ROOT, "weights", "x4-psnr.safetensors")
VGG = os.path.join(ROOT, "weights", "vgg16_caffe_conv1_1-conv5_3_f16.safetensors")
VGG_LAYERS = [("conv1_2", 0.1), ("conv2_2", 0.1), ("conv3_3", 1.0), ("conv4_3", 1.0), ("conv5_3", 1.0)]
VGG_BLOCKS = [["conv1_1", "conv1_2"], ["conv2_1", "conv2_2"], ["conv3_1", "conv3_2", "conv3_3"],
              ["conv4_1", "conv4_2", "conv4_3"], ["conv5_1", "conv5_2", "conv5_3"]]


class CompactResNet(nn.Module):
    """Our CompactResNet with BasicSR names: conv_first, LeakyReLU 0.1, residual blocks (conv, ReLU, conv),
    conv_body added to the first features, conv_up, one pixel shuffle, plus the bilinear input."""

    def __init__(self, features=48, blocks=8, scale=4):
        super().__init__()
        self.scale = scale
        self.conv_first = nn.Conv2d(3, features, 3, padding=1)
        self.body = nn.ModuleList(nn.ModuleDict({"conv1": nn.Conv2d(features, features, 3, padding=1),
                                                 "conv2": nn.Conv2d(features, features, 3, padding=1)})
                                  for _ in range(blocks))
        self.conv_body = nn.Conv2d(features, features, 3, padding=1)
        self.conv_up = nn.Conv2d(features, 3 * scale * scale, 3, padding=1)

    def forward(self, x):
        features = F.leaky_relu(self.conv_first(x), 0.1)
        y = features
        for block in self.body:
            y = y + block["conv2"](F.relu(block["conv1"](y)))
        y = F.pixel_shuffle(self.conv_up(self.conv_body(y) + features), self.scale)
        return y + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm, as ours (`UNetDiscriminator`)."""

    def __init__(self, f=32):
        super().__init__()
        sn = nn.utils.spectral_norm
        self.conv0 = nn.Conv2d(3, f, 3, padding=1)
        self.conv1 = sn(nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(4 * f, 8 * f, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(8 * f, 4 * f, 3, padding=1, bias=False))
        self.conv5 = sn(nn.Conv2d(4 * f, 2 * f, 3, padding=1, bias=False))
        self.conv6 = sn(nn.Conv2d(2 * f, f, 3, padding=1, bias=False))
        self.conv7 = sn(nn.Conv2d(f, f, 3, padding=1, bias=False))
        self.conv8 = sn(nn.Conv2d(f, f, 3, padding=1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, padding=1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3))) + x2
        x5 = act(self.conv5(up(x4))) + x1
        x6 = act(self.conv6(up(x5))) + x0
        return self.conv9(act(self.conv8(act(self.conv7(x6)))))


class VGGFeatures(nn.Module):
    """VGG16 to conv5_3 (Caffe convention: BGR, 0-255, mean subtracted), frozen; returns the features before
    ReLU of the weighted layers."""

    def __init__(self, weights):
        super().__init__()
        self.convs = nn.ModuleDict()
        for name in sum(VGG_BLOCKS, []):
            w = torch.from_numpy(weights[name + ".weight"].astype(np.float32))
            conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(torch.from_numpy(weights[name + ".bias"].astype(np.float32)))
            self.convs[name] = conv
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1))

    def forward(self, x):
        x = x[:, [2, 1, 0]] * 255 - self.mean
        wanted = dict(VGG_LAYERS)
        out = []
        for index, block in enumerate(VGG_BLOCKS):
            if index:
                x = F.max_pool2d(x, 2)
            for name in block:
                x = self.convs[name](x)
                if name in wanted:
                    out.append((wanted[name], x))
                x = F.relu(x)
            if len(out) == len(VGG_LAYERS):
                break
        return out


def load_generator():
    generator = CompactResNet()
    state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(GENERATOR).items()}
    generator.load_state_dict(state)  # strict: every BasicSR name must match
    return generator


def check_generator(threads):
    """The PyTorch network is ours: its output on a sample matches `upscale`'s within 1/255."""
    upscale = os.path.join(ROOT, ".build", "release", "upscale")
    source = os.path.join(ROOT, "samples", "bird-lr.png")
    with tempfile.TemporaryDirectory(dir=os.path.join(ROOT, ".build")) as folder:
        ours_png = os.path.join(folder, "ours.png")
        subprocess.run([upscale, source, ours_png, "--model", GENERATOR, "--quiet", "--threads", str(threads)],
                       check=True)
        ours = np.asarray(Image.open(ours_png).convert("RGB")).astype(np.float32)
    x = torch.from_numpy(np.asarray(Image.open(source).convert("RGB")).astype(np.float32) / 255)
    with torch.no_grad():
        y = load_generator()(x.permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    theirs = np.clip(np.round(y * 255), 0, 255)
    return float(np.abs(ours - theirs).max())


def torch_steps_per_second(stage, steps, channels_last):
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    generator = load_generator().to(memory_format=layout)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.9, 0.99))
    if stage == "l1":
        batch, crop = 16, 96
    else:
        batch, crop = 2, 192
        vgg = VGGFeatures(load_file(VGG)).to(memory_format=layout)
        discriminator = UNetDiscriminatorSN(32).to(memory_format=layout)
        optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=1e-4, betas=(0.9, 0.99))
        ema = [p.detach().clone() for p in generator.parameters()]
    lr = torch.rand(batch, 3, crop // 4, crop // 4).to(memory_format=layout)
    hr = torch.rand(batch, 3, crop, crop).to(memory_format=layout)

    def step():
        fake = generator(lr)
        loss = F.l1_loss(fake, hr)
        if stage == "gan":
            for p in discriminator.parameters():
                p.requires_grad_(False)
            with torch.no_grad():
                real_features = vgg(hr)
            for (weight, a), (_, b) in zip(vgg(fake), real_features):
                loss = loss + weight * F.l1_loss(a, b)
            logits = discriminator(fake)
            loss = loss + 0.1 * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if stage == "gan":
            for p in discriminator.parameters():
                p.requires_grad_(True)
            real_logits = discriminator(hr)
            fake_logits = discriminator(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            optimizer_d.zero_grad(set_to_none=True)
            loss_d.backward()
            optimizer_d.step()
            with torch.no_grad():
                for average, p in zip(ema, generator.parameters()):
                    average.mul_(0.999).add_(p.detach(), alpha=0.001)

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def ours_steps_per_second(stage, steps, threads):
    """`upscale train` for warm-up + `steps` steps; the rate of the logged windows after the first."""
    upscale = os.path.join(ROOT, ".build", "release", "upscale")
    log_every = 10
    folder = tempfile.mkdtemp(prefix="train-peer-", dir=os.path.join(ROOT, ".build"))
    try:
        arguments = [upscale, "train", "--data", DATA, "--output", folder + "/run", "--threads", str(threads),
                     "--steps", str(log_every + steps), "--log-every", str(log_every), "--seed", "0"]
        if stage == "l1":
            arguments += ["--batch-size", "16", "--patch-size", "96"]
        else:
            arguments += ["--stage", "gan", "--losses", "realesrgan", "--degradation", "realistic", "--init",
                          GENERATOR, "--discriminator-features", "32", "--batch-size", "2", "--patch-size", "192"]
        output = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rates = [float(m) for m in re.findall(r"([0-9.]+) steps/s", output)]
    later = rates[1:]
    # Mean of the later windows' rates, weighted equally (each window has log_every steps): steps / seconds.
    return len(later) / sum(1 / r for r in later)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        name = re.search(r"model name\s*:\s*(.*)", info).group(1)
        family = re.search(r"cpu family\s*:\s*(\d+)", info).group(1)
        model = re.search(r"\nmodel\s*:\s*(\d+)", info).group(1)
        flags = re.search(r"flags\s*:\s*(.*)", info).group(1).split()
        vector = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
        return f"{name} (family {family} model {model}; {', '.join(vector)})"
    except (OSError, AttributeError):
        return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side after warm-up")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", choices=["l1", "gan", "both"], default="both")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    upscale = os.path.join(ROOT, ".build", "release", "upscale")
    version = subprocess.run([upscale, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    print(f"# {version}")
    print(f"# {cpu_name()}; torch {torch.__version__} (oneDNN {torch.backends.mkldnn.is_available()}), "
          f"{options.threads} threads, {options.steps} timed steps per side")
    difference = check_generator(options.threads)
    print(f"# the PyTorch generator against upscale's output on samples/bird-lr.png: max difference "
          f"{difference:.0f}/255")
    if difference > 1:
        sys.exit("the PyTorch network is not ours; no timing is meaningful")
    for stage in (["l1", "gan"] if options.stage == "both" else [options.stage]):
        theirs = torch_steps_per_second(stage, options.steps, channels_last=False)
        theirs_channels_last = torch_steps_per_second(stage, options.steps, channels_last=True)
        ours = ours_steps_per_second(stage, options.steps, options.threads)
        print(json.dumps({"stage": stage, "torch_steps_per_second": round(theirs, 3),
                          "torch_channels_last_steps_per_second": round(theirs_channels_last, 3),
                          "ours_steps_per_second": round(ours, 3)}))
        print(f"train_{stage}_vs_torch: {ours / theirs:.3f}")
        print(f"train_{stage}_vs_torch_channels_last: {ours / theirs_channels_last:.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
