"""Checks of assignment 08_gan (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import gan as ref
from lib.symbolic import is_zero

from .trusted import Fail, array, close, finite_differences, items, number

ALLOWED_LIB = ("gradcheck", "ledger", "symbolic")   # lib.symbolic imports lib.ledger
RESULTS = ("w1_covering", "w1_gaussian", "w1_collapsed")

A, B = sp.symbols("a b", positive=True)
Z = sp.symbols("z", real=True)
SIGMA = 1 / (1 + sp.exp(-Z))
WANT = {"d_star": A / (A + B), "dsat_dz": sp.diff(sp.log(1 - SIGMA), Z), "dns_dz": sp.diff(-sp.log(SIGMA), Z)}
WHAT = {"d_star": "the D that maximises a log D + b log(1 - D)",
        "dsat_dz": "the derivative of log(1 - sigma(z)) with respect to z",
        "dns_dz": "the derivative of -log(sigma(z)) with respect to z"}


def part1_tests(ctx):
    for name, allowed in [("d_star", {"a": A, "b": B}), ("dsat_dz", {"z": Z}), ("dns_dz", {"z": Z})]:
        answer = ctx.student.get(name, defined_in="part1_answer")
        if not isinstance(answer, sp.Expr):
            raise Fail(f"{name} should be a SymPy expression in {' and '.join(sorted(allowed))}")
        extra = {str(v) for v in answer.free_symbols} - set(allowed)
        if extra:
            raise Fail(f"{name} may contain only {' and '.join(sorted(allowed))}, but it also contains {sorted(extra)}")
        answer = answer.subs({v: allowed[str(v)] for v in answer.free_symbols})   # the symbols with our assumptions
        if not is_zero(answer - WANT[name]):
            raise Fail(f"{name} is not {WHAT[name]}")


def logits(r, n, scale=3.0):
    return scale * r.standard_normal(n)


EXTREME = np.array([-800.0, -60.0, -1e-3, 0.0, 35.0, 800.0])


def part2_discriminator_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2d"))
    st = ctx.student
    cases = [(logits(r, 5), logits(r, 3), ""), (logits(r, 40, 10.0), logits(r, 17, 10.0), ""),
             (EXTREME, r.permutation(EXTREME)[:4], " for logits as large as 800 in size")]
    for zr, zf, big in cases:
        out = items(st.call("discriminator_loss", zr, zf, defined_in="part2_discriminator"), "discriminator_loss", 3)
        loss = number(out[0], f"L_D{big}")
        dr = array(out[1], f"dz_real{big}", zr.shape)
        df = array(out[2], f"dz_fake{big}", zf.shape)
        want = ref.discriminator_loss(zr, zf)
        close(loss, want[0], f"L_D{big}", "the discriminator's loss on new random logits", 1e-10)
        close(dr, want[1], f"dz_real{big}", "dL_D/dz_real on new random logits", 1e-10)
        close(df, want[2], f"dz_fake{big}", "dL_D/dz_fake on new random logits", 1e-10)
        if len(zr) == 5:   # and against finite differences of the student's own forward pass
            num = finite_differences(st, "discriminator_loss", [zr, zf], [0, 1], 1.0)
            close(dr, num[0], "dz_real", "the finite differences of your discriminator_loss", 1e-7)
            close(df, num[1], "dz_fake", "the finite differences of your discriminator_loss", 1e-7)


def part2_generator_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2g"))
    st = ctx.student
    for zf, big in [(logits(r, 6), ""), (logits(r, 50, 10.0), ""), (EXTREME, " for logits as large as 800 in size")]:
        out = items(st.call("generator_loss", zf, defined_in="part2_generator"), "generator_loss", 2)
        loss = number(out[0], f"L_G{big}")
        dz = array(out[1], f"dz_fake{big}", zf.shape)
        want = ref.non_saturating_loss(zf)
        close(loss, want[0], f"L_G{big}", "the non-saturating loss -mean(log sigma(z)) on new random logits", 1e-10)
        close(dz, want[1], f"dz_fake{big}", "dL_G/dz_fake on new random logits", 1e-10)
        if len(zf) == 6:
            num = finite_differences(st, "generator_loss", [zf], [0], 1.0)
            close(dz, num[0], "dz_fake", "the finite differences of your generator_loss", 1e-7)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    cases = [(r.standard_normal(1), r.standard_normal(1)), (r.standard_normal(9), 2.0 + 3.0 * r.standard_normal(9)),
             (r.exponential(size=400), r.standard_normal(400))]
    a = r.standard_normal(30)
    cases.append((a, r.permutation(a) + 1.5))   # the same sample shifted: W1 is the shift
    for a, b in cases:
        got = number(ctx.student.call("wasserstein_1d", a, b, defined_in="part3_answer"), "wasserstein_1d's result")
        close(got, ref.wasserstein_1d(a, b), "wasserstein_1d", f"W1 between two new random samples of size {len(a)}",
              1e-10)


def two_modes(n, r, centres=(-2.0, 2.0), std=0.25):
    return np.asarray(centres)[r.integers(0, len(centres), n)] + std * r.standard_normal(n)


def fresh_experiment(r):
    """The samples of part 4 drawn anew (chapter 8's 1-D mixture: centres -2 and 2, std 0.25).  Over 500
    seeds lib.gan.wasserstein_1d gave w1_covering 0.081 on average (0.015 to 0.295), w1_gaussian 0.90
    (0.84 to 0.98) and w1_collapsed 2.00 (1.78 to 2.20): the windows (below 0.4; 0.75 to 1.05; 1.5 to
    2.5) hold for any seed."""
    n = 1000
    x_real = two_modes(n, r)
    x_covering = two_modes(n, r)
    x_gaussian = x_real.mean() + x_real.std() * r.standard_normal(n)
    x_collapsed = 2.0 + 0.25 * r.standard_normal(n)
    return {"centres": np.array([-2.0, 2.0]), "std": 0.25, "n": n, "x_real": x_real, "x_covering": x_covering,
            "x_gaussian": x_gaussian, "x_collapsed": x_collapsed, "data_rng": {"__rng__": int(r.integers(2**31))}}


FRESH_DATA = {"part4_data": fresh_experiment}
WINDOWS = {"w1_covering": (0.0, 0.4), "w1_gaussian": (0.75, 1.05), "w1_collapsed": (1.5, 2.5)}


def part4_tests(ctx):
    d, st = ctx.data["part4_data"], ctx.student
    got = {name: number(st.get(name, defined_in="part4_answer"), name) for name in RESULTS}
    same = True
    for name in RESULTS:
        other = "x_" + name.split("_")[1]
        try:
            replay = number(st.call("wasserstein_1d", d["x_real"], d[other]), "wasserstein_1d's result")
        except Fail:
            replay = None
        same = same and replay is not None and abs(replay - got[name]) <= 1e-12 * max(1.0, abs(replay))
    if not same:
        ctx.flag("part4_answer: the experiment's results are not what the student's own functions return")
        raise Fail("w1_covering, w1_gaussian and w1_collapsed should be what your wasserstein_1d returns between "
                   "x_real and x_covering, x_gaussian, x_collapsed; on the samples drawn for grading they are not")
    for name in RESULTS:
        other = "x_" + name.split("_")[1]
        close(got[name], ref.wasserstein_1d(d["x_real"], d[other]), name,
              f"the Wasserstein-1 distance between x_real and {other} (check your wasserstein_1d)", 1e-9)
        low, high = WINDOWS[name]
        if not low <= got[name] <= high:   # cannot happen for a correct distance: the windows hold for any seed
            raise Fail(f"{name} is outside the range where the book's reference lands")


CHECKS = {"part1_tests": part1_tests, "part2_discriminator_tests": part2_discriminator_tests,
          "part2_generator_tests": part2_generator_tests, "part3_tests": part3_tests, "part4_tests": part4_tests}
