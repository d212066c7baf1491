"""Helpers for the executable derivations: every claimed step is checked, then shown as rendered math.

``Derivation`` records a chain  lhs = e0 = e1 = ... , asserting each equality with SymPy
before it is added; ``show()`` renders the chain.  ``assert_equal`` is the single check
every chapter uses, and ``check_numeric`` compares a lambdified SymPy result with lib.
"""
import numpy as np
import sympy as sp


def is_zero(expr):
    """True when SymPy can prove expr == 0 (tries expand, simplify, and a rewrite in exponentials)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    # cheapest first: expand settles polynomial identities (backprop's chain rule) in a fraction of simplify's time
    attempts = (
        sp.expand,
        lambda e: sp.simplify(sp.expand(e)),
        sp.simplify,
        lambda e: sp.simplify(e.rewrite(sp.exp)),
    )
    for attempt in attempts:
        if attempt(expr) == 0:
            return True
    return False


def assert_equal(lhs, rhs, what=""):
    """Assert lhs == rhs symbolically (matrices elementwise); the message names the step that failed."""
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) != isinstance(rhs, sp.MatrixBase) or (
        isinstance(lhs, sp.MatrixBase) and lhs.shape != rhs.shape
    ):
        raise AssertionError(f"{what}: cannot compare {sp.srepr(lhs)[:60]} with {sp.srepr(rhs)[:60]}")
    if not is_zero(lhs - rhs):
        raise AssertionError(f"{what or 'identity'} does not hold: {sp.sstr(lhs)} != {sp.sstr(rhs)}")
    return True


def latex(expr):
    return expr if isinstance(expr, str) else sp.latex(expr)


class Derivation:
    """A chain of equal expressions, each step checked by SymPy as it is added.

    d = Derivation(r"\\frac{d\\sigma}{dx}", sp.diff(sigma, x))
    d.step(sigma * (1 - sigma), "factor")   # raises AssertionError if the step is wrong
    d.show()
    """

    def __init__(self, lhs, start, note=""):
        self.lhs = lhs
        self.steps = [(sp.sympify(start), note)]

    def step(self, expr, note=""):
        expr = sp.sympify(expr)
        assert_equal(self.steps[-1][0], expr, f"step {len(self.steps)} ({note})" if note else f"step {len(self.steps)}")
        self.steps.append((expr, note))
        return self

    @property
    def result(self):
        return self.steps[-1][0]

    def latex(self):
        rows = []
        for i, (expr, note) in enumerate(self.steps):
            left = latex(self.lhs) if i == 0 else ""
            tag = rf"&& \text{{{note}}}" if note else ""
            rows.append(rf"{left} &= {sp.latex(expr)} {tag}")
        return r"\begin{aligned}" + r"\\ ".join(rows) + r"\end{aligned}"

    def show(self):
        from IPython.display import Math, display

        display(Math(self.latex()))
        return self

    def _repr_latex_(self):
        return "$$" + self.latex() + "$$"


def show(*pairs):
    """Render lhs = rhs lines; pairs are (lhs, rhs) with lhs a LaTeX string or SymPy expression."""
    from IPython.display import Math, display

    body = r"\\ ".join(rf"{latex(a)} &= {latex(b)}" for a, b in pairs)
    display(Math(r"\begin{aligned}" + body + r"\end{aligned}"))


def check_numeric(expr, symbols, fn, samples, rtol=1e-10, atol=1e-12):
    """Assert that expr, lambdified in symbols, equals fn at every row of samples; return the max abs gap.

    samples: array (S, len(symbols)); fn takes the same arguments as the symbols, as arrays.
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    f_sym = sp.lambdify(symbols, expr, modules="numpy")
    cols = [samples[:, i] for i in range(samples.shape[1])]
    want = np.broadcast_to(np.asarray(f_sym(*cols), dtype=float), (samples.shape[0],))
    got = np.broadcast_to(np.asarray(fn(*cols), dtype=float), (samples.shape[0],))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"lib disagrees with {sp.sstr(expr)}")
    return float(np.max(np.abs(got - want)))
