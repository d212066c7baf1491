"""The executable derivations: every claimed step is checked by SymPy, then shown as rendered math.

``Derivation`` records a chain  lhs = e0 = e1 = ... , proving each equality as it is added and
refusing a step that does no work; ``assert_equal`` proves one identity; ``check_numeric``
compares a SymPy formula, evaluated numerically, with the arrays ``lib`` computed;
``check_reference`` compares ``lib`` with the formula evaluated at 50 digits.  Every check adds a
row to the chapter's ledger (``lib.ledger``) and shows a mark that links to it.

The shared SymPy pieces live here too: symbol matrices and images, the sigmoid (whose
derivative SymPy derives), the book's step-function convention 1[z >= 0], Gaussian
expectations, and samples drawn to respect each symbol's assumptions.  Chapter 1 on.
"""
import html
import re

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from lib import ledger


class VacuousCheck(AssertionError):
    """A check that could not have failed: it compares an expression with itself."""


# ----- shared symbols and functions -------------------------------------------------------------


def _symbols(name, rows, cols, sep, assumptions):
    entries = [[sp.Symbol(f"{name}_{{{i + 1}{sep}{j + 1}}}", **assumptions) for j in range(cols)] for i in range(rows)]
    return sp.ImmutableMatrix(entries)


def matrix(name, rows, cols, **assumptions):
    """A rows x cols matrix of symbols name_{ij} (1-based), each with the given assumptions.

    Immutable, so it can key the values of check_numeric and sample."""
    return _symbols(name, rows, cols, "", assumptions)


def vector(name, n, **assumptions):
    """A column of n symbols name_{1} .. name_{n}."""
    return sp.ImmutableMatrix([sp.Symbol(f"{name}_{{{i + 1}}}", **assumptions) for i in range(n)])


def image(name, height, width, **assumptions):
    """A height x width matrix of pixel symbols name_{i,j} (1-based, comma-separated)."""
    return _symbols(name, height, width, ",", assumptions)


