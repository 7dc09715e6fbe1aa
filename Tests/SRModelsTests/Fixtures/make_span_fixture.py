"""Writes the tiny SPAN fixtures SPANModelTests and CLITests read, from an independent PyTorch model.

SPAN (Wan et al., CVPR 2024 workshops) as its authors define it: every 3x3 convolution is a Conv3XC, trained as
a 1x1 -> 3x3 -> 1x1 chain beside a 1x1 skip and run in eval mode as the single 3x3 convolution they multiply out
to (recomputed from the chain, so the file's eval_conv tensors do not matter: this script fills them with noise).
The merge is written with einsum here and checked against the chain itself on interior pixels.

  tiny_span_x4.pth            8 features, x4, input normalised (mean-subtracted, x255), as torch.save writes
                              BasicSR checkpoints ({"params_ema": state dict})
  tiny_span_x2.safetensors    8 features, x2, with the no_norm buffer (input as is), as OpenModelDB ships them
  tiny_span_io.safetensors    x4_input / x4_output and x2_input / x2_output, the eval-mode forwards

Run from this folder with the peers' environment (torch, safetensors): ../../../.build/peers-venv/bin/python
make_span_fixture.py (`python3 Benchmarks/peers/torch_train_peer.py --help` installs it).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

MEAN = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1)


class Conv3XC(nn.Module):
    def __init__(self, inputs, outputs, gain=2):
        super().__init__()
        self.sk = nn.Conv2d(inputs, outputs, 1)
        self.conv = nn.Sequential(nn.Conv2d(inputs, inputs * gain, 1), nn.Conv2d(inputs * gain, outputs * gain, 3),
                                  nn.Conv2d(outputs * gain, outputs, 1))
        self.eval_conv = nn.Conv2d(inputs, outputs, 3, padding=1)

    def merged(self):
        w1, w2, w3 = self.conv[0].weight[:, :, 0, 0], self.conv[1].weight, self.conv[2].weight[:, :, 0, 0]
        weight = torch.einsum("on,nmyx,mi->oiyx", w3, w2, w1).clone()
        weight[:, :, 1, 1] += self.sk.weight[:, :, 0, 0]
        inner = torch.einsum("nmyx,m->n", w2, self.conv[0].bias) + self.conv[1].bias
        bias = w3 @ inner + self.conv[2].bias + self.sk.bias
        return weight, bias

    def forward(self, x):
        weight, bias = self.merged()
        out = F.conv2d(x, weight, bias, padding=1)
        # The chain on the zero-padded input agrees with the merged kernel away from the border.
        chain = self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        gap = (out - chain)[:, :, 1:-1, 1:-1].abs().max() / chain.abs().max().clamp(min=1e-6)
        assert gap < 1e-5, f"merged kernel differs from the chain by {gap}"
        return out


class Block(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.c1_r = Conv3XC(features, features)
        self.c2_r = Conv3XC(features, features)
        self.c3_r = Conv3XC(features, features)

    def forward(self, x):
        inner = self.c1_r(x)
        y = self.c3_r(F.silu(self.c2_r(F.silu(inner))))
        return (y + x) * (torch.sigmoid(y) - 0.5), inner


class SPAN(nn.Module):
    def __init__(self, features, scale, normalise):
        super().__init__()
        self.normalise = normalise
        if not normalise:
            self.register_buffer("no_norm", torch.zeros(1))
        self.conv_1 = Conv3XC(3, features)
        for k in range(1, 7):
            setattr(self, f"block_{k}", Block(features))
        self.conv_cat = nn.Conv2d(4 * features, features, 1)
        self.conv_2 = Conv3XC(features, features)
        self.upsampler = nn.Sequential(nn.Conv2d(features, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x):
        if self.normalise:
            x = (x - MEAN) * 255
        first = self.conv_1(x)
        y = first
        for k in range(1, 7):
            y, inner = getattr(self, f"block_{k}")(y)
            if k == 1:
                after_first = y
        return self.upsampler(self.conv_cat(torch.cat([first, self.conv_2(y), after_first, inner], 1)))


def make(features, scale, normalise, seed):
    torch.manual_seed(seed)
    model = SPAN(features, scale, normalise)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Unit-gain random weights (the six attention blocks then keep the input's detail); eval_conv is
            # stale noise.
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn_like(p) * (0.6 / fan_in ** 0.5 if p.dim() > 1 else 0.05))
        if normalise:  # the ×255 input needs a first layer that scales it back
            for name in ("sk", "conv.0"):
                module = model.conv_1.sk if name == "sk" else model.conv_1.conv[0]
                module.weight.mul_(1 / 255)
    return model.eval()


io = {}
for scale, normalise, height, width in ((4, True, 9, 11), (2, False, 10, 7)):
    model = make(8, scale, normalise, seed=scale)
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(10 + scale))
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, height * scale, width * scale) and y.std() > 0.01
    io[f"x{scale}_input"], io[f"x{scale}_output"] = x.contiguous(), y.contiguous()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if normalise:
        torch.save({"params_ema": state}, f"tiny_span_x{scale}.pth")
    else:
        save_file(state, f"tiny_span_x{scale}.safetensors")
save_file(io, "tiny_span_io.safetensors")
print({k: tuple(v.shape) for k, v in io.items()})
