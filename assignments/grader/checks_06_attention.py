"""Checks of assignment 06_attention (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import attention as ref
from lib.symbolic import is_zero

from .trusted import (Fail, array, by_name, close, finite_differences, items,
                      number, rel_gap, rng, sym_matrix)

ALLOWED_LIB = ("gradcheck", "ledger", "symbolic")   # what the setup cell imports (lib.symbolic imports lib.ledger)
RESULTS = ("wq", "wk", "losses", "test_acc")
TARGETS = {}   # the targets y_test are needed to measure test_acc; the weights cannot be copied from the data

Z = sp.symbols("z0:3", real=True)
POS, K, OMEGA = sp.symbols("p k omega", real=True)


def as_ours(e):
    return by_name(e, (*Z, POS, K, OMEGA))


def part1_tests(ctx):
    st = ctx.student
    zs = sp.Matrix(Z)
    p = zs.applyfunc(sp.exp) / sum(zs.applyfunc(sp.exp))
    jac = as_ours(sym_matrix(st.get("jac_softmax", defined_in="part1_answer"), "jac_softmax", (3, 3)))
    if not is_zero(jac - (sp.diag(*p) - p * p.T)):
        raise Fail("jac_softmax is not the matrix of derivatives dp_i/dz_j of the softmax of z")
    rot = as_ours(sym_matrix(st.get("rotation", defined_in="part1_answer"), "rotation", (2, 2)))
    extra = {str(v) for v in rot.free_symbols} - {"k", "omega"}
    if extra:
        raise Fail(f"rotation may depend on k and omega only, but it also contains {sorted(extra)}")
    e = lambda q: sp.Matrix([sp.sin(q * OMEGA), sp.cos(q * OMEGA)])  # noqa: E731
    if not is_zero(sp.expand_trig(e(POS + K) - rot * e(POS))):
        raise Fail("rotation does not map e(p) to e(p + k) for every position p")


def masks(r, tq, tk):
    causal = np.tril(np.ones((tq, tk), dtype=bool))
    random = r.random((tq, tk)) < 0.5
    random[np.arange(tq), r.integers(0, tk, tq)] = True   # every query keeps at least one key
    return [None, causal, random]


def forward(st, q, k, v, mask, keep=None):
    args = (q, k, v) if mask is None else (q, k, v, mask)
    return items(st.call("attention_forward", *args, keep=keep, defined_in="part2_answer"), "attention_forward", 2)


def part2_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2"))
    st = ctx.student
    for n, tq, tk, dk, dv, size in [(3, 4, 5, 6, 2, 1.0), (1, 1, 3, 2, 4, 1.0), (2, 5, 5, 3, 3, 300.0)]:
        q, k, v = r.standard_normal((n, tq, dk)) * size, r.standard_normal((n, tk, dk)) * size, r.standard_normal((n, tk, dv))
        for mask in masks(r, tq, tk):
            kind = "no mask" if mask is None else "a mask"
            where = f"out for q {q.shape}, k {k.shape}, v {v.shape}, {kind}" + (", scores in the thousands" if size > 1 else "")
            got = array(forward(st, q, k, v, mask)[0], where, (n, tq, dv))
            close(got, ref.attention_forward(q, k, v, mask)[0], where,
                  "softmax(q k^T / sqrt(d_k)) v with masked keys at weight 0, on new random inputs", 1e-10)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    st = ctx.student
    for n, tq, tk, dk, dv in [(2, 3, 4, 3, 2), (3, 5, 5, 4, 3)]:
        q, k, v = r.standard_normal((n, tq, dk)), r.standard_normal((n, tk, dk)), r.standard_normal((n, tk, dv))
        dout = r.standard_normal((n, tq, dv))
        for mask in masks(r, tq, tk)[:2]:
            kind = "no mask" if mask is None else "the causal mask"
            out = forward(st, q, k, v, mask, keep=1)
            g = items(st.call("attention_backward", dout, out[1], defined_in="part3_answer"), "attention_backward", 3)
            where = f"for q {q.shape}, k {k.shape}, {kind}"
            grads = [array(x, f"{name} {where}", s) for x, name, s in zip(g, ("dq", "dk", "dv"), (q.shape, k.shape, v.shape))]
            want = ref.attention_backward(dout, ref.attention_forward(q, k, v, mask)[1])
            for grad, w, name in zip(grads, want, ("dq", "dk", "dv")):
                close(grad, w, f"{name} {where}", f"dL/d{name[1:]} on new random inputs", 1e-9)
            if n == 2:   # and against finite differences of the student's own forward pass
                args = [q, k, v] if mask is None else [q, k, v, mask]
                num = finite_differences(st, "attention_forward", args, [0, 1, 2], dout)
                for grad, i, name in zip(grads, (0, 1, 2), ("dq", "dk", "dv")):
                    close(grad, num[i], f"{name} {where}", "the finite differences of your attention_forward", 1e-6)
    # a key that no query may see: its gradient must be exactly zero
    q, k, v = r.standard_normal((2, 3, 4)), r.standard_normal((2, 5, 4)), r.standard_normal((2, 5, 2))
    mask = np.tril(np.ones((3, 5), dtype=bool))
    out = forward(st, q, k, v, mask, keep=1)
    g = items(st.call("attention_backward", r.standard_normal((2, 3, 2)), out[1], defined_in="part3_answer"),
              "attention_backward", 3)
    dk, dv = array(g[1], "dk with a mask", k.shape), array(g[2], "dv with a mask", v.shape)
    if np.any(dk[:, 3:] != 0) or np.any(dv[:, 3:] != 0):
        raise Fail("keys and values that the mask hides from every query should get exactly zero gradient")


T, V, D = 6, 5, 8


def encoding():
    angles = np.arange(T)[:, None] * 10000.0 ** (-np.arange(0, D, 2) / D)
    pe = np.zeros((T, D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def fresh_experiment(r):
    """New training and test sequences.  Part 4's recipe with lib.attention (reference_training,
    rng(0) as in the notebook), measured over the data drawn from seeds 0-299: every run reversed
    100 % of its 500 test sequences exactly (final loss about 0.005); with the initialisation drawn
    from other seeds as well (200 runs) the same.  The threshold is 90 %."""
    x_train, x_test = r.integers(0, V, size=(200, T)), r.integers(0, V, size=(500, T))
    return {"T": T, "V": V, "D": D, "angles": np.arange(T)[:, None] * 10000.0 ** (-np.arange(0, D, 2) / D),
            "pe": encoding(), "data_rng": {"__rng__": int(r.integers(2**31))},
            "x_train": x_train, "y_train": x_train[:, ::-1].copy(), "x_test": x_test, "y_test": x_test[:, ::-1].copy()}


FRESH_DATA = {"part4_data": fresh_experiment}


def reference_training(pe, x, y, seed, lr=2.0, epochs=150):
    """Part 4's recipe with lib.attention: (wq, wk, losses)."""
    g = np.random.default_rng(seed)
    n, t = x.shape
    d = pe.shape[1]
    onehot = np.eye(V)[x]
    wq = g.standard_normal((d, d)) * 0.5
    wk = g.standard_normal((d, d)) * 0.5
    losses = []
    for _ in range(epochs):
        out, cache = ref.attention_forward(np.broadcast_to(pe @ wq, (n, t, d)), np.broadcast_to(pe @ wk, (n, t, d)), onehot)
        picked = np.take_along_axis(out, y[..., None], axis=2)[..., 0]
        losses.append(float(-np.mean(np.log(picked))))
        dout = np.zeros_like(out)
        np.put_along_axis(dout, y[..., None], (-1.0 / (n * t * picked))[..., None], axis=2)
        dq, dk, _ = ref.attention_backward(dout, cache)
        wq, wk = wq - lr * pe.T @ dq.sum(axis=0), wk - lr * pe.T @ dk.sum(axis=0)
    return wq, wk, losses


