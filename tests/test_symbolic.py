"""lib.symbolic (second edition) and lib.ledger: every check must be able to fail, and does."""
import numpy as np
import pytest
import sympy as sp

from lib import activations as A
from lib import ledger
from lib import losses
from lib.symbolic import (
    Derivation,
    VacuousCheck,
    assert_equal,
    check_numeric,
    check_reference,
    expect_normal,
    heaviside,
    image,
    latex,
    matrix,
    reference_error,
    sample,
    sigmoid,
    vector,
)

x = sp.Symbol("x", real=True)


@pytest.fixture(autouse=True)
def fresh_ledger():
    ledger.start("test")


def test_sigmoid_derivative_is_derived_not_typed():
    d = sp.diff(sigmoid(x), x)
    assert_equal(d, sigmoid(x) * (1 - sigmoid(x)), "sigma' = sigma (1 - sigma)")
    assert_equal(d.rewrite(sp.exp), sp.diff(1 / (1 + sp.exp(-x)), x), "same as the exponential form's")
    w, b = sp.symbols("w b", real=True)
    assert_equal(sp.diff(sigmoid(w * x + b), w), x * sigmoid(w * x + b) * (1 - sigmoid(w * x + b)), "chain rule")
    with pytest.raises(AssertionError):
        assert_equal(d, sigmoid(x) * (1 + sigmoid(x)), "a wrong derivative")
    assert sigmoid(0) == sp.Rational(1, 2)


def test_printing_has_no_global_side_effect():
    assert latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert latex(heaviside(x)) == r"\mathbb{1}\left[x \ge 0\right]"
    assert heaviside(0) == 1 and heaviside(sp.Integer(-1)) == 0
    assert "mathbb" not in sp.latex(sp.Heaviside(x, 1))  # SymPy's own printer is untouched
    assert "H_{1/2}" in latex(sp.Heaviside(x))  # SymPy's 1/2 convention is not hidden


def test_symbol_matrices_are_hashable_and_named():
    w = matrix("w", 2, 3, real=True)
    assert w.shape == (2, 3) and str(w[1, 2]) == "w_{23}" and w[0, 0].is_real
    assert vector("x", 3).shape == (3, 1)
    assert str(image("x", 2, 2)[1, 0]) == "x_{2,1}"
    assert {w: 1}[w] == 1


def test_derivation_proves_each_step_and_rejects_a_wrong_one():
    s = sigmoid(x).rewrite(sp.exp)
    d = Derivation(r"\sigma'(x)", sp.Derivative(s, x)).step(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, "quotient rule")
    d.step(sigmoid(x) * (1 - sigmoid(x)), r"with $e^{-x} = 1/\sigma - 1$")
    assert "aligned" in d.latex() and d.entry.kind == "symbolic"
    with pytest.raises(AssertionError, match="step 3"):
        d.step(sigmoid(x) * (1 + sigmoid(x)), "wrong")


def test_vacuous_checks_are_refused():
    with pytest.raises(VacuousCheck, match="identical"):  # SymPy evaluated the start on construction
        Derivation("f'", sp.diff(x**2, x)).step(2 * x)
    with pytest.raises(VacuousCheck):
        Derivation("f", x**2).step(x**2)
    with pytest.raises(VacuousCheck, match="expression 0"):  # a loop back to an earlier expression
        Derivation("f", (x + 1) ** 2).step(x**2 + 2 * x + 1).step((x + 1) ** 2)
    with pytest.raises(VacuousCheck, match="no step"):
        Derivation("f", x).show()
    # the unevaluated start makes the same derivation a real check
    Derivation("f'", sp.Derivative(x**2, x)).step(2 * x)


def test_notes_render_literally_outside_dollars():
    d = Derivation("L", sp.Derivative(x**3, x)).step(3 * x**2, r"chain rule: $J^\top \nabla_p L$ {50% \sigma}")
    tex = d.latex()
    assert r"J^\top \nabla_p L" in tex  # math inside $...$
    assert r"\text{ }\{\text{50}\%\text{ }\backslash \text{sigma}\}" in tex  # literal outside
    with pytest.raises(ValueError, match=r"\$"):
        Derivation("L", x).step(x + 0 * x + 1 - 1 + x - x, "unbalanced $x")