class sigmoid(sp.Function):
    """The logistic sigmoid sigma(x) = 1 / (1 + exp(-x)), printed as sigma.

    Its derivative is not typed in: ``fdiff`` differentiates the exponential form and writes
    the result back in terms of sigma by substituting exp(-x) = 1/sigma - 1.
    """

    @classmethod
    def eval(cls, arg):
        if arg == 0:
            return sp.Rational(1, 2)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))

    def fdiff(self, argindex=1):
        t = sp.Dummy("t", real=True)
        d = sp.diff(1 / (1 + sp.exp(-t)), t)
        in_sigma = sp.factor(sp.simplify(d.subs(sp.exp(-t), 1 / sigmoid(t) - 1)))
        return in_sigma.subs(t, self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real


def heaviside(x):
    """The book's step function 1[x >= 0]: SymPy's Heaviside with the value 1 at 0 (printed 1[x >= 0])."""
    return sp.Heaviside(x, 1)


class _BookPrinter(LatexPrinter):
    def _print_sigmoid(self, expr, exp=None):
        s = rf"\sigma\left({self._print(expr.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"

    def _print_Heaviside(self, expr, exp=None):
        arg = expr.args[0]
        at0 = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
        rel = {1: r"\ge", 0: ">"}.get(at0)
        if rel is None:  # SymPy's own convention H(0) = 1/2: say so rather than hide it
            s = rf"H_{{1/2}}\left({self._print(arg)}\right)"
        else:
            s = rf"\mathbb{{1}}\left[{self._print(arg)} {rel} 0\right]"
        return s if exp is None else rf"\left({s}\right)^{{{exp}}}"


def latex(expr):
    """The book's LaTeX for a SymPy object (sigma, 1[.]); a string is returned unchanged."""
    return expr if isinstance(expr, str) else _BookPrinter().doprint(expr)


def expect_normal(expr, var, mean=0, std=1):
    """E[expr] for var ~ N(mean, std^2), by integrating against the Gaussian density."""
    density = sp.exp(-((var - mean) ** 2) / (2 * std**2)) / sp.sqrt(2 * sp.pi * std**2)
    return sp.simplify(sp.integrate(expr * density, (var, -sp.oo, sp.oo)).rewrite(sp.erf))


def _flat_symbols(symbols):
    if isinstance(symbols, (sp.Symbol, sp.MatrixBase)):
        symbols = [symbols]
    return list(symbols)


def sample(symbols, rng, n=64, low=-3.0, high=3.0):
    """Random values for each symbol that respect its assumptions: dict symbol -> array.

    A symbol gets n values (uniform on [low, high] cut to what its assumptions allow: positive,
    nonnegative, negative, integer); a symbol matrix gets an array of shape (n, rows, cols).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"sample expects a numpy.random.Generator, got {type(rng).__name__}")
    if not low < high:
        raise ValueError(f"sample expects low < high, got {low} and {high}")

    def draw(sym, size):
        lo, hi = low, high
        if sym.is_positive or sym.is_nonnegative:
            lo = max(lo, 0.0)
            if hi <= lo:
                raise ValueError(f"sample: {sym} is nonnegative but the range is [{low}, {high}]")
            if sym.is_positive:
                lo = lo + 1e-3 * (hi - lo)
        if sym.is_negative:
            hi = min(hi, -1e-3 * (hi - lo))
        if sym.is_integer:
            return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, size=size).astype(float)
        return rng.uniform(lo, hi, size=size)

    out = {}
    for s in _flat_symbols(symbols):
        if isinstance(s, sp.MatrixBase):
            out[s] = np.stack([draw(e, n) for e in s], axis=-1).reshape((n,) + s.shape)
        else:
            out[s] = draw(s, n)
    return out


def _check_assumptions(sym, values):
    v = np.asarray(values)
    rules = [
        (sym.is_positive, v > 0, "positive"),
        (sym.is_nonnegative, v >= 0, "nonnegative"),
        (sym.is_negative, v < 0, "negative"),
        (sym.is_integer, v == np.round(v), "an integer"),
    ]
    for declared, ok, name in rules:
        if declared and not np.all(ok):
            bad = v[~ok].ravel()[0]
            raise ValueError(f"{sym} is declared {name}, but its values include {bad}: sample what the "
                             "text assumes, or declare only the assumptions the text states")


# ----- symbolic checks ------------------------------------------------------------------------


def is_zero(expr):
    """True when SymPy can prove expr == 0 (doit, expand, simplify, a rewrite in exponentials)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    # cheapest first: expand settles polynomial identities (backprop's chain rule) in a fraction of simplify's time
    attempts = (
        lambda e: e.doit(),
        lambda e: sp.expand(e.doit()),
        lambda e: sp.simplify(sp.expand(e.doit())),
        lambda e: sp.simplify(e.doit()),
        lambda e: sp.simplify(e.doit().rewrite(sp.exp)),
    )
    return any(attempt(expr) == 0 for attempt in attempts)


def _same(a, b):
    """Structurally identical (what SymPy would print the same way), so comparing them proves nothing."""
    if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
        return isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase) and a.shape == b.shape and all(
            x == y for x, y in zip(a, b)
        )
    return a == b


def _prove(lhs, rhs, what, refuse_same=True):
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) != isinstance(rhs, sp.MatrixBase) or (
        isinstance(lhs, sp.MatrixBase) and lhs.shape != rhs.shape
    ):
        shape = lambda e: e.shape if isinstance(e, sp.MatrixBase) else "a scalar"  # noqa: E731
        raise AssertionError(f"{what}: cannot compare {shape(lhs)} with {shape(rhs)}")
    if refuse_same and _same(lhs, rhs):
        raise VacuousCheck(
            f"{what}: both sides are the same expression ({sp.sstr(lhs)[:80]}), so the check cannot fail. "
            "SymPy may have evaluated the starting form already: start from an unevaluated one "
            "(sp.Derivative, sp.Integral, sp.Sum, evaluate=False) so that the step does the work."
        )
    if not is_zero(lhs - rhs):
        raise AssertionError(f"{what or 'identity'} does not hold: {sp.sstr(lhs)} != {sp.sstr(rhs)}")
    return lhs, rhs


def assert_equal(lhs, rhs, what="identity"):
    """Prove lhs == rhs with SymPy (matrices entrywise) and record it; return the ledger entry.

    A computed result (a derivative, an integral) may well come out as exactly the claimed
    expression, so identical sides are allowed here; what is checked is that the claim, written
    independently, matches the computation.  Never pass the same computation on both sides.
    ``.show()`` on the result renders lhs = rhs with the check's mark.
    """
    lhs, rhs = _prove(lhs, rhs, what, refuse_same=False)
    return ledger.record("symbolic", what, "proved by SymPy", show=False, lhs=lhs, rhs=rhs)