def exact_match(pe, wq, wk, x, y):
    n = len(x)
    out, _ = ref.attention_forward(np.broadcast_to(pe @ wq, (n, T, D)), np.broadcast_to(pe @ wk, (n, T, D)), np.eye(V)[x])
    return float(np.mean(np.all(out.argmax(axis=2) == y, axis=1)))


def part4_tests(ctx):
    d, st = ctx.data["part4_data"], ctx.student
    wq = array(st.get("wq", defined_in="part4_answer"), "wq", (D, D))
    wk = array(st.get("wk", defined_in="part4_answer"), "wk", (D, D))
    losses = st.get("losses", defined_in="part4_answer")
    if not isinstance(losses, list) or len(losses) != 150:
        raise Fail("losses should be a list of 150 numbers, one per epoch")
    losses = np.array([number(v, "each entry of losses") for v in losses])
    test_acc = number(st.get("test_acc", defined_in="part4_answer"), "test_acc")
    # the training, replayed with the student's own train_reverser on the data drawn now
    try:
        out = items(st.call("train_reverser", d["pe"], d["x_train"], d["y_train"], rng(0), defined_in="part4_answer"),
                    "train_reverser", 3)
        again_q, again_k = array(out[0], "wq", (D, D)), array(out[1], "wk", (D, D))
        again_losses = np.array([number(v, "each entry of train_reverser's losses") for v in out[2]])
        same = again_losses.shape == losses.shape and np.array_equal(again_losses, losses) and \
            np.array_equal(again_q, wq) and np.array_equal(again_k, wk)
    except Fail:
        same = False
    if not same:
        ctx.flag("part4_answer: the experiment's results are not what the student's own train_reverser returns")
        raise Fail("wq, wk and losses should be what your train_reverser returns on (pe, x_train, y_train) with "
                   "rng=np.random.default_rng(0); on the sequences drawn for grading they are not")
    want = reference_training(d["pe"], d["x_train"], d["y_train"], 0)
    if rel_gap(losses, want[2]) > 1e-6 or rel_gap(wq, want[0]) > 1e-6 or rel_gap(wk, want[1]) > 1e-6:
        raise Fail("train_reverser does not follow Part 4's recipe: on the sequences drawn for grading its losses and "
                   "weights differ from gradient descent as described (initialisation order, mean loss over all "
                   "positions, gradients summed over the batch, step lr * grad)")
    acc = exact_match(d["pe"], wq, wk, d["x_test"], d["y_test"])
    if abs(test_acc - acc) > 1e-12:
        raise Fail("test_acc should be the fraction of the test sequences your trained layer reverses exactly")
    if acc < 0.9:
        raise Fail("the fraction of test sequences reversed exactly is below the 90% threshold")


CHECKS = {"part1_tests": part1_tests, "part2_tests": part2_tests, "part3_tests": part3_tests,
          "part4_tests": part4_tests}
