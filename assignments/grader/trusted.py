"""Grade one submission in processes the student's kernel never touched.

    python -m grader.trusted ASSIGNMENT SUBMISSION.ipynb OUT.json [--submitted ORIGINAL.ipynb]

(run from assignments/; grader.autograde calls it for every notebook nbgrader autogrades).
This process imports the grader, numpy, sympy and the book's `lib` itself, before any student code
runs anywhere.  The student's answer cells run in a second, fresh process (grader/sandbox.py) that
cannot import lib's reference implementations; the checks in grader/checks_ASSIGNMENT.py draw new
inputs here, call the student's functions there, and judge the plain numbers that come back.
The notebook's globals, the kernel's hooks, its numpy and its builtins play no part.
"""
import argparse
import ast
import importlib
import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import nbformat
import numpy as np
import sympy as sp

import lib

from . import protocol

HERE = Path(__file__).resolve().parent
LIB = Path(lib.__file__).resolve().parent   # the book's lib, as this environment imports it
CELL_SECONDS = 30


class Fail(Exception):
    """A failed check; the message is written for the student and names no reference value."""


class Timeout(Exception):
    pass


class Unsupported:
    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


class Handle:
    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return "<a cache>"


def describe(v):
    """A short description of a value for a message: its type and shape, never its numbers."""
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    if isinstance(v, list):
        return f"{len(v)} values ({', '.join(describe(x) for x in v[:4])}{', ...' if len(v) > 4 else ''})"
    if isinstance(v, dict):
        return f"a dict with keys {sorted(v)[:6]}"
    if isinstance(v, Handle):
        return "a cache"
    if v is None:
        return "None"
    return type(v).__name__ if not isinstance(v, Unsupported) else v.what


# ------------------------------------------------------------------------------------------
# Reading the student's values (plain data only)

SYMPY_CLASSES = {name: obj for name, obj in vars(sp).items()
                 if isinstance(obj, type) and issubclass(obj, (sp.Basic, sp.MatrixBase))}


def parse_sympy(text):
    """Rebuild a SymPy object from its srepr text without eval: only SymPy constructors and literals."""
    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SYMPY_CLASSES:
            return SYMPY_CLASSES[node.func.id](*[ev(a) for a in node.args],
                                               **{k.arg: ev(k.value) for k in node.keywords})
        raise Fail("the answer is not a plain SymPy expression")
    if len(text) > 200_000:
        raise Fail("the SymPy answer is far too large")
    return ev(ast.parse(text, mode="eval").body)


def unwrap(v):
    if isinstance(v, np.ndarray):
        if type(v) is not np.ndarray or v.dtype.kind not in "biuf":
            return Unsupported("not a numeric array")
        return v
    if isinstance(v, dict):
        if "__list__" in v and isinstance(v["__list__"], list):
            return [unwrap(x) for x in v["__list__"]]
        if "__dict__" in v and isinstance(v["__dict__"], list):
            return {str(k): unwrap(x) for k, x in v["__dict__"]}
        if "__handle__" in v and isinstance(v["__handle__"], int):
            return Handle(v["__handle__"])
        if "__sympy__" in v and isinstance(v["__sympy__"], str):
            return parse_sympy(v["__sympy__"])
        if "__none__" in v:
            return None
        return Unsupported(str(v.get("__unsupported__", "an object the grader cannot read"))[:80])
    return Unsupported("a value in an unknown form")


def wrap_arg(v):
    if isinstance(v, Handle):
        return {"__handle__": v.i}
    if isinstance(v, np.random.Generator):
        raise TypeError("pass rng(seed) instead of a Generator")
    if isinstance(v, tuple):
        return {"__tuple__": [wrap_arg(x) for x in v]}
    if isinstance(v, list):
        return [wrap_arg(x) for x in v]
    if isinstance(v, dict):
        return {k: wrap_arg(x) for k, x in v.items()}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def rng(seed):
    """An argument that becomes numpy.random.default_rng(seed) in the student's process."""
    return {"__rng__": int(seed)}


# ------------------------------------------------------------------------------------------
# The student's process