def _note_latex(note):
    """A note as LaTeX: $...$ parts are math, everything else is shown literally."""
    parts = note.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"a note must have matching $ signs, got {note!r}")
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)
            continue
        # MathJax shows \text{...} literally, but braces, backslashes and % still need care
        for piece in re.split(r"([{}\\%#])", part):
            if piece in ("{", "}", "%", "#"):
                out.append("\\" + piece)
            elif piece == "\\":
                out.append(r"\backslash ")
            elif piece:
                out.append(rf"\text{{{piece}}}")
    return "".join(out)


class Derivation:
    """A chain of equal expressions, each step proved by SymPy as it is added.

    d = Derivation(r"\\sigma'(x)", sp.Derivative(sigmoid(x), x))
    d.step(sigmoid(x) * (1 - sigmoid(x)), "the derivative SymPy finds")
    d.show()

    A step that is the same expression as the one before it, or a chain whose start SymPy has
    already evaluated to a later step, raises VacuousCheck: such a chain proves nothing.
    Notes are plain text in which $...$ is math.
    """

    def __init__(self, lhs, start, note=""):
        self.lhs = lhs
        self.steps = [(sp.sympify(start), note)]
        self.entry = None
        _note_latex(note)

    def step(self, expr, note=""):
        expr = sp.sympify(expr)
        n = len(self.steps)
        what = f"step {n}" + (f" ({note})" if note else "")
        _note_latex(note)
        for i, (earlier, _) in enumerate(self.steps):
            if _same(earlier, expr):
                where = "the previous expression" if i == n - 1 else f"expression {i} of the chain"
                raise VacuousCheck(
                    f"{what}: the new expression is identical to {where}, so this step checks nothing. "
                    "If SymPy evaluated the start on construction, start from an unevaluated form "
                    "(sp.Derivative, sp.Integral, sp.Sum, evaluate=False)."
                )
        _prove(self.steps[-1][0], expr, what, refuse_same=False)  # the loop above refused repeats
        self.steps.append((expr, note))
        if self.entry is None:
            self.entry = ledger.record("symbolic", "derivation of", "", latex(self.lhs), show=False, shown=True)
        self.entry.measured = f"{len(self.steps) - 1} step(s), each proved by SymPy"
        return self

    @property
    def result(self):
        return self.steps[-1][0]

    def latex(self):
        rows = []
        for i, (expr, note) in enumerate(self.steps):
            left = latex(self.lhs) if i == 0 else ""
            tag = rf"&& {_note_latex(note)}" if note else ""
            rows.append(rf"{left} &= {latex(expr)} {tag}")
        return r"\begin{aligned}" + r"\\ ".join(rows) + r"\end{aligned}"

    def show(self):
        if self.entry is None:
            raise VacuousCheck("a derivation with no step checks nothing: add at least one .step()")
        _display_math(self.latex(), [self.entry])
        return self

    def _repr_latex_(self):
        return "$$" + self.latex() + "$$"


class _Math:
    """Display math with the marks of the checks behind it (HTML), or plain LaTeX elsewhere."""

    def __init__(self, tex, entries):
        self.tex, self.entries = tex, list(entries)

    def _repr_html_(self):
        marks = " ".join(e.mark_html() for e in self.entries)
        cls = "nnb-checked" if self.entries else "nnb-shown"
        body = html.escape(rf"\[{self.tex}\]", quote=False)
        return (
            f'<div class="{cls}"><div class="math notranslate nohighlight">{body}</div>'
            f'<div class="nnb-marks">{marks}</div></div>'
        )

    def _repr_latex_(self):
        return "$$" + self.tex + "$$"


def _display_math(tex, entries):
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(_Math(tex, entries))


def render_checked(entry, lhs=None):
    """Show the identity behind an assert_equal entry as lhs = rhs, with its mark."""
    if "lhs" not in entry.extra:
        raise ValueError(f"check {entry.number} ({entry.kind}) has no identity to render")
    left = latex(entry.extra["lhs"] if lhs is None else lhs)
    entry.extra["shown"] = True
    _display_math(rf"{left} = {latex(entry.extra['rhs'])}", [entry])


