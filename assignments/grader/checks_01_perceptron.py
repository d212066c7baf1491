"""Checks of assignment 01_perceptron.  Each takes the grading context and raises Fail with a
message for the student; every input is drawn at grading time (ctx.seed_for)."""
import numpy as np
import sympy as sp

from lib import data
from lib import perceptron as ref
from lib.activations import sigmoid
from lib.symbolic import is_zero

from .trusted import Fail, array, close, finite_differences, items, number, rng

ALLOWED_LIB = ("data", "gradcheck", "ledger", "symbolic")  # what the setup cell imports (symbolic needs ledger)
RESULTS = ("w_exp", "b_exp", "mistakes", "converged", "test_acc", "bound")
TARGETS = {"w_exp": ("u_true",), "b_exp": ("u_true",)}

x, s = sp.symbols("x s", real=True)
SIGMA = 1 / (1 + sp.exp(-x))


def part1_tests(ctx):
    for name, f in [("g_sigmoid", SIGMA), ("h_tanh", sp.tanh(x))]:
        answer = ctx.student.get(name, defined_in="part1_answer")
        if not isinstance(answer, sp.Expr):
            raise Fail(f"{name} should be a SymPy expression in the symbol s")
        extra = {str(v) for v in answer.free_symbols} - {"s"}
        if extra:
            raise Fail(f"{name} may contain only the symbol s, but it also contains {sorted(extra)}")
        answer = answer.subs({v: s for v in answer.free_symbols})   # s with whatever assumptions
        if not is_zero(answer.subs(s, f) - sp.diff(f, x)):
            raise Fail(f"{name} evaluated at s = {f} is not the derivative of {f}")


def part2_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2"))
    cases = [(r.standard_normal((n, d)), r.standard_normal(d), r.standard_normal()) for n, d in [(1, 1), (40, 3), (200, 7)]]
    cases.append((np.zeros((4, 2)), np.ones(2), 0.0))
    for xh, wh, bh in cases:
        got = array(ctx.student.call("perceptron_predict", xh, wh, bh, defined_in="part2_answer"),
                    "perceptron_predict's result", (len(xh),))
        want = ref.perceptron_predict(xh, wh, bh)
        if not np.array_equal(got, want):
            zero = np.isclose(xh @ wh + bh, 0.0)
            if zero.any() and not np.array_equal(got[zero], want[zero]):
                raise Fail("perceptron_predict should give +1 where x.w + b = 0 (sign(0) = +1)")
            raise Fail(f"perceptron_predict gives the wrong label for {int(np.sum(got != want))} of {len(xh)} "
                       f"new random points (labels should be sign(x.w + b), -1.0 or +1.0)")


def train(ctx, xs, ys, seed, **kw):
    out = items(ctx.student.call("perceptron_train", xs, ys, rng(seed), defined_in="part3_answer", **kw),
                "perceptron_train", 4)
    w = array(out[0], "w (perceptron_train's first result)", (xs.shape[1],))
    b = number(out[1], "b (perceptron_train's second result)")
    m = number(out[2], "mistakes (perceptron_train's third result)")
    c = number(out[3], "converged (perceptron_train's fourth result)")
    if m != int(m) or c not in (0.0, 1.0):
        raise Fail("perceptron_train should return mistakes as an int and converged as a bool")
    return w, b, int(m), bool(c)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    x_and = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w, b, m, c = train(ctx, x_and, np.array([-1.0, -1.0, -1.0, 1.0]), 0)
    if not c or m == 0 or not np.all(np.array([-1, -1, -1, 1]) * (x_and @ w + b) > 0):
        raise Fail("on logical AND (separable) training should converge with every point on its side")
    for dim in (2, 3, 5):
        xs, ys, _ = data.linearly_separable(60, r, margin=0.3, dim=dim)
        seed = int(r.integers(2**31))
        w, b, m, c = train(ctx, xs, ys, seed)
        rw, rb, rm, rc = ref.perceptron_train(xs, ys, np.random.default_rng(seed))
        if m != rm or c != rc:
            raise Fail("on new separable data, with the same rng, the number of updates (mistakes) or converged "
                       "is not what Rosenblatt's rule gives: check the mistake test y (x.w + b) <= 0 and the "
                       "order rng.permutation(N) once per epoch")
        close(np.append(w, b), np.append(rw, rb), "(w, b)", "what Rosenblatt's rule gives on new separable data")
        half = train(ctx, xs, ys, seed, lr=0.5)
        close(np.append(half[0], half[1]), 0.5 * np.append(w, b), "(w, b) with lr = 0.5",
              "half of (w, b) with lr = 1 (from w = 0, every update scales with lr)")
    for epochs in (1, 3, 7):   # not separable: training must run exactly max_epochs epochs
        xs = r.standard_normal((12, 2))
        ys = np.where(r.random(12) < 0.5, -1.0, 1.0)
        ys[:2] = [1.0, -1.0]
        xs[1] = xs[0]          # the same point with both labels: never separable
        seed = int(r.integers(2**31))
        w, b, m, c = train(ctx, xs, ys, seed, max_epochs=epochs)
        rm = ref.perceptron_train(xs, ys, np.random.default_rng(seed), max_epochs=epochs)[2]
        if c:
            raise Fail("on data that are not separable, converged should be False")
        if m != rm:
            raise Fail(f"with max_epochs={epochs} on data that are not separable, training should make exactly "
                       f"{epochs} epochs (one rng.permutation each); the number of updates says otherwise")