class Student:
    """The answer cells of one submission, run in a fresh interpreter; calls go through pipes."""

    def __init__(self, allowed_lib, scratch):
        self.allowed_lib, self.scratch = allowed_lib, Path(scratch)
        self.proc = None
        self.program = []           # [(cell id, source)] run at every (re)start
        self.skip = set()           # cells that timed out: left out when the process restarts
        self.cell_errors = {}

    def _start(self):
        folder = self.scratch / f"run{time.monotonic_ns()}"
        (folder / "lib").mkdir(parents=True)
        shutil.copy(LIB / "__init__.py", folder / "lib")
        for name in self.allowed_lib:
            shutil.copy(LIB / f"{name}.py", folder / "lib")
        shutil.copy(HERE / "protocol.py", folder)
        shutil.copy(HERE / "sandbox.py", folder)
        site = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), "MPLBACKEND": "Agg",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "sandbox.py", str(folder), *site],
                                     cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        for gid, source in self.program:
            if isinstance(source, dict):
                self.set(**source)
            elif gid not in self.skip:
                self._run_cell(gid, source)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _read(self, n, deadline):
        out = b""
        fd = self.proc.stdout.fileno()
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Timeout()
            chunk = os.read(fd, n - len(out))
            if not chunk:
                raise EOFError("the student's process ended")
            out += chunk
        return out

    def request(self, req, seconds=CELL_SECONDS):
        if self.proc is None:
            self._start()
        deadline = time.monotonic() + seconds
        try:
            protocol.write(self.proc.stdin, req)
            reply = protocol.read(lambda n: self._read(n, deadline))
        except Timeout:
            self.stop()
            raise
        except (EOFError, BrokenPipeError, ValueError, OSError) as exc:
            self.stop()
            raise Fail(f"your code ended the Python process or garbled its answer ({type(exc).__name__})")
        if not isinstance(reply, dict):
            self.stop()
            raise Fail("your code garbled the answer to the grader")
        return reply

    def _run_cell(self, gid, source):
        try:
            reply = self.request({"op": "exec", "cell": gid, "source": source})
        except (Timeout, Fail) as exc:   # a runaway cell, or one that ends the process: left out from now on
            self.skip.add(gid)
            self.cell_errors[gid] = str(exc) or f"the cell did not finish within {CELL_SECONDS} s"
            self._start()
            return
        if "error" in reply:
            self.cell_errors[gid] = str(reply["error"])[:300]

    def run(self, gid, source):
        """Run one cell (it is also replayed if the process has to be restarted)."""
        self.program.append((gid, source))
        if self.proc is None:
            self._start()
        else:
            self._run_cell(gid, source)

    def inject(self, gid, values):
        """Set variables in place of a locked cell (the experiment's data, drawn at grading time)."""
        self.program.append((gid, values))
        if self.proc is None:
            self._start()
        else:
            self.set(**values)

    def set(self, **values):
        self.request({"op": "set", "values": wrap_arg(values)})

    def _missing(self, name, defined_in):
        err = self.cell_errors.get(defined_in)
        why = f": its cell raised {err}" if err else ""
        return Fail(f"{name} is not defined{why}")

    def get(self, name, defined_in=None):
        reply = self._ask({"op": "get", "name": name}, name)
        if reply.get("missing"):
            raise self._missing(name, defined_in)
        return unwrap(reply.get("value"))

    def call(self, fn, *args, keep=None, defined_in=None, **kwargs):
        """fn(*args, **kwargs) in the student's process; with keep=i the i-th returned item (a cache)
        stays there and comes back as a handle to pass to a later call."""
        reply = self._ask({"op": "call", "fn": fn, "args": wrap_arg(list(args)),
                           "kwargs": wrap_arg(kwargs), "keep": keep}, fn)
        if reply.get("missing"):
            raise self._missing(fn, defined_in)
        if "error" in reply:
            raise Fail(f"{fn} raised {str(reply['error'])[:300]}")
        if reply.get("no_cache"):
            raise Fail(f"{fn} should return a tuple whose item {keep} is the cache")
        return unwrap(reply.get("value"))

    def _ask(self, req, what):
        try:
            return self.request(req)
        except Timeout:
            raise Fail(f"{what} did not finish within {CELL_SECONDS} s") from None


# ------------------------------------------------------------------------------------------
# Checking values (the messages name the quantity and say in words what was expected)