def show(*pairs, checks=()):
    """Render lhs = rhs lines; pass the ledger entries of the checks that established them.

    Without checks the lines are an illustration (no mark, nothing recorded).
    """
    body = r"\\ ".join(rf"{latex(a)} &= {latex(b)}" for a, b in pairs)
    for entry in checks:
        entry.extra["shown"] = True
    _display_math(r"\begin{aligned}" + body + r"\end{aligned}", checks)


# ----- numeric checks -------------------------------------------------------------------------


def _numeric_form(expr):
    """expr with the book's own functions replaced by their exponential forms, for lambdify."""
    return expr.replace(sigmoid, lambda a: 1 / (1 + sp.exp(-a)))


def _arguments(values):
    """Flatten {symbol: array, symbol matrix: array} into symbols, arrays and the batch shape."""
    syms, arrays, batches = [], [], []
    for key, arr in values.items():
        arr = np.asarray(arr, dtype=float)
        if isinstance(key, sp.MatrixBase):
            if arr.shape[arr.ndim - 2:] != key.shape:
                raise ValueError(f"check_numeric: the values of a {key.shape} symbol matrix must have shape "
                                 f"B + {key.shape}, got {arr.shape}")
            batches.append(arr.shape[:-2])
            for (i, j), s in np.ndenumerate(np.array(key, dtype=object)):
                syms.append(s)
                arrays.append(arr[..., i, j])
        elif isinstance(key, sp.Symbol):
            batches.append(arr.shape)
            syms.append(key)
            arrays.append(arr)
        else:
            raise ValueError(f"check_numeric: values are keyed by symbols or symbol matrices, got {key!r}")
    for s, a in zip(syms, arrays):
        _check_assumptions(s, a)
    try:
        batch = np.broadcast_shapes(*batches)
    except ValueError:
        raise ValueError(f"check_numeric: the sample shapes {batches} do not broadcast together") from None
    return syms, arrays, batch


def evaluate(expr, values, modules="numpy"):
    """The SymPy formula evaluated at arrays: shape B + expr.shape (see check_numeric)."""
    expr = sp.sympify(expr)
    syms, arrays, batch = _arguments(values)
    missing = expr.free_symbols - set(syms)
    if missing:
        raise ValueError(f"check_numeric: no values for {sorted(map(str, missing))}")
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    fn = sp.lambdify(syms, [_numeric_form(e) for e in entries], modules=modules)
    with np.errstate(all="ignore"):
        outs = fn(*arrays)
    stacked = np.stack([np.broadcast_to(np.asarray(o, dtype=float), batch) for o in outs], axis=-1)
    shape = expr.shape if isinstance(expr, sp.MatrixBase) else ()
    return stacked.reshape(batch + shape)


PRECISE_UP_TO = 20_000


def _precise(expr, values, where, dps=50):
    """The formula at the entries ``where`` (a mask of shape B + expr.shape), in mpmath at dps digits."""
    import mpmath

    syms, arrays, batch = _arguments(values)
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    fn = sp.lambdify(syms, [_numeric_form(e) for e in entries], modules="mpmath")
    full = [np.broadcast_to(a, batch) for a in arrays]
    shape = expr.shape if isinstance(expr, sp.MatrixBase) else ()
    out = []
    with mpmath.workdps(dps):
        for idx in zip(*np.nonzero(where)):
            b, e = idx[: len(batch)], idx[len(batch):]
            k = int(np.ravel_multi_index(e, shape)) if shape else 0
            out.append(float(fn(*[mpmath.mpf(float(a[b])) for a in full])[k]))
    return np.array(out)