def part4_forward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part4f"))
    for n, d in [(30, 5), (1, 3)]:
        xh, wh, bh = r.standard_normal((n, d)), r.standard_normal(d), float(r.standard_normal())
        out = items(ctx.student.call("neuron_forward", xh, wh, bh, defined_in="part4_forward"), "neuron_forward", 2)
        a = array(out[0], "a (neuron_forward's output)", (n,))
        close(a, sigmoid(xh @ wh + bh), "a", "sigmoid(x @ w + b) on new random inputs", 1e-12)


def part4_backward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part4b"))
    st = ctx.student
    for n, d in [(6, 4), (25, 7)]:
        xh, wh, bh = r.standard_normal((n, d)), r.standard_normal(d), float(r.standard_normal())
        dah = r.standard_normal(n)
        out = items(st.call("neuron_forward", xh, wh, bh, keep=1, defined_in="part4_forward"), "neuron_forward", 2)
        grads = items(st.call("neuron_backward", dah, out[1], defined_in="part4_backward"), "neuron_backward", 3)
        dx = array(grads[0], "dx", (n, d))
        dw = array(grads[1], "dw", (d,))
        db = number(grads[2], "db", "a single number (a float or a 0-d array, e.g. dz.sum())")
        a = sigmoid(xh @ wh + bh)
        dz = dah * a * (1 - a)
        close(dx, np.outer(dz, wh), "dx", "dL/dx on new random inputs")
        close(dw, xh.T @ dz, "dw", "dL/dw on new random inputs")
        close(db, dz.sum(), "db", "dL/db on new random inputs")
        if n == 6:   # and against finite differences of the student's own forward pass
            num = finite_differences(st, "neuron_forward", [xh, wh, bh], [0, 1, 2], dah)
            for i, (name, g) in enumerate([("dx", dx), ("dw", dw), ("db", db)]):
                close(g, num[i], name, "the finite differences of your neuron_forward", 1e-7)


def fresh_experiment(r):
    """The data of part 5 drawn anew (any seed: the reference reaches 97 % or more on 300 of 300)."""
    x_all, y_all, u_true = data.linearly_separable(400, r, margin=0.2)
    x_train, x_test, y_train, y_test = data.train_test_split(x_all, y_all, r)
    return {"x_all": x_all, "y_all": y_all, "u_true": u_true, "x_train": x_train, "x_test": x_test,
            "y_train": y_train, "y_test": y_test, "data_rng": {"__rng__": int(r.integers(2**31))}}


FRESH_DATA = {"part5_data": fresh_experiment}


def part5_tests(ctx):
    d, st = ctx.data["part5_data"], ctx.student
    get = {name: st.get(name, defined_in="part5_answer") for name in RESULTS}
    w_exp = array(get["w_exp"], "w_exp", (2,))
    b_exp = number(get["b_exp"], "b_exp")
    mistakes, converged = number(get["mistakes"], "mistakes"), number(get["converged"], "converged")
    test_acc, bound = number(get["test_acc"], "test_acc"), number(get["bound"], "bound")
    u = d["u_true"]
    if abs(np.dot(np.append(w_exp, b_exp), u)) >= (1 - 1e-9) * np.linalg.norm(np.append(w_exp, b_exp)) * np.linalg.norm(u):
        ctx.flag("part5_answer: w_exp, b_exp point exactly along the data's true separator u_true")
    try:
        w, b, m, c = train(ctx, d["x_train"], d["y_train"], 0)
        same = np.allclose(np.append(w_exp, b_exp), np.append(w, b), rtol=1e-12, atol=1e-12) and mistakes == m \
            and bool(converged) == c
    except Fail:
        same = False
    if not same:
        ctx.flag("part5_answer: the experiment's results are not what the student's own functions return")
        raise Fail("w_exp, b_exp, mistakes and converged should be what your perceptron_train returns on "
                   "(x_train, y_train) with rng=np.random.default_rng(0); on the data drawn for grading they are not")
    if not converged:
        raise Fail("the training data are separable, so your perceptron should converge")
    want_bound = ref.mistake_bound(ref.augment(d["x_train"]), d["y_train"], u)
    if not abs(bound - want_bound) <= 1e-9 * want_bound:
        raise Fail("bound is not Novikoff's (R / gamma)^2 for the training points with a 1 appended: check R "
                   "(the largest norm of (x_i, 1)) and gamma (the smallest y_i (x_i, 1).u / |u|)")
    if mistakes > bound:
        raise Fail("the number of mistakes exceeds Novikoff's bound")
    pred = np.where(d["x_test"] @ w_exp + b_exp >= 0, 1.0, -1.0)
    acc = float(np.mean(pred == d["y_test"]))
    if abs(test_acc - acc) > 1e-12:
        raise Fail("test_acc should be the fraction of test points that your trained perceptron labels correctly")
    if acc < 0.95:
        raise Fail("the test accuracy is below the 95% threshold")


CHECKS = {"part1_tests": part1_tests, "part2_tests": part2_tests, "part3_tests": part3_tests,
          "part4_forward_tests": part4_forward_tests, "part4_backward_tests": part4_backward_tests,
          "part5_tests": part5_tests}