def test_check_numeric_arrays_and_matrices(rng):
    w, xs = matrix("w", 2, 3, real=True), matrix("x", 1, 2, real=True)
    vals = {w: rng.normal(size=(7, 2, 3)), xs: rng.normal(size=(7, 1, 2))}
    entry = check_numeric(xs * w, vals, vals[xs] @ vals[w], "x W")
    assert entry.kind == "lib" and "relative error" in entry.measured
    with pytest.raises(AssertionError, match="x W"):
        check_numeric(xs * w, vals, vals[xs] @ vals[w] * (1 + 1e-9), "x W")
    with pytest.raises(ValueError, match="shape"):
        check_numeric(xs * w, vals, (vals[xs] @ vals[w])[:, 0], "x W")
    with pytest.raises(ValueError, match="no values"):
        check_numeric(xs * w + sp.Matrix([[sp.Symbol("b")] * 3]), vals, vals[xs] @ vals[w], "x W + b")


def test_check_numeric_is_relative_in_the_tails():
    pts = np.array([-40.0, 0.0, 40.0])
    exact = np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2
    check_numeric(sp.diff(sigmoid(x), x), {x: pts}, A.sigmoid_grad(pts), "sigma' in the tails")
    # the first edition's product form returns 0 at x = 40: an absolute tolerance hid that
    with pytest.raises(AssertionError):
        check_numeric(sp.diff(sigmoid(x), x), {x: pts}, np.array([exact, 0.25, 0.0]), "sigma' = 0 at 40")


def test_samples_respect_assumptions_and_violations_raise(rng):
    c, k = sp.Symbol("c", positive=True), sp.Symbol("k", integer=True, nonnegative=True)
    s = sample([c, k, x, matrix("m", 2, 2, negative=True)], rng, n=200)
    assert np.all(s[c] > 0) and np.all(s[k] >= 0) and np.all(s[k] == np.round(s[k])) and np.any(s[x] < 0)
    assert s[matrix("m", 2, 2, negative=True)].shape == (200, 2, 2)
    with pytest.raises(ValueError, match="declared positive"):
        check_numeric(c**2, {c: np.array([-0.5, 1.0])}, np.array([0.25, 1.0]), "c^2")
    with pytest.raises(ValueError, match="Generator"):
        sample([c], np.random)


def test_expect_normal():
    s = sp.Symbol("s", positive=True)
    assert_equal(expect_normal(x**2, x, 0, s), s**2, "E[x^2] = s^2")
    assert_equal(expect_normal(sp.exp(x), x), sp.exp(sp.Rational(1, 2)), "E[e^x] for the standard normal")


# ----- lib's tails against the 50-digit reference (the contract's accuracy bar) ----------------

WIDE = np.concatenate([np.linspace(-745, 745, 1001), [0.0, 1e-300, -1e-8, 3e-5, 19.5, -37.5]])


@pytest.mark.parametrize(
    "name, expr, fn, reach",
    [
        ("sigma'", sp.diff(sigmoid(x), x), A.sigmoid_grad, 700),
        ("tanh'", sp.diff(sp.tanh(x), x), A.tanh_grad, 350),
        ("sigma", sigmoid(x), A.sigmoid, 700),
    ],
)
def test_activation_slopes_have_full_relative_accuracy(name, expr, fn, reach):
    errors = check_reference(expr, x, WIDE, fn(WIDE), f"{name} against 50 digits")
    _, truth = reference_error(expr, x, WIDE, fn(WIDE))
    normal = np.abs(truth) >= np.finfo(float).tiny
    assert np.abs(WIDE[normal]).max() >= reach  # the check reached the far tail
    assert errors[normal].max() <= 1e-12


def test_the_first_edition_slopes_would_fail_the_reference():
    s = A.sigmoid(WIDE)
    with pytest.raises(AssertionError, match="relative error"):
        check_reference(sp.diff(sigmoid(x), x), x, WIDE, s * (1 - s), "sigma (1 - sigma)")


