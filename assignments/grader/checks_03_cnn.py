"""Checks of assignment 03_cnn (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import conv as ref
from lib.symbolic import is_zero

from .trusted import Fail, array, by_name, close, finite_differences, items, number

ALLOWED_LIB = ("gradcheck", "ledger", "symbolic")
RESULTS = ("losses", "w_learned", "b_learned")
TARGETS = {"w_learned": ("w_true",), "b_learned": ("b_true",)}

XS, WS, GS = sp.symbols("x0:5"), sp.symbols("w0:3"), sp.symbols("g0:3")


def corr1d(signal, kernel):
    k = len(kernel)
    return [sum(kernel[j] * signal[i + j] for j in range(k)) for i in range(len(signal) - k + 1)]


LOSS = sum(g * y for g, y in zip(GS, corr1d(XS, WS)))


def as_ours(e):
    return by_name(e, (*XS, *WS, *GS))


def part1_tests(ctx):
    st = ctx.student
    dw = st.get("dw", defined_in="part1_answer")
    if not isinstance(dw, list) or len(dw) != 3 or not all(isinstance(d, sp.Expr) for d in dw):
        raise Fail("dw should be a list of three SymPy expressions, dL/dw0, dL/dw1, dL/dw2")
    for d, wk in zip(dw, WS):
        if not is_zero(as_ours(d) - sp.diff(LOSS, wk)):
            raise Fail(f"dL/d{wk} in dw is not right")
    pad = st.get("pad_width", defined_in="part1_answer")
    if not isinstance(pad, np.ndarray) or pad.shape != () or pad.dtype.kind not in "iu" or pad < 0:
        raise Fail("pad_width should be a non-negative int")
    kernel = st.get("flipped_kernel", defined_in="part1_answer")
    if not isinstance(kernel, list) or len(kernel) != 3 or not all(isinstance(k, sp.Symbol) for k in kernel):
        raise Fail("flipped_kernel should be a list of the three symbols w0, w1, w2")
    built = corr1d([0] * int(pad) + list(GS) + [0] * int(pad), [as_ours(k) for k in kernel])
    if len(built) != len(XS):
        raise Fail("with this pad_width the correlation does not have one entry per x_j (5)")
    for d, xj in zip(built, XS):
        if not is_zero(d - sp.diff(LOSS, xj)):
            raise Fail(f"with this pad_width and flipped_kernel, dL/d{xj} is not right")


CASES = [(1, 0), (1, 1), (2, 1), (3, 2)]


def part2_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2"))
    for stride, pad in CASES:
        x, w, b = r.standard_normal((3, 2, 9, 8)), r.standard_normal((4, 2, 3, 2)), r.standard_normal(4)
        want = ref.conv2d_forward(x, w, b, stride, pad)[0]
        out = items(ctx.student.call("conv2d_forward", x, w, b, stride, pad, defined_in="part2_answer"),
                    "conv2d_forward", 2)
        got = array(out[0], f"out with stride {stride}, pad {pad}", want.shape)
        close(got, want, f"out with stride {stride}, pad {pad}", "the correlation of x with w plus b, on new random "
              "inputs", 1e-10)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    st = ctx.student
    for stride, pad in [(1, 1), (2, 0), (2, 1), (3, 2)]:
        small = (stride, pad) in [(1, 1), (2, 0)]
        x = r.standard_normal((2, 2, 5, 5) if small else (3, 2, 9, 8))
        w, b = r.standard_normal((3, 2, 3, 3) if small else (4, 2, 3, 2)), r.standard_normal(3 if small else 4)
        out_ref, cache_ref = ref.conv2d_forward(x, w, b, stride, pad)
        dout = r.standard_normal(out_ref.shape)
        out = items(st.call("conv2d_forward", x, w, b, stride, pad, keep=1, defined_in="part2_answer"),
                    "conv2d_forward", 2)
        g = items(st.call("conv2d_backward", dout, out[1], defined_in="part3_answer"), "conv2d_backward", 3)
        where = f"with stride {stride}, pad {pad}"
        grads = [array(v, f"{n} {where}", a.shape) for v, n, a in zip(g, ("dx", "dw", "db"), (x, w, b))]
        for grad, want, name in zip(grads, ref.conv2d_backward(dout, cache_ref), ("dx", "dw", "db")):
            close(grad, want, f"{name} {where}", f"dL/d{name[1:]} on new random inputs")
        if small:
            num = finite_differences(st, "conv2d_forward", [x, w, b, stride, pad], [0, 1, 2], dout)
            for i, name in enumerate(("dx", "dw", "db")):
                close(grads[i], num[i], f"{name} {where}", "the finite differences of your conv2d_forward", 1e-7)


POOLS = [(2, (3, 2, 8, 6)), (3, (2, 3, 9, 10)), (2, (1, 1, 5, 5))]


def part4_forward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part4f"))
    for size, shape in POOLS:
        x = r.standard_normal(shape)
        want = ref.maxpool_forward(x, size)[0]
        out = items(ctx.student.call("maxpool_forward", x, size, defined_in="part4_forward"), "maxpool_forward", 2)
        got = array(out[0], f"out for size {size} on a {shape[2]}x{shape[3]} image", want.shape)
        if not np.array_equal(got, want):
            raise Fail(f"out for size {size} on a {shape[2]}x{shape[3]} image is not the maximum of each window")


def part4_backward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part4b"))
    st = ctx.student
    for size, shape in POOLS + [(2, (2, 3, 6, 4))]:
        x = r.standard_normal(shape)
        out_ref, cache_ref = ref.maxpool_forward(x, size)
        dout = r.standard_normal(out_ref.shape)
        out = items(st.call("maxpool_forward", x, size, keep=1, defined_in="part4_forward"), "maxpool_forward", 2)
        dx = array(st.call("maxpool_backward", dout, out[1], defined_in="part4_backward"), "dx", shape)
        close(dx, ref.maxpool_backward(dout, cache_ref), "dx", "each window's dout at its maximum, zero elsewhere",
              1e-12)
        if shape == (2, 3, 6, 4):
            num = finite_differences(st, "maxpool_forward", [x, size], [0], dout)
            close(dx, num[0], "dx", "the finite differences of your maxpool_forward", 1e-7)
    tie = np.ones((1, 1, 2, 2))
    out = items(st.call("maxpool_forward", tie, 2, keep=1, defined_in="part4_forward"), "maxpool_forward", 2)
    dx = array(st.call("maxpool_backward", np.ones((1, 1, 1, 1)), out[1], defined_in="part4_backward"), "dx",
               (1, 1, 2, 2))
    if not np.array_equal(dx[0, 0], [[1.0, 0.0], [0.0, 0.0]]):
        raise Fail("when a window holds its maximum more than once, the first one (row-major) takes the gradient")


def fresh_experiment(r):
    """Images and a kernel drawn anew: plain gradient descent recovered every one of 30 random
    kernels to 1e-15 in 100 steps, so the criterion does not depend on the draw."""
    x_img = r.standard_normal((16, 1, 8, 8))
    w_true, b_true = r.standard_normal((1, 1, 3, 3)), r.standard_normal(1)
    return {"data_rng": {"__rng__": int(r.integers(2**31))}, "x_img": x_img, "w_true": w_true, "b_true": b_true,
            "y_img": ref.conv2d_forward(x_img, w_true, b_true)[0]}


FRESH_DATA = {"part5_data": fresh_experiment}


def part5_tests(ctx):
    d, st = ctx.data["part5_data"], ctx.student
    losses = st.get("losses", defined_in="part5_answer")
    if not isinstance(losses, list) or len(losses) != 100:
        raise Fail("losses should be a list of 100 numbers, one per step")
    losses = np.array([number(v, "each entry of losses") for v in losses])
    w_learned = array(st.get("w_learned", defined_in="part5_answer"), "w_learned", (1, 1, 3, 3))
    b_learned = array(st.get("b_learned", defined_in="part5_answer"), "b_learned").reshape(-1)
    if b_learned.shape != (1,):
        raise Fail("b_learned should hold one number, shape (1,)")
    # the descent, replayed with the student's own conv2d_forward and conv2d_backward
    w, b = np.zeros((1, 1, 3, 3)), np.zeros(1)
    try:
        w, b, replay = descend(st, d, w, b)
        same = np.all(np.abs(losses - replay) <= 1e-6 * np.abs(replay) + 1e-12) and \
            np.all(np.abs(w_learned - w) <= 1e-6 * np.abs(w) + 1e-12) and np.all(np.abs(b_learned - b) <= 1e-6 * np.abs(b) + 1e-12)
    except Fail:
        same = False
    if not same:
        ctx.flag("part5_answer: the experiment's results are not what the student's own functions give"
                 + (" (w_learned equals the target w_true)" if np.allclose(w_learned, d["w_true"], rtol=0, atol=1e-12) else ""))
        raise Fail("losses, w_learned and b_learned should come from 100 steps of gradient descent through your "
                   "conv2d_forward and conv2d_backward, from w = 0 and b = 0; on the data drawn for grading, "
                   "replaying those steps gives different numbers")
    if not losses[-1] < 1e-6 or not np.max(np.abs(w_learned - d["w_true"])) < 1e-3:
        raise Fail("gradient descent did not recover the kernel to within 1e-3 with a final loss below 1e-6")


def descend(st, d, w, b):
    """100 steps of gradient descent through the student's conv2d_forward and conv2d_backward."""
    replay = []
    for _ in range(100):
        out = items(st.call("conv2d_forward", d["x_img"], w, b, keep=1, defined_in="part2_answer"), "conv2d_forward", 2)
        resid = array(out[0], "out (conv2d_forward's output)", d["y_img"].shape) - d["y_img"]
        replay.append(0.5 * np.mean(resid**2))
        g = items(st.call("conv2d_backward", resid / resid.size, out[1], defined_in="part3_answer"), "conv2d_backward", 3)
        w = w - 0.5 * array(g[1], "dw", w.shape)
        b = b - 0.5 * array(g[2], "db", b.shape)
    return w, b, replay


CHECKS = {"part1_tests": part1_tests, "part2_tests": part2_tests, "part3_tests": part3_tests,
          "part4_forward_tests": part4_forward_tests, "part4_backward_tests": part4_backward_tests,
          "part5_tests": part5_tests}