def check_numeric(expr, values, got, what="formula against lib", rtol=1e-12, atol=0.0, modules="numpy"):
    """Assert that lib's array ``got`` equals the SymPy formula at the sampled values; record it.

    values: {symbol: array of shape B, symbol matrix (r, c): array of shape B + (r, c)}.
    got: what lib computed, of shape B + expr.shape.  Passes where |got - want| <= rtol |want| + atol
    (relative, so a tail value of 1e-300 must be right to rtol too).  Returns the ledger entry.
    """
    if not isinstance(values, dict):
        raise ValueError(f"check_numeric ({what}) expects values as a dict {{symbol: array}}, got "
                         f"{type(values).__name__} (the first edition's (expr, symbols, fn, samples) is gone)")
    want = evaluate(expr, values, modules)
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        raise ValueError(f"check_numeric ({what}): lib's array has shape {got.shape}, the formula gives {want.shape}")
    # The formula's own float64 evaluation can cancel (1 - sigma(40) is 0, which would hide a lib
    # that returns 0 there too): up to PRECISE_UP_TO values are evaluated at 50 digits; beyond
    # that, the values in dispute are.
    where = np.ones(want.shape, bool) if want.size <= PRECISE_UP_TO else ~(
        np.abs(got - want) <= rtol * np.abs(want) + atol)
    if where.any():
        want = want.copy()
        want[where] = _precise(expr, values, where)
    if not np.all(np.isfinite(want)):
        raise ValueError(f"check_numeric ({what}): the formula is not finite at some samples; "
                         "sample where it is defined")
    bad = ~(np.abs(got - want) <= rtol * np.abs(want) + atol)
    err = np.abs(got - want)
    # the relative error reported is over normal values; tinier ones passed through atol
    normal = np.abs(want) >= np.finfo(float).tiny
    rel = np.where(normal, err / np.where(normal, np.abs(want), 1.0), 0.0)
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, rel, -1)), bad.shape)
        raise AssertionError(f"{what}: lib gives {float(got[i])!r} where the formula gives {float(want[i])!r} "
                             f"(at index {tuple(map(int, i))}; {int(bad.sum())} of {bad.size} values differ beyond "
                             f"rtol={rtol:g}); formula: {sp.sstr(expr)[:80]}")
    worst = float(rel.max()) if rel.size else 0.0
    return ledger.record("lib", what, f"max relative error {worst:.2g} over {want.size} values", show=True)


def reference_error(expr, var, points, got, dps=50):
    """Relative errors of lib's values ``got`` at ``points`` against expr evaluated with mpmath to
    dps correct digits; returns (errors, true values rounded to float64)."""
    import mpmath

    points = np.asarray(points, dtype=float)
    got = np.asarray(got, dtype=float)
    if got.shape != points.shape:
        raise ValueError(f"reference_error: got has shape {got.shape}, points have {points.shape}")
    fn = sp.lambdify(var, _numeric_form(sp.sympify(expr)), modules="mpmath")

    def trusted(p):
        # A formula such as 1 - tanh(x)^2 cancels digits even at 50 of them: double the working
        # precision until two evaluations agree to `dps` digits, so the reference itself is right.
        prec, last = dps, None
        while prec <= 64 * dps:
            with mpmath.workdps(prec):
                value = fn(mpmath.mpf(float(p)))  # a float64 converts to mpf exactly
                # a 0 may be total cancellation, so it is trusted only at the highest precision
                if last is not None and value != 0 and abs(value - last) <= abs(value) * mpmath.mpf(10) ** (-dps):
                    return value
            last, prec = value, 2 * prec
        if last == 0:
            return last
        raise ArithmeticError(f"reference_error: {expr} at {p} did not settle to {dps} digits")

    errors, truth = np.empty(points.shape), np.empty(points.shape)
    for i, p in np.ndenumerate(points):
        want = trusted(p)
        with mpmath.workdps(dps):
            truth[i] = float(want)
            errors[i] = float(abs(mpmath.mpf(float(got[i])) - want) / abs(want)) if want != 0 else abs(got[i])
    return errors, truth


def check_reference(expr, var, points, got, what, rtol=1e-12, dps=50):
    """Assert lib's values have relative error <= rtol against a dps-digit evaluation of expr,
    wherever the true value is a normal float64; record the check and return the errors."""
    errors, truth = reference_error(expr, var, points, got, dps)
    normal = (np.abs(truth) >= np.finfo(float).tiny) & np.isfinite(truth)
    worst = float(errors[normal].max()) if normal.any() else 0.0
    if worst > rtol:
        i = np.argmax(np.where(normal, errors, -1))
        raise AssertionError(f"{what}: relative error {worst:.3g} at x = {np.ravel(points)[i]!r} exceeds {rtol:g}")
    ledger.record("lib", what, f"max relative error {worst:.2g} against {dps}-digit arithmetic over "
                  f"{int(normal.sum())} points", show=True)
    return errors