def array(v, name, shape=None):
    if isinstance(v, Unsupported) or not isinstance(v, np.ndarray):
        raise Fail(f"{name} should be a NumPy array of numbers, got {describe(v)}"[:200])
    if shape is not None and v.shape != tuple(shape):
        raise Fail(f"{name} should have shape {tuple(shape)}, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise Fail(f"{name} contains NaN or infinity")
    return v.astype(float)


def number(v, name, kind="a single number (a float or a 0-d array)"):
    if isinstance(v, np.ndarray) and v.shape != ():
        raise Fail(f"{name} should be {kind}, not an array of shape {v.shape}")
    return float(array(v, name))


def items(v, name, n):
    if not isinstance(v, list) or len(v) != n:
        raise Fail(f"{name} should return {n} values (a tuple), got {describe(v)}"[:200])
    return v


def rel_error(a, b):
    scale = np.max(np.abs(a) + np.abs(b), initial=0.0)
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


def rel_gap(a, b):
    """Largest difference of a from the reference b, relative to b's largest entry (a replayed
    training against the student's own reported result)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def sym_matrix(v, name, shape):
    if not isinstance(v, sp.MatrixBase):
        raise Fail(f"{name} should be a SymPy Matrix")
    if v.shape != shape:
        raise Fail(f"{name} should be a {shape[0]}x{shape[1]} Matrix, got shape {v.shape}")
    return v


def by_name(e, symbols):
    """The student's symbols (rebuilt from text) replaced by ours of the same name, so that our
    assumptions apply."""
    names = {str(v): v for v in symbols}
    return e.subs({v: names[str(v)] for v in e.free_symbols if str(v) in names})


def close(got, want, name, what, tol=1e-10):
    """got (already validated) against the correct value; the message gives only the relative error."""
    got = np.asarray(got, dtype=float)
    if got.shape != np.shape(want):
        raise Fail(f"{name} should have shape {np.shape(want)}, got {got.shape}")
    err = rel_error(got, np.asarray(want, dtype=float))
    if not err <= tol:
        raise Fail(f"{name} is not {what} (relative error {err:.1e}, allowed {tol:.0e})")


def finite_differences(student, forward, args, wrt, dout, h=1e-6, keep=None):
    """Central differences of L = sum(forward(*args)[0] * dout) for args[i], i in wrt, through the
    student's own forward pass; returns {i: gradient}."""
    grads = {}
    for i in wrt:
        base = np.array(args[i], dtype=float)
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for step in (h, -h):
                trial = list(args)
                x = base.copy()
                x[idx] += step
                trial[i] = x if base.shape else float(x)
                out = student.call(forward, *trial)
                out = out[0] if isinstance(out, list) else out
                vals.append(float(np.sum(array(out, f"the output of {forward}") * dout)))
            g[idx] = (vals[0] - vals[1]) / (2 * h)
        grads[i] = g
    return grads


# ------------------------------------------------------------------------------------------
# Reading the code without running it: what the grading report flags for the teacher

ALLOWED_IMPORTS = {"numpy", "sympy", "math", "itertools", "functools", "collections", "typing",
                   "dataclasses", "time", "warnings", "operator", "fractions", "sys"}
SUSPECT_NAMES = {
    "get_ipython": "uses get_ipython (IPython hooks)", "__import__": "uses __import__",
    "exec": "uses exec", "eval": "uses eval", "compile": "uses compile", "globals": "uses globals()",
    "setattr": "uses setattr", "delattr": "uses delattr", "open": "opens files",
    "__builtins__": "touches __builtins__", "builtins": "touches builtins", "settrace": "uses settrace",
    "setprofile": "uses setprofile", "excepthook": "touches sys.excepthook", "displayhook": "touches sys.displayhook",
    "modules": "touches sys.modules", "meta_path": "touches sys.meta_path", "__class__": "uses __class__",
    "__subclasses__": "uses __subclasses__", "__globals__": "uses __globals__", "__code__": "uses __code__",
}
MODULE_ALIASES = {"np", "numpy", "sp", "sympy", "math", "data", "lib"}


def scan(answers, protected, results=(), targets=None):
    """Flags for the answer cells {cell id: source}; protected: names the locked cells define;
    results: the experiment's graded variables; targets: {result: names it must not be copied from}."""
    flags = []
    targets = targets or {}

    def add(gid, text):
        if (gid, text) not in flags:
            flags.append((gid, text))

    for gid, source in answers.items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    top = name.split(".")[0]
                    if top == "lib":
                        add(gid, f"imports {name} (lib may not be used in graded answers)")
                    elif top not in ALLOWED_IMPORTS:
                        add(gid, f"imports {name}")
            elif isinstance(node, ast.Name) and node.id in SUSPECT_NAMES:
                add(gid, SUSPECT_NAMES[node.id])
            elif isinstance(node, ast.Attribute) and node.attr in SUSPECT_NAMES:
                add(gid, SUSPECT_NAMES[node.attr])
            elif isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                if bases & {"float", "int", "np.ndarray", "numpy.ndarray", "np.float64", "complex"}:
                    add(gid, f"defines class {node.name}, a subclass of {sorted(bases)[0]}")
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name in {"__eq__", "__ne__", "__lt__", "__le__",
                                                                         "__gt__", "__ge__", "__bool__", "__abs__"}:
                        add(gid, f"defines {item.name} in class {node.name}")
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                for t in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                    base = t
                    while isinstance(base, (ast.Attribute, ast.Subscript)):
                        base = base.value
                    if isinstance(t, ast.Attribute) and isinstance(base, ast.Name) and base.id in MODULE_ALIASES:
                        add(gid, f"rebinds {ast.unparse(t)}")
        for node in tree.body:  # top-level rebinding of what the locked cells define
            names = []
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [(a.asname or a.name).split(".")[0] for a in node.names]
            for name in names:
                if name in protected:
                    add(gid, f"redefines {name}, which the notebook's locked cells define")
            if isinstance(node, ast.Assign):
                assigned = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
                numbers = [n for n in ast.walk(node.value) if isinstance(n, ast.Constant)
                           and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)]
                for name in assigned & set(results):
                    if numbers and not used - MODULE_ALIASES:
                        add(gid, f"sets {name} to a number typed in")
                    elif used & set(targets.get(name, ())):
                        add(gid, f"sets {name} from {', '.join(sorted(used & set(targets[name])))}")
    return [f"{gid}: {text}" for gid, text in flags]