@pytest.mark.parametrize("others", [[0.0, -1.0], [-40.0, -50.0], [700.0, 0.0], [-745.0, 30.0]])
def test_log_softmax_relative_accuracy(others):
    z = np.concatenate([np.linspace(-745, 745, 301), [0.0, -40.0, 40.0]])
    logits = np.column_stack([z, np.full_like(z, others[0]), np.full_like(z, others[1])])
    expr = x - sp.log(sp.exp(x) + sp.exp(others[0]) + sp.exp(others[1]))
    check_reference(expr, x, z, A.log_softmax(logits)[:, 0], "log-softmax against 50 digits")


@pytest.mark.parametrize("target", [0.0, 1.0, 0.3, 0.999999, 1e-7])
def test_binary_cross_entropy_relative_accuracy(target):
    z = np.linspace(-745, 745, 301)
    got = np.array([losses.sigmoid_cross_entropy(np.array([v]), np.array([target]))[0] for v in z])
    y = sp.Float(target, 60)
    expr = -y * sp.log(sigmoid(x)) - (1 - y) * sp.log(1 - sigmoid(x))
    check_reference(expr, x, z, got, "binary cross-entropy against 50 digits")


# ----- the ledger ----------------------------------------------------------------------------


def test_ledger_records_kinds_and_renders_marks_and_table():
    e = assert_equal(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1, "Pythagoras")
    ledger.check_fd("a backward pass", 3e-10)
    s = ledger.measure("an accuracy", [0.9, 0.92, 0.91, 0.93, 0.9], low=0.85, high=0.95)
    assert isinstance(s.mean, float) and s.n == 5 and s.std > 0
    ledger.measure("one run", 0.5, low=0.4, high=0.6)
    assert ledger.LEDGER.counts() == {
        "symbolic": 1, "lib": 0, "finite-difference": 1, "statistical": 1, "experiment": 1}
    assert f'href="#{e.anchor}"' in e.mark_html() and f'id="{e.anchor}-at"' in e.mark_html()
    table = ledger.LEDGER.table_html()
    assert table.count("<tr id=") == 4 and f'id="{e.anchor}"' in table and "Pythagoras" in table
    d = Derivation(r"\frac{d}{dx} x^2", sp.Derivative(x**2, x)).step(2 * x)
    assert r"\(\frac{d}{dx} x^2\)" in ledger.LEDGER.table_html() and d.entry.formula


def test_ledger_checks_can_fail():
    with pytest.raises(AssertionError, match="exceeds"):
        ledger.check_fd("a wrong backward", 0.3)
    with pytest.raises(AssertionError, match="finite"):
        ledger.check_fd("a NaN gradient", float("nan"))
    with pytest.raises(AssertionError, match="outside"):
        ledger.measure("too low", [0.5] * 5, low=0.9)
    with pytest.raises(ValueError, match="5 seeds"):
        ledger.measure("three seeds are an anecdote", [0.9, 0.91, 0.92], low=0.8)
    with pytest.raises(AssertionError, match="order"):
        ledger.rank("wrong order", {"a": [2.0] * 5, "b": [1.0, 1.1, 0.9, 1.0, 1.0]}, order=["a", "b"])
    with pytest.raises(ValueError, match="same"):
        ledger.rank("one seed", {"a": [1.0], "b": [2.0]}, order=["a", "b"])
    with pytest.raises(ValueError, match="name each"):
        ledger.rank("missing", {"a": [1.0] * 5, "b": [2.0] * 5}, order=["a"])
    with pytest.raises(ValueError):
        ledger.start("a chapter name with spaces")


def test_rank_counts_the_seeds_where_the_order_held():
    out = ledger.rank("error", {"a": [1, 2, 1, 1, 1], "b": [2, 1, 2, 2, 2]}, order=["a", "b"])
    assert out["a"].mean < out["b"].mean
    assert "held in 4 of 5 seeds" in ledger.LEDGER.entries[-1].measured


def test_checks_after_the_table_show_their_kind_without_a_link(monkeypatch):
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    ledger.check_fd("in the chapter", 1e-10)
    ledger.table()
    late = ledger.check_fd("in an exercise's solution", 1e-10)
    assert "href" not in late.mark_html() and "FD" in late.mark_html()
    assert "href" in ledger.LEDGER.entries[0].mark_html()
