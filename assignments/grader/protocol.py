"""The messages between the grader and the student's process: JSON plus raw .npy arrays, no pickle.

A message is a tree of JSON values in which an array is {"__array__": i}, the i-th .npy blob that
follows the JSON.  Decoding reads the arrays with allow_pickle=False, so whatever the student's
process sends, the grader gets plain numbers (no objects, no subclasses with their own __eq__).
"""
import io
import json
import struct

import numpy as np

LIMIT = 256 * 2**20  # bytes in one message; more than any answer of these assignments needs


def encode(tree):
    arrays = []

    def walk(v):
        if isinstance(v, np.ndarray):
            arrays.append(v)
            return {"__array__": len(arrays) - 1}
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    head = json.dumps(walk(tree)).encode()
    blobs = []
    for a in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array(a, order="C", copy=True), allow_pickle=False)
        blobs.append(buf.getvalue())
    lengths = [len(head)] + [len(b) for b in blobs]
    return struct.pack(f"<I{len(lengths)}Q", len(lengths), *lengths) + head + b"".join(blobs)


def decode(payload):
    (count,) = struct.unpack_from("<I", payload)
    lengths = struct.unpack_from(f"<{count}Q", payload, 4)
    pos = 4 + 8 * count
    chunks = []
    for n in lengths:
        chunks.append(payload[pos:pos + n])
        pos += n
    arrays = [np.lib.format.read_array(io.BytesIO(b), allow_pickle=False) for b in chunks[1:]]

    def walk(v):
        if isinstance(v, dict):
            if set(v) == {"__array__"}:
                return arrays[v["__array__"]]
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(json.loads(chunks[0]))


def write(stream, tree):
    payload = encode(tree)
    stream.write(struct.pack("<Q", len(payload)) + payload)
    stream.flush()


def read_exactly(read, n):
    data = b""
    while len(data) < n:
        chunk = read(n - len(data))
        if not chunk:
            raise EOFError("the other process closed the pipe")
        data += chunk
    return data


def read(read_bytes):
    (n,) = struct.unpack("<Q", read_exactly(read_bytes, 8))
    if n > LIMIT:
        raise ValueError(f"message of {n} bytes is larger than the limit")
    return decode(read_exactly(read_bytes, n))