def defined_names(sources):
    names = set()
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def normalise(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def locked_cell_edits(source_nb, submitted_nb):
    """Locked cells (instructions, setup, data, tests) the student deleted or changed.  Compares the
    cells' text, not nbgrader's checksums (which also change on harmless metadata, nbgrader issue 1961)."""
    sub = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in submitted_nb.cells}
    edits = []
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("locked") or meta.get("solution"):
            continue
        gid = meta["grade_id"]
        if gid not in sub:
            edits.append(f"{gid}: deleted (nbgrader put it back)" if meta.get("grade") else f"{gid}: deleted")
        elif normalise(sub[gid].source) != normalise(cell.source):
            edits.append(f"{gid}: edited (nbgrader graded the original)")
    return edits


# ------------------------------------------------------------------------------------------


class Context:
    def __init__(self, student, seed, data):
        self.student, self.seed, self.data = student, seed, data
        self.rng = np.random.default_rng(seed)
        self.flags = []

    def flag(self, text):
        self.flags.append(text)

    def seed_for(self, *words):
        """A fresh seed for one check, derived from the grading seed."""
        return int(np.random.default_rng([self.seed, *[zlib.crc32(w.encode()) for w in words]]).integers(2**31))


def grade(assignment, submission, submitted=None):
    checks = importlib.import_module(f"grader.checks_{assignment}")
    source = nbformat.read(Path("source") / assignment / f"{assignment}.ipynb", as_version=4)
    nb = nbformat.read(submission, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    seed = secrets.randbits(63)
    result = {"seed": seed, "parts": {}, "flags": [], "edits": [], "grading_errors": []}
    locked = [c.source for c in source.cells if c.cell_type == "code" and
              c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("grade")]
    result["flags"] = scan(answers, defined_names(locked), getattr(checks, "RESULTS", ()),
                           getattr(checks, "TARGETS", None))
    if submitted is not None and Path(submitted).exists():
        result["edits"] = locked_cell_edits(source, nbformat.read(submitted, as_version=4))

    with tempfile.TemporaryDirectory(prefix="grader-") as scratch:
        student = Student(checks.ALLOWED_LIB, scratch)
        ctx = Context(student, seed, {})
        try:
            for cell in source.cells:
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type != "code" or not meta or (meta.get("grade") and not meta.get("solution")):
                    continue
                gid = meta["grade_id"]
                if gid in checks.FRESH_DATA:     # the experiment's data, drawn now, not from the notebook
                    ctx.data[gid] = checks.FRESH_DATA[gid](np.random.default_rng(ctx.seed_for(gid)))
                    student.inject(gid, ctx.data[gid])
                elif meta.get("solution"):
                    student.run(gid, answers.get(gid, ""))
                else:
                    student.run(gid, cell.source)
            for cell in source.cells:
                meta = cell.metadata.get("nbgrader", {})
                if not (meta.get("grade") and not meta.get("solution")):
                    continue
                gid = meta["grade_id"]
                try:
                    checks.CHECKS[gid](ctx)
                    result["parts"][gid] = {"passed": True, "message": ""}
                except Fail as exc:
                    result["parts"][gid] = {"passed": False, "message": str(exc)}
                except Exception as exc:  # a fault of the grader, not of the student: the teacher must look
                    result["parts"][gid] = {"passed": False, "message": "the grader could not check this part"}
                    result["grading_errors"].append(f"{gid}: {type(exc).__name__}: {exc}")
        finally:
            student.stop()
    result["answer_errors"] = student.cell_errors
    result["flags"] += ctx.flags
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("submission")
    parser.add_argument("out")
    parser.add_argument("--submitted", help="the notebook as the student handed it in")
    args = parser.parse_args(argv)
    start = time.monotonic()
    result = grade(args.assignment, args.submission, args.submitted)
    result["seconds"] = round(time.monotonic() - start, 2)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    from grader.trusted import main as run   # the checks import grader.trusted, not __main__: one Fail class
    run()
