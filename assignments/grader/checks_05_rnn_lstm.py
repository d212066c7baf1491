"""Checks of assignment 05_rnn_lstm (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import recurrent as ref
from lib.symbolic import is_zero

from .trusted import Fail, array, by_name, close, finite_differences, items, number, rel_gap, rng

ALLOWED_LIB = ("gradcheck", "ledger", "symbolic")   # what the setup cell imports (lib.symbolic imports lib.ledger)
RESULTS = ("wx", "wh", "b", "wo", "bo", "losses", "test_acc")
TARGETS = {}   # the labels are needed to measure test_acc; there is no answer to copy from the data

W_X, W_H, B, H0, X1, X2 = sp.symbols("w_x w_h b h_0 x_1 x_2", real=True)
H1 = sp.tanh(W_X * X1 + W_H * H0 + B)
H2 = sp.tanh(W_X * X2 + W_H * H1 + B)
NAMES = {"w_x", "w_h", "b", "h_0", "x_1", "x_2"}
POINTS = [dict(zip((W_X, W_H, B, H0, X1, X2), [sp.nsimplify(v) for v in row]))
          for row in ([0.7, -1.3, 0.2, 0.4, -0.8, 1.1], [-0.35, 0.9, -0.6, -1.2, 0.5, 0.25])]


def as_ours(e):
    return by_name(e, (W_X, W_H, B, H0, X1, X2))


def part1_tests(ctx):
    st = ctx.student
    d2 = 1 - H2 ** 2
    want = {"delta2": (d2, "dL/da_2 = tanh'(a_2) for L = h_2"),
            "delta1": (d2 * W_H * (1 - H1 ** 2), "dL/da_1: delta2 carried back through w_h and tanh'(a_1)"),
            "dL_dwh": (sp.diff(H2, W_H), "dL/dw_h = delta2 h_1 + delta1 h_0"),
            "dh2_dh0": (sp.diff(H2, H0), "dh_2/dh_0, one factor w_h (1 - h_t^2) per step")}
    for name, (expr, what) in want.items():
        got = st.get(name, defined_in="part1_answer")
        if not isinstance(got, sp.Expr):
            raise Fail(f"{name} should be a SymPy expression in the symbols of Part 1")
        extra = {str(v) for v in got.free_symbols} - NAMES
        if extra:
            raise Fail(f"{name} should contain only the symbols of Part 1, but it also contains {sorted(extra)}")
        diff = as_ours(got) - expr
        # a numeric screen first: a wrong answer would send is_zero into a long simplify of nested tanh
        if not all(abs(complex(diff.subs(p).evalf(30))) < 1e-20 for p in POINTS) or not is_zero(diff):
            raise Fail(f"{name} is not {what}")


def random_case(r, n, t, d, h, scale=0.6):
    return [r.standard_normal((n, t, d)), r.standard_normal((n, h)), scale * r.standard_normal((d, h)),
            scale * r.standard_normal((h, h)), r.standard_normal(h)]


def part2_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2"))
    for n, t, d, h in [(3, 6, 4, 5), (1, 1, 1, 1), (8, 20, 2, 7)]:
        args = random_case(r, n, t, d, h)
        out = items(ctx.student.call("rnn_forward", *args, defined_in="part2_answer"), "rnn_forward", 2)
        where = f"for N={n}, T={t}, D={d}, H={h}"
        got = array(out[0], f"h {where}", (n, t, h))
        close(got, ref.rnn_forward(*args)[0], f"h {where}", "every hidden state of a tanh RNN on new random inputs",
              1e-12)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    st = ctx.student
    names = ("dx", "dh0", "dwx", "dwh", "db")
    for n, t, d, h in [(2, 3, 2, 3), (5, 12, 3, 6)]:
        args = random_case(r, n, t, d, h)
        dh = r.standard_normal((n, t, h))
        out = items(st.call("rnn_forward", *args, keep=1, defined_in="part2_answer"), "rnn_forward", 2)
        g = items(st.call("rnn_backward", dh, out[1], defined_in="part3_answer"), "rnn_backward", 5)
        where = f"for N={n}, T={t}, D={d}, H={h}"
        grads = [array(v, f"{name} {where}", np.shape(a)) for v, name, a in zip(g, names, args)]
        for grad, want, name in zip(grads, ref.rnn_backward(dh, ref.rnn_forward(*args)[1]), names):
            close(grad, want, f"{name} {where}", f"dL/d{name[1:]} through time on new random inputs")
        if n == 2:   # and against finite differences of the student's own forward pass
            num = finite_differences(st, "rnn_forward", args, range(5), dh)
            for grad, i, name in zip(grads, range(5), names):
                close(grad, num[i], f"{name} {where}", "the finite differences of your rnn_forward", 1e-7)


def fresh_experiment(r):
    """New sequences for Part 4.  The recipe with lib.recurrent (reference_training, rng(0) as in the
    notebook), over the data drawn from seeds 0-399: test accuracy 100 % in every one of the 400 (mean
    1.000, sd 0.000); the threshold is 90 %."""
    st, se = r.integers(0, 3, (200, 5)), r.integers(0, 3, (200, 5))
    return {"data_rng": {"__rng__": int(r.integers(2**31))}, "symbols_train": st, "symbols_test": se,
            "x_train": np.eye(3)[st], "y_train": st[:, 0], "x_test": np.eye(3)[se], "y_test": se[:, 0]}


FRESH_DATA = {"part4_data": fresh_experiment}


def reference_training(x, y, seed, hidden=16, lr=0.5, epochs=300, clip=5.0):
    """Part 4's recipe with lib.recurrent's layer and clipping: (wx, wh, b, wo, bo, losses)."""
    g = np.random.default_rng(seed)
    n, _, d = x.shape
    wx = g.standard_normal((d, hidden)) * np.sqrt(1 / d)
    wh = g.standard_normal((hidden, hidden)) * np.sqrt(1 / hidden)
    wo = g.standard_normal((hidden, 3)) * np.sqrt(1 / hidden)
    b, bo = np.zeros(hidden), np.zeros(3)
    losses = []
    for _ in range(epochs):
        h, cache = ref.rnn_forward(x, np.zeros((n, hidden)), wx, wh, b)
        z = h[:, -1] @ wo + bo
        zl = z - z.max(axis=1, keepdims=True)
        log_p = zl - np.log(np.exp(zl).sum(axis=1, keepdims=True))
        losses.append(float(-log_p[np.arange(n), y].mean()))
        dz = np.exp(log_p)
        dz[np.arange(n), y] -= 1.0
        dz /= n
        dh = np.zeros_like(h)
        dh[:, -1] = dz @ wo.T
        _, _, dwx, dwh, db = ref.rnn_backward(dh, cache)
        grads = {"wx": dwx, "wh": dwh, "b": db, "wo": h[:, -1].T @ dz, "bo": dz.sum(axis=0)}
        ref.clip_grad_norm(grads, clip)
        wx, wh, b, wo, bo = (p - lr * grads[k] for p, k in zip((wx, wh, b, wo, bo), ("wx", "wh", "b", "wo", "bo")))
    return wx, wh, b, wo, bo, losses


def predict(x, wx, wh, b, wo, bo):
    h, _ = ref.rnn_forward(x, np.zeros((len(x), wh.shape[0])), wx, wh, b)
    return h[:, -1] @ wo + bo


def part4_tests(ctx):
    d, st = ctx.data["part4_data"], ctx.student
    shapes = {"wx": (3, 16), "wh": (16, 16), "b": (16,), "wo": (16, 3), "bo": (3,)}
    params = {k: array(st.get(k, defined_in="part4_answer"), k, s) for k, s in shapes.items()}
    losses = st.get("losses", defined_in="part4_answer")
    if not isinstance(losses, list) or len(losses) != 300:
        raise Fail("losses should be a list of 300 numbers, one per epoch")
    losses = np.array([number(v, "each entry of losses") for v in losses])
    test_acc = number(st.get("test_acc", defined_in="part4_answer"), "test_acc")
    # the training, replayed with the student's own train_rnn on the data drawn now
    try:
        out = items(st.call("train_rnn", d["x_train"], d["y_train"], rng(0), defined_in="part4_answer"),
                    "train_rnn", 6)
        again = [array(v, k, s) for v, (k, s) in zip(out[:5], shapes.items())]
        again_losses = np.array([number(v, "each entry of train_rnn's losses") for v in out[5]])
        same = again_losses.shape == losses.shape and np.array_equal(again_losses, losses) and \
            all(np.array_equal(params[k], v) for k, v in zip(shapes, again))
    except Fail:
        same = False
    if not same:
        ctx.flag("part4_answer: the experiment's results are not what the student's own train_rnn returns")
        raise Fail("wx, wh, b, wo, bo and losses should be what your train_rnn returns on (x_train, y_train) with "
                   "rng=np.random.default_rng(0); on the sequences drawn for grading they are not")
    want = reference_training(d["x_train"], d["y_train"], 0)
    if rel_gap(losses, want[5]) > 1e-6 or any(rel_gap(params[k], v) > 1e-6 for k, v in zip(shapes, want)):
        raise Fail("train_rnn does not follow Part 4's recipe: on the sequences drawn for grading its losses and "
                   "weights differ from gradient descent as described (initialisation order, loss on the last "
                   "state, clipping by the global norm of all five gradients, step lr * grad)")
    acc = float(np.mean(predict(d["x_test"], *(params[k] for k in shapes)).argmax(axis=1) == d["y_test"]))
    if abs(test_acc - acc) > 1e-12:
        raise Fail("test_acc should be the fraction of x_test whose first symbol your trained network predicts")
    if acc < 0.9:
        raise Fail("the test accuracy is below the 90% threshold")


CHECKS = {"part1_tests": part1_tests, "part2_tests": part2_tests, "part3_tests": part3_tests,
          "part4_tests": part4_tests}
