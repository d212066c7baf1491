"""Checks of assignment 04_rbm_dbn (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import energy as ref
from lib.symbolic import is_zero

from .trusted import Fail, array, close, finite_differences, items, number, rel_gap, rng

ALLOWED_LIB = ("gradcheck", "ledger", "symbolic")   # what the setup cell imports (lib.symbolic imports lib.ledger)
RESULTS = ("w_fit", "b_fit", "c_fit", "ll_fit")
TARGETS = {}   # the data are the training set itself: there is no answer to copy from them

V1, V2 = sp.symbols("v1 v2", real=True)
W1, W2, B1, B2, C = sp.symbols("w1 w2 b1 b2 c", real=True)
Z = C + W1 * V1 + W2 * V2
WANT = {"p_h_on": 1 / (1 + sp.exp(-Z)),
        "free_energy_expr": -(B1 * V1 + B2 * V2) - sp.log(1 + sp.exp(Z)),
        "dF_dw1": -V1 / (1 + sp.exp(-Z))}
WHAT = {"p_h_on": "p(h = 1 | v), the sum of exp(-E) over h = 1 divided by the sum over h in {0, 1}",
        "free_energy_expr": "F(v) = -log of the sum of exp(-E(v, h)) over h in {0, 1}",
        "dF_dw1": "the derivative of F(v) with respect to w1"}
OURS = {str(s): s for s in (V1, V2, W1, W2, B1, B2, C)}


def part1_tests(ctx):
    for name in ("p_h_on", "free_energy_expr", "dF_dw1"):
        answer = ctx.student.get(name, defined_in="part1_answer")
        if not isinstance(answer, sp.Expr):
            raise Fail(f"{name} should be a SymPy expression in v1, v2, w1, w2, b1, b2, c")
        extra = {str(s) for s in answer.free_symbols} - set(OURS)
        if extra:
            raise Fail(f"{name} may contain only v1, v2, w1, w2, b1, b2 and c, but it also contains {sorted(extra)}")
        answer = answer.subs({s: OURS[str(s)] for s in answer.free_symbols})   # our symbols, with our assumptions
        if not is_zero(answer - WANT[name]):
            raise Fail(f"{name} is not {WHAT[name]}")


def rbm(r, d, h, scale=1.0):
    return scale * r.standard_normal((d, h)), scale * r.standard_normal(d), scale * r.standard_normal(h)


def bits(r, n, d):
    return (r.random((n, d)) < 0.5).astype(float)


def part2_forward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2f"))
    for n, d, h, scale, big in [(5, 4, 3, 1.0, ""), (30, 9, 6, 2.0, ""), (4, 6, 5, 300.0, " for weights of size 300")]:
        w, b, c = rbm(r, d, h, scale)
        v = bits(r, n, d)
        out = items(ctx.student.call("free_energy_forward", v, w, b, c, keep=1, defined_in="part2_forward"),
                    "free_energy_forward", 2)
        got = array(out[0], f"F{big}", (n,))
        close(got, ref.free_energy(v, w, b, c), f"F{big}", "the free energy -b.v - sum_j log(1 + exp(z_j)) on new "
              "random inputs", 1e-10)


def part2_backward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2b"))
    st = ctx.student
    for n, d, h, scale, big in [(3, 4, 3, 1.0, ""), (25, 8, 5, 1.5, ""), (4, 6, 5, 300.0, " for weights of size 300")]:
        w, b, c = rbm(r, d, h, scale)
        v = bits(r, n, d)
        dout = r.standard_normal(n)
        out = items(st.call("free_energy_forward", v, w, b, c, keep=1, defined_in="part2_forward"),
                    "free_energy_forward", 2)
        g = items(st.call("free_energy_backward", dout, out[1], defined_in="part2_backward"), "free_energy_backward", 3)
        grads = [array(x, f"{name}{big}", s) for x, name, s in zip(g, ("dw", "db", "dc"), (w.shape, b.shape, c.shape))]
        want = ref.free_energy_backward(dout, ref.free_energy_forward(v, w, b, c)[1])[1:]
        for got, exp, name in zip(grads, want, ("dw", "db", "dc")):
            close(got, exp, f"{name}{big}", f"dL/d{name[1:]} for L = sum(dout * F) on new random inputs", 1e-10)
        if n == 3:   # and against finite differences of the student's own forward pass
            num = finite_differences(st, "free_energy_forward", [v, w, b, c], [1, 2, 3], dout)
            for got, i, name in zip(grads, (1, 2, 3), ("dw", "db", "dc")):
                close(got, num[i], name, "the finite differences of your free_energy_forward", 1e-7)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    for d, h, scale in [(1, 2, 1.0), (4, 3, 1.0), (7, 2, 2.0), (5, 4, 40.0)]:
        w, b, c = rbm(r, d, h, scale)
        got = number(ctx.student.call("log_partition", w, b, c, defined_in="part3_answer"),
                     f"log_partition's result for {d} visible units")
        close(got, ref.log_partition(w, b, c), f"log Z for {d} visible and {h} hidden units",
              "the log of the sum of exp(-E) over all states of a new random RBM", 1e-10)


def part4_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part4"))
    for n, d, h in [(1, 2, 1), (7, 4, 3), (40, 6, 2)]:
        w, b, c = rbm(r, d, h)
        v = bits(r, n, d)
        g = items(ctx.student.call("exact_gradient", v, w, b, c, defined_in="part4_answer"), "exact_gradient", 3)
        grads = [array(x, f"{name} for {n} data vectors", s) for x, name, s in
                 zip(g, ("dw", "db", "dc"), (w.shape, b.shape, c.shape))]
        for got, exp, name in zip(grads, ref.exact_gradient(v, w, b, c), ("dw", "db", "dc")):
            close(got, exp, f"{name} for {n} data vectors",
                  f"the gradient of the mean log-likelihood with respect to {name[1:]} on a new random RBM", 1e-9)


def two_prototypes(r, n=200, d=6, flip=0.1):
    proto = r.integers(0, 2, d).astype(float)
    v = np.stack([proto, 1.0 - proto])[r.integers(0, 2, n)]
    return proto, np.abs(v - (r.random(v.shape) < flip))


def fresh_experiment(r):
    """The training set of part 5 drawn anew: two random complementary prototypes of 6 bits, each bit flipped
    with probability 0.1.  Part 5's recipe with lib.energy.exact_gradient (reference_training), measured over
    the data sets drawn from seeds 0-999: the trained model's mean log-likelihood beats the best model of
    independent bits by 1.53 nats on average (sd 0.11), 1.22 at the least; the threshold is 1.0."""
    proto, v_train = two_prototypes(r)
    return {"proto": proto, "v_train": v_train, "data_rng": {"__rng__": int(r.integers(2**31))}}


FRESH_DATA = {"part5_data": fresh_experiment}
THRESHOLD = 1.0


def reference_training(v, n_hidden, seed, steps=200, lr=0.5):
    g = np.random.default_rng(seed)
    w, b, c = 0.1 * g.standard_normal((v.shape[1], n_hidden)), np.zeros(v.shape[1]), np.zeros(n_hidden)
    for _ in range(steps):
        dw, db, dc = ref.exact_gradient(v, w, b, c)
        w, b, c = w + lr * dw, b + lr * db, c + lr * dc
    return w, b, c


def independent_bits(v):
    p = v.mean(axis=0).clip(1e-12, 1 - 1e-12)
    return float(np.sum(p * np.log(p) + (1 - p) * np.log(1 - p)))


def part5_tests(ctx):
    v, st = ctx.data["part5_data"]["v_train"], ctx.student
    d, h = v.shape[1], 4
    shapes = {"w_fit": (d, h), "b_fit": (d,), "c_fit": (h,)}
    params = {k: array(st.get(k, defined_in="part5_answer"), k, s) for k, s in shapes.items()}
    ll_fit = number(st.get("ll_fit", defined_in="part5_answer"), "ll_fit")
    try:   # the training, replayed with the student's own train_exact on the data drawn now
        out = items(st.call("train_exact", v, h, rng(0), 200, 0.5, defined_in="part5_answer"), "train_exact", 3)
        again = [array(x, k, s) for x, (k, s) in zip(out, shapes.items())]
        same = all(np.array_equal(params[k], x) for k, x in zip(shapes, again))
    except Fail:
        same = False
    if not same:
        ctx.flag("part5_answer: the experiment's results are not what the student's own train_exact returns")
        raise Fail("w_fit, b_fit and c_fit should be what your train_exact returns on (v_train, 4, "
                   "np.random.default_rng(0), 200, 0.5); on the data drawn for grading they are not")
    want = reference_training(v, h, 0)
    if any(rel_gap(params[k], x) > 1e-6 for k, x in zip(shapes, want)):
        raise Fail("train_exact does not follow Part 5's recipe: on the data drawn for grading its weights differ "
                   "from gradient ascent as described (w = 0.1 * rng.standard_normal((D, H)) first, b and c zero, "
                   "200 full-batch steps of size lr along your exact_gradient)")
    ll = float(ref.log_likelihood(v, params["w_fit"], params["b_fit"], params["c_fit"]).mean())
    if abs(ll_fit - ll) > 1e-9 * max(1.0, abs(ll)):
        raise Fail("ll_fit should be the mean log-likelihood of v_train under your trained model, "
                   "-F(v) - log Z averaged over the rows of v_train")
    if ll - independent_bits(v) < THRESHOLD:   # cannot happen for the recipe: the gap is >= 1.2 for every seed
        raise Fail("the trained model does not beat the best model of independent bits by the required 1 nat")


CHECKS = {"part1_tests": part1_tests, "part2_forward_tests": part2_forward_tests,
          "part2_backward_tests": part2_backward_tests, "part3_tests": part3_tests, "part4_tests": part4_tests,
          "part5_tests": part5_tests}
