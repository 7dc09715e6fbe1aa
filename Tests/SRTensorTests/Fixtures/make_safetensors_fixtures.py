"""Writes safetensors fixtures with Python's `safetensors` package (pip install safetensors numpy):
  python_f32.safetensors  F32 tensors + __metadata__, written by safetensors.numpy.save_file; the Swift
                          test loads it and also checks that our encoder produces these exact bytes.
  python_f16.safetensors  F16 tensors written by safetensors.numpy.save_file.
  bf16.safetensors        a BF16 tensor (numpy has no bfloat16, so this header is written by hand).
  values.json             the values every file must decode to."""
import json
import struct
import numpy as np
from safetensors.numpy import save_file, load_file

rng = np.random.default_rng(0)
f32 = {
    "conv_first.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
    "conv_first.bias": rng.standard_normal((4,)).astype(np.float32),
    "body.0.conv1.weight": rng.standard_normal((4, 4, 3, 3)).astype(np.float32),
    "scalar_like": np.array([1.5], dtype=np.float32),
}
save_file(f32, "python_f32.safetensors", metadata={"arch": "MSRResNet", "note": "quote \" and backslash \\"})
f16 = {"half": rng.standard_normal((2, 5)).astype(np.float16)}
save_file(f16, "python_f16.safetensors")

bf16_values = np.array([1.0, -2.5, 3.140625, 0.0078125], dtype=np.float32)
bf16_bytes = (bf16_values.view(np.uint32) >> 16).astype("<u2").tobytes()
header = json.dumps({"b": {"dtype": "BF16", "shape": [4], "data_offsets": [0, len(bf16_bytes)]}}, separators=(",", ":")).encode()
header += b" " * (-len(header) % 8)
open("bf16.safetensors", "wb").write(struct.pack("<Q", len(header)) + header + bf16_bytes)

assert all(np.array_equal(load_file("python_f32.safetensors")[k], v) for k, v in f32.items())
values = {k: v.astype(np.float64).ravel().tolist() for k, v in f32.items()}
values.update({"half": f16["half"].astype(np.float64).ravel().tolist(), "b": bf16_values.tolist()})
json.dump(values, open("values.json", "w"))
