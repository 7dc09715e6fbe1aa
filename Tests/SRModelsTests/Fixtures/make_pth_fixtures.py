"""Writes PyTorch checkpoint files without PyTorch: the zip layout and pickle stream of `torch.save`
(protocol 2; `archive/data.pkl`, `archive/data/<key>` raw little-endian storages, `archive/version`), with
stand-in `torch` modules registered in sys.modules so the pickle names the same globals
(`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`, `torch.HalfStorage`, `collections.OrderedDict`).

  tiny_srvgg_x4.pth        the SRVGGNetCompact weights of tiny_srvgg_x4.safetensors, wrapped as Real-ESRGAN
                           releases them ({"params": state_dict}), float32
  tiny_srvgg_x4_half.pth   the same under "params_ema" with "module." prefixes, float16 storages, and one
                           tensor a non-contiguous (transposed) view
  malicious.pth            a pickle whose payload calls os.system: the loader must refuse it unrun
Needs numpy and safetensors (to read tiny_srvgg_x4.safetensors)."""
import collections
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np
from safetensors.numpy import load_file

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
torch._utils = utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


class FloatStorage:
    pass


class HalfStorage:
    pass


FloatStorage.__module__ = HalfStorage.__module__ = "torch"
torch.FloatStorage, torch.HalfStorage = FloatStorage, HalfStorage


def _rebuild_tensor_v2(*args):
    raise RuntimeError("only for pickling")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, kind, data):
        self.key, self.kind, self.data = key, kind, data


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (_rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.data.size)
        return None


def save(path, root, storages):
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(root)
    stem = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{stem}/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"{stem}/data/{storage.key}", storage.data.astype("<" + storage.data.dtype.str[1:]).tobytes())
        archive.writestr(f"{stem}/version", "3\n")


def contiguous_strides(shape):
    strides, step = [], 1
    for dimension in reversed(shape):
        strides.insert(0, step)
        step *= dimension
    return strides


weights = load_file("tiny_srvgg_x4.safetensors")
names = sorted(weights, key=lambda n: (int(n.split(".")[1]), n))

state, storages = collections.OrderedDict(), []
for index, name in enumerate(names):
    array = weights[name].astype(np.float32)
    storage = Storage(str(index), FloatStorage, array.ravel())
    storages.append(storage)
    state[name] = Tensor(storage, 0, array.shape, contiguous_strides(array.shape))
save("tiny_srvgg_x4.pth", {"params": state}, storages)

state, storages = collections.OrderedDict(), []
for index, name in enumerate(names):
    array = weights[name].astype(np.float16)
    if array.ndim == 4:
        # Stored as the transpose [C, O, K, K] with a view back to [O, C, K, K] (non-contiguous strides),
        # after one unused leading element (a non-zero storage offset).
        stored = np.concatenate([np.zeros(1, np.float16), array.transpose(1, 0, 2, 3).ravel()])
        o, c, k, _ = array.shape
        tensor_strides = [k * k, o * k * k, k, 1]
        storage = Storage(str(index), HalfStorage, stored)
        state["module." + name] = Tensor(storage, 1, array.shape, tensor_strides)
    else:
        storage = Storage(str(index), HalfStorage, array.ravel())
        state["module." + name] = Tensor(storage, 0, array.shape, contiguous_strides(array.shape))
    storages.append(storage)
save("tiny_srvgg_x4_half.pth", {"params_ema": state, "iter": 1000}, storages)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/upscale-pth-exploit",))


save("malicious.pth", {"params": collections.OrderedDict([("body.0.weight", Exploit())])}, [])
