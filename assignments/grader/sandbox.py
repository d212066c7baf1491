"""The student's process: runs the answer cells, then answers the grader's calls.

Started by grader.trusted as `python -I -S sandbox.py SITE_DIR...` in an empty scratch folder, with
a copy of `lib` that holds only the modules the notebook's setup imports (the reference
implementations are not there, so an answer that imports them fails).  Nothing here is trusted:
the student's code can change anything in this process, so the grader only ever reads plain
numbers, strings and SymPy expressions (as srepr text) from it, and checks them itself.
"""
import os
import re
import sys
import traceback

sys.path[:0] = sys.argv[1:]   # the scratch folder with the stripped lib first, then site-packages

import protocol  # noqa: E402  (copied beside the stripped lib)

# The pipes to the grader on private descriptors; the student's prints go to a log file.
proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
proto_out = os.fdopen(os.dup(1), "wb")
log = os.open("student-output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
os.dup2(log, 1)
os.dup2(log, 2)
sys.stdin, sys.stdout, sys.stderr = open(os.devnull), open(1, "w", closefd=False), open(2, "w", closefd=False)

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

namespace = {"__name__": "__main__"}
handles = []
MAGIC = re.compile(r"^(\s*)[%!].*$", re.M)


def short_error(exc):
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def encode_value(v, depth=0):
    """The student's value as plain data: arrays, numbers, lists, dicts, SymPy as srepr text."""
    if depth > 6:
        return {"__unsupported__": "nested too deeply"}
    if isinstance(v, (sp.Basic, sp.MatrixBase)):
        return {"__sympy__": sp.srepr(v)}
    if isinstance(v, dict):
        return {"__dict__": [[str(k), encode_value(x, depth + 1)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return {"__list__": [encode_value(x, depth + 1) for x in v]}
    if v is None:
        return {"__none__": True}
    try:
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            a = np.asarray(v, dtype=float)
        return np.array(a, dtype=a.dtype.newbyteorder("="), copy=True)
    except Exception:
        return {"__unsupported__": type(v).__name__}


def decode_arg(v):
    if isinstance(v, dict):
        if "__handle__" in v:
            return handles[v["__handle__"]]
        if "__rng__" in v:
            return np.random.default_rng(v["__rng__"])
        if "__tuple__" in v:
            return tuple(decode_arg(x) for x in v["__tuple__"])
        return {k: decode_arg(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode_arg(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.copy()
    return v


def serve(request):
    op = request["op"]
    if op == "exec":
        source = MAGIC.sub(lambda m: m.group(1) + "pass", request["source"])
        exec(compile(source, f"<cell {request['cell']}>", "exec"), namespace)
        return {"ok": True}
    if op == "set":
        namespace.update({k: decode_arg(v) for k, v in request["values"].items()})
        return {"ok": True}
    if op == "get":
        if request["name"] not in namespace:
            return {"missing": True}
        return {"value": encode_value(namespace[request["name"]])}
    if op == "call":
        fn = namespace.get(request["fn"])
        if not callable(fn):
            return {"missing": True}
        result = fn(*decode_arg(request["args"]), **decode_arg(request["kwargs"]))
        keep = request.get("keep")
        if keep is not None:  # keep a cache here; send back a handle to pass to the backward pass
            if not isinstance(result, tuple) or len(result) <= keep:
                return {"value": encode_value(result), "no_cache": True}
            handles.append(result[keep])
            result = result[:keep] + ({"__handle__": len(handles) - 1},) + result[keep + 1:]
            return {"value": {"__list__": [x if isinstance(x, dict) and "__handle__" in x else encode_value(x)
                                           for x in result]}}
        return {"value": encode_value(result)}
    raise ValueError(f"unknown request {op}")


while True:
    try:
        request = protocol.read(proto_in.read)
    except EOFError:
        break
    try:
        reply = serve(request)
    except BaseException as exc:  # noqa: B902  (the student's error is the answer)
        reply = {"error": short_error(exc), "trace": traceback.format_exc()[-2000:]}
    protocol.write(proto_out, reply)
