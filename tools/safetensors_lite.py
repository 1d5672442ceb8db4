"""A minimal safetensors reader and writer (struct + json + torch), for machines without the
`safetensors` package. The writer lays files out as safetensors' own serializer does: header JSON
without spaces, "__metadata__" first, tensors sorted by dtype (widest first) then name, the header
padded with spaces to a multiple of 8 bytes. The reader checks the layout rules fuselstm enforces.
"""

import json
import struct

import numpy as np
import torch

_DTYPES = {  # torch dtype -> (safetensors name, numpy dtype of the raw bytes)
    torch.float64: ("F64", np.float64),
    torch.float32: ("F32", np.float32),
    torch.bfloat16: ("BF16", np.int16),
    torch.float16: ("F16", np.float16),
    torch.int64: ("I64", np.int64),
}
_BY_NAME = {name: (dtype, raw) for dtype, (name, raw) in _DTYPES.items()}
_ORDER = ["F64", "I64", "F32", "BF16", "F16"]  # safetensors sorts by dtype, widest first


def _raw_bytes(tensor):
    tensor = tensor.detach().contiguous().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        return tensor.view(torch.int16).numpy().tobytes()
    return tensor.numpy().tobytes()


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} and optional {str: str} metadata as a safetensors file."""
    names = sorted(tensors, key=lambda n: (_ORDER.index(_DTYPES[tensors[n].dtype][0]), n))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in names:
        blob = _raw_bytes(tensors[name])
        header[name] = {"dtype": _DTYPES[tensors[name].dtype][0],
                        "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_file(path):
    """Returns ({name: tensor}, metadata) after checking the layout."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: truncated")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        raise ValueError(f"{path}: bad header length {n}")
    text = data[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError(f"{path}: header does not start with '{{'")
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{path}: duplicate names")
    header = dict(pairs)
    metadata = dict(header.pop("__metadata__", []))
    buffer = data[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        info = dict(info)
        dtype, raw = _BY_NAME[info["dtype"]]
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64)) if info["shape"] else 1
        if end - begin != count * np.dtype(raw).itemsize:
            raise ValueError(f"{path}: {name}: byte length does not match the shape")
        array = np.frombuffer(buffer[begin:end], dtype=raw).reshape(info["shape"]).copy()
        tensor = torch.from_numpy(array)
        tensors[name] = tensor.view(dtype) if dtype is torch.bfloat16 else tensor
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise ValueError(f"{path}: data_offsets overlap or leave a hole at {position}")
        position = end
    if position != len(buffer):
        raise ValueError(f"{path}: data buffer not fully covered")
    return tensors, metadata
