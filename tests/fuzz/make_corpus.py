#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus: small valid files made by NumPy and by an
independent safetensors writer (this script, from the format's description),
so that the fuzzers start from what real tools produce; plus a few hostile
files whose flaw needs several coordinated bytes (overlapping tensors, a
shape whose size overflows, a model tensor of the wrong dtype), which random
mutation of valid files seldom reaches.

    /usr/bin/python3 tests/fuzz/make_corpus.py

The files are committed; `make fuzz` needs only them, not this script."""
import io
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ST_DIR = os.path.join(HERE, "corpus", "safetensors")
NPY_DIR = os.path.join(HERE, "corpus", "npy")

# The tensors of generated/seed10 (LSTM 5, LSTM 7, Dense 1 on (2, 10) inputs).
SEED10 = [
    ("lstm/kernel", (10, 20)),
    ("lstm/recurrent_kernel", (5, 20)),
    ("lstm/bias", (20,)),
    ("lstm_1/kernel", (5, 28)),
    ("lstm_1/recurrent_kernel", (7, 28)),
    ("lstm_1/bias", (28,)),
    ("dense/kernel", (7, 1)),
    ("dense/bias", (1,)),
]
ST_DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "F16": "<f2", "U8": "|u1"}


def safetensors(tensors, metadata=None, align=8):
    """tensors: (name, dtype, ndarray); the data packed in the order given."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, array in tensors:
        raw = np.ascontiguousarray(array, dtype=ST_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % align)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def raw_safetensors(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def npy(array, version, fortran=False):
    buf = io.BytesIO()
    if fortran:
        array = np.asfortranarray(array)
    np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def main():
    rng = np.random.default_rng(5)
    weights = [(n, rng.uniform(-1, 1, s)) for n, s in SEED10]
    write(ST_DIR, "seed10_f32.safetensors", safetensors([(n, "F32", a) for n, a in weights]))
    write(ST_DIR, "seed10_f64.safetensors",
          safetensors([(n, "F64", a) for n, a in reversed(weights)], {"format": "pt"}))
    mixed = [(n, "F32" if k % 2 else "F64", a) for k, (n, a) in enumerate(weights)]
    mixed += [("optimizer/iterations", "F64", np.array([3.0])),
              ("step", "I64", np.array([7])), ("half", "F16", np.zeros((2, 2))),
              ("empty", "U8", np.zeros((0, 4)))]
    write(ST_DIR, "seed10_mixed_extras.safetensors", safetensors(mixed, {"a": "b"}, align=1))
    write(ST_DIR, "small.safetensors",
          safetensors([("a", "F32", np.arange(6.0).reshape(2, 3)), ("b", "F64", np.ones(1))]))
    write(ST_DIR, "empty.safetensors", safetensors([]))

    # hostile: the flaw needs several consistent fields
    f32 = [(n, "F32", a) for n, a in weights]
    write(ST_DIR, "hostile_wrong_dtype.safetensors",
          safetensors(f32[:2] + [("lstm/bias", "F16", weights[2][1])] + f32[3:]))
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
              "c": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    write(ST_DIR, "hostile_overlap.safetensors", raw_safetensors(header, bytes(12)))
    header = {"a": {"dtype": "F64", "shape": [2**32, 2**32, 2**32], "data_offsets": [0, 8]}}
    write(ST_DIR, "hostile_size_overflow.safetensors", raw_safetensors(header, bytes(8)))

    write(NPY_DIR, "v1_f8_2x3.npy", npy(np.arange(6.0).reshape(2, 3), (1, 0)))
    write(NPY_DIR, "v2_f4_4.npy", npy(np.linspace(-1, 1, 4, dtype="<f4"), (2, 0)))
    write(NPY_DIR, "v3_i8_2x2x1.npy", npy(np.arange(4, dtype="<i8").reshape(2, 2, 1), (3, 0)))
    write(NPY_DIR, "v1_be_f8_3.npy", npy(np.array([1.5, -2.0, 3.25], dtype=">f8"), (1, 0)))
    write(NPY_DIR, "v1_be_i4_2.npy", npy(np.array([-7, 9], dtype=">i4"), (1, 0)))
    # integer tokens (an Embedding's input, issue 13): int32 (n, T), and int64
    # extremes, which the driver refuses as tokens after the loader reads them
    write(NPY_DIR, "v1_i4_tokens_3x4.npy", npy(np.array([[1, 5, 0, 2], [3, 3, 4, 0], [9, 0, 1, 1]], dtype="<i4"),
                                                (1, 0)))
    write(NPY_DIR, "v1_i8_tokens_extremes_2x2.npy",
          npy(np.array([[2**63 - 1, -2**63], [2**31, -1]], dtype="<i8"), (1, 0)))
    write(NPY_DIR, "v1_u1_5.npy", npy(np.arange(5, dtype="|u1"), (1, 0)))
    write(NPY_DIR, "v1_b1_3.npy", npy(np.array([True, False, True]), (1, 0)))
    write(NPY_DIR, "v1_i2_scalar.npy", npy(np.array(-3, dtype="<i2"), (1, 0)))
    write(NPY_DIR, "v1_f8_0x3.npy", npy(np.zeros((0, 3)), (1, 0)))
    write(NPY_DIR, "v1_u8_1x1x1x1x1x1x1x1.npy", npy(np.ones((1,) * 8, dtype="<u8"), (1, 0)))
    write(NPY_DIR, "v1_fortran_2x2.npy", npy(np.arange(4.0).reshape(2, 2), (1, 0), fortran=True))
    # Python 2's NumPy wrote long integers in the shape: (2L, 3L).
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    write(NPY_DIR, "v1_py2_long_shape.npy",
          b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
          + np.array([1, 2], dtype="<f4").tobytes())
    # hostile: a shape whose element count overflows 64 bits
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    write(NPY_DIR, "hostile_size_overflow.npy",
          b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(8))


if __name__ == "__main__":
    main()
