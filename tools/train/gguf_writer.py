"""A minimal GGUF v3 writer: metadata key/values and F32/F16 tensors, nothing else.

Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 key/value count; the key/values; one
info per tensor (name, u32 n_dims, u64 dims innermost first, u32 type, u64 offset into the data section); padding
to `general.alignment` (32); the tensor data, each tensor starting at a multiple of the alignment.
"""
import struct

import numpy as np

ALIGNMENT = 32
# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
# ggml tensor types this writer emits
GGML_F32, GGML_F16 = 0, 1


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?", U64: "<Q",
           I64: "<q", F64: "<d"}


def _value(vtype: int, value) -> bytes:
    if vtype == STRING:
        return _string(value)
    return struct.pack(_SCALAR[vtype], value)


class GGUFWriter:
    """Collects metadata and tensors, then writes the file in one pass."""

    def __init__(self):
        self.kv: list[tuple[str, int, object, int | None]] = []
        self.tensors: list[tuple[str, np.ndarray, int]] = []

    def add(self, key: str, vtype: int, value):
        self.kv.append((key, vtype, value, None))

    def add_array(self, key: str, elem_type: int, values):
        self.kv.append((key, ARRAY, list(values), elem_type))

    def add_tensor(self, name: str, array: np.ndarray, ggml_type: int = GGML_F32):
        """`array` in numpy (row-major) shape; GGUF records the dims reversed (innermost first)."""
        dtype = np.float16 if ggml_type == GGML_F16 else np.float32
        self.tensors.append((name, np.ascontiguousarray(array, dtype=dtype), ggml_type))

    def write(self, path):
        head = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)))
        for key, vtype, value, elem in self.kv:
            head += _string(key) + struct.pack("<I", vtype)
            if vtype == ARRAY:
                head += struct.pack("<IQ", elem, len(value))
                head += b"".join(_value(elem, v) for v in value)
            else:
                head += _value(vtype, value)
        offset = 0
        for name, arr, gtype in self.tensors:
            head += _string(name) + struct.pack("<I", arr.ndim)
            head += b"".join(struct.pack("<Q", d) for d in reversed(arr.shape))
            head += struct.pack("<IQ", gtype, offset)
            offset += -(-arr.nbytes // ALIGNMENT) * ALIGNMENT
        head += b"\0" * (-len(head) % ALIGNMENT)
        with open(path, "wb") as f:
            f.write(head)
            for _, arr, _ in self.tensors:
                data = arr.tobytes()
                f.write(data + b"\0" * (-len(data) % ALIGNMENT))
