"""Checks of assignment 09_rl (see checks_01_perceptron.py for the conventions)."""
import numpy as np
import sympy as sp

from lib import rl as ref
from lib.symbolic import is_zero

from .trusted import Fail, array, close, finite_differences, items, number

ALLOWED_LIB = ("gradcheck", "symbolic", "ledger")   # what the setup cell imports (symbolic imports ledger)
RESULTS = ("v_lake", "policy_lake", "sweeps_lake", "v_greedy")

GAMMA_SYM = sp.Symbol("gamma", positive=True)


def corridor():
    """The corridor of Part 1 as exact SymPy matrices: V = (I - gamma P_pi)^-1 r_pi, and Q."""
    half = sp.Rational(1, 2)
    # p[s][a] = next cell (None: the episode ends), reward
    moves = {0: [(None, 1), (1, 0)], 1: [(0, 0), (2, 0)], 2: [(1, 0), (None, 2)]}
    p_pi, r_pi = sp.zeros(3, 3), sp.zeros(3, 1)
    for s, acts in moves.items():
        for nxt, rew in acts:
            r_pi[s] += half * rew
            if nxt is not None:
                p_pi[s, nxt] += half
    v = (sp.eye(3) - GAMMA_SYM * p_pi).LUsolve(r_pi).applyfunc(sp.factor)
    q = sp.Matrix([[rew + (GAMMA_SYM * v[nxt] if nxt is not None else 0) for nxt, rew in moves[s]] for s in range(3)])
    return v, q


def matrix_in_gamma(ctx, name, shape):
    m = ctx.student.get(name, defined_in="part1_answer")
    if not isinstance(m, sp.MatrixBase):
        raise Fail(f"{name} should be a SymPy Matrix")
    if m.shape != shape:
        raise Fail(f"{name} should be a {shape[0]}x{shape[1]} Matrix, got shape {m.shape}")
    extra = {str(v) for v in m.free_symbols} - {"gamma"}
    if extra:
        raise Fail(f"{name} may contain only the symbol gamma, but it also contains {sorted(extra)}")
    if m.atoms(sp.Float):
        raise Fail(f"{name} contains floating-point numbers: keep it exact (sp.Rational(1, 2), not 0.5)")
    return m.subs({v: GAMMA_SYM for v in m.free_symbols})   # gamma with whatever assumptions


def part1_tests(ctx):
    v_want, q_want = corridor()
    v = matrix_in_gamma(ctx, "v_pi", (3, 1))
    if not is_zero(v - v_want):
        raise Fail("v_pi does not solve the corridor's Bellman expectation equations under the uniform policy "
                   "for every gamma: check the exits' rewards (1 on the left, 2 on the right) and the 1/2 weights")
    q = matrix_in_gamma(ctx, "q_pi", (3, 2))
    if not is_zero(q - q_want):
        raise Fail("q_pi is not r(s, a) + gamma V_pi(s') for every cell and action (rows: cells 0, 1, 2; "
                   "columns: left, right; an exit has no future value)")


def part2_forward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2f"))
    for n, c, scale in [(9, 4, 1.0), (1, 2, 1.0), (12, 5, 1e3)]:
        z, actions = scale * r.standard_normal((n, c)), r.integers(0, c, size=n)
        big = " for logits in the thousands (subtract each row's maximum)" if scale > 1 else ""
        out = items(ctx.student.call("categorical_forward", z, actions, defined_in="part2_forward"),
                    "categorical_forward", 2)
        logp = array(out[0], f"logp (categorical_forward's output{big})", (n,))
        close(logp, ref.categorical_forward(z, actions)[0], "logp",
              f"log pi(a | z) on new random logits{big}", 1e-10 if scale == 1 else 1e-9)


def part2_backward_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part2b"))
    st = ctx.student
    for n, c in [(5, 3), (14, 6)]:
        z, actions, up = 2 * r.standard_normal((n, c)), r.integers(0, c, size=n), r.standard_normal(n)
        out = items(st.call("categorical_forward", z, actions, keep=1, defined_in="part2_forward"),
                    "categorical_forward", 2)
        dz = array(st.call("categorical_backward", up, out[1], defined_in="part2_backward"), "dz", (n, c))
        _, cache = ref.categorical_forward(z, actions)
        close(dz, ref.categorical_backward(up, cache), "dz", "dL/dz = dlogp (onehot(a) - softmax(z)) on new random inputs")
        if n == 5:   # and against finite differences of the student's own forward pass
            num = finite_differences(st, "categorical_forward", [z, actions], [0], up)
            close(dz, num[0], "dz", "the finite differences of your categorical_forward", 1e-7)


def random_mdp(r, n_states, n_actions, end=0.1):
    """A random table: each (s, a) continues with probability 1 - end, spread over a few states."""
    p = r.random((n_states, n_actions, n_states)) ** 4
    p *= (1 - end * r.random((n_states, n_actions, 1))) / p.sum(axis=2, keepdims=True)
    return p, r.standard_normal((n_states, n_actions))


def student_vi(ctx, p, r, gamma, **kw):
    out = items(ctx.student.call("value_iteration", p, r, gamma, defined_in="part3_answer", **kw),
                "value_iteration", 3)
    v = array(out[0], "v (value_iteration's first result)", (len(r),))
    policy = array(out[1], "policy (value_iteration's second result)", r.shape)
    sweeps = number(out[2], "sweeps (value_iteration's third result)", "a single int")
    if sweeps != int(sweeps):
        raise Fail("sweeps should be an int, the number of sweeps made")
    return v, policy, int(sweeps)


def part3_tests(ctx):
    r = np.random.default_rng(ctx.seed_for("part3"))
    for n_states, n_actions, gamma, tol in [(6, 3, 0.9, 1e-10), (15, 4, 0.8, 1e-6), (1, 2, 0.5, 1e-10)]:
        p, rew = random_mdp(r, n_states, n_actions)
        v, policy, sweeps = student_vi(ctx, p, rew, gamma, tol=tol)
        v_ref, _, changes = ref.value_iteration(p, rew, gamma, tol=tol)
        if sweeps != len(changes):
            raise Fail(f"on a new random table (tol={tol:g}) the number of sweeps is not what value iteration from "
                       "V = 0 makes, stopping after the first sweep whose largest change is at most tol")
        close(v, v_ref, "v", f"the values after those sweeps on a new random table (tol={tol:g})", 1e-12)
        q = ref.q_from_v(p, rew, v_ref, gamma)
        if not np.all((policy == 0) | (policy == 1)) or not np.all(policy.sum(axis=1) == 1):
            raise Fail("policy should hold 0/1 entries with exactly one 1 per row")
        if not np.array_equal(policy.argmax(axis=1), q.argmax(axis=1)):
            raise Fail("policy is not greedy for the returned values on a new random table "
                       "(the action with the largest r + gamma p @ v in each state, ties to the lowest)")


# -- the experiment: a lake drawn at grading time (the same code as the notebook's locked cell) --

MOVES = ref.MOVES   # left, down, right, up, as in the notebook
GAMMA = 0.95


def make_lake(rows):
    n_rows, n_cols = len(rows), len(rows[0])
    p, r = np.zeros((n_rows * n_cols, 4, n_rows * n_cols)), np.zeros((n_rows * n_cols, 4))
    for i in range(n_rows):
        for j in range(n_cols):
            if rows[i][j] in "HG":
                continue
            for a in range(4):
                for side in (a - 1, a, a + 1):
                    di, dj = MOVES[side % 4]
                    ni, nj = min(max(i + di, 0), n_rows - 1), min(max(j + dj, 0), n_cols - 1)
                    if rows[ni][nj] == "G":
                        r[i * n_cols + j, a] += 1 / 3
                    elif rows[ni][nj] != "H":
                        p[i * n_cols + j, a, ni * n_cols + nj] += 1 / 3
    return p, r


def draw_lake(rng, size=5, holes=0.2):
    while True:
        cells = np.where(rng.random((size, size)) < holes, "H", "F")
        cells[0, 0], cells[-1, -1] = "S", "G"
        rows = ["".join(row) for row in cells]
        seen, todo = {(0, 0)}, [(0, 0)]
        while todo:
            i, j = todo.pop()
            for di, dj in MOVES:
                ni, nj = i + di, j + dj
                if 0 <= ni < size and 0 <= nj < size and rows[ni][nj] != "H" and (ni, nj) not in seen:
                    seen.add((ni, nj))
                    todo.append((ni, nj))
        if (size - 1, size - 1) in seen:
            return rows


def fresh_experiment(r):
    """A lake drawn anew.  Measured on 500 lakes (draw_lake with default_rng(0..499)): lib.rl's value
    iteration (tol 1e-10, gamma 0.95) needed 154 to 309 sweeps, and the exact value at the start of its
    greedy policy differed from the optimum (value iteration to 1e-15) by at most 2e-14, on every lake
    (the check allows 1e-8 below it); the optimum at the start ranged from 0.007 to 0.36."""
    lake_rows = draw_lake(r)
    p_lake, r_lake = make_lake(lake_rows)
    return {"data_rng": {"__rng__": int(r.integers(2**31))}, "lake_rows": lake_rows,
            "p_lake": p_lake, "r_lake": r_lake}


FRESH_DATA = {"part4_data": fresh_experiment}


def part4_tests(ctx):
    d, st = ctx.data["part4_data"], ctx.student
    p, r = d["p_lake"], d["r_lake"]
    n = len(r)
    get = {name: st.get(name, defined_in="part4_answer") for name in RESULTS}
    v_lake = array(get["v_lake"], "v_lake", (n,))
    policy_lake = array(get["policy_lake"], "policy_lake", (n, 4))
    sweeps_lake = number(get["sweeps_lake"], "sweeps_lake")
    v_greedy = array(get["v_greedy"], "v_greedy", (n,))
    try:   # the experiment, replayed with the student's own value_iteration on the lake drawn for grading
        v, policy, sweeps = student_vi(ctx, p, r, GAMMA)
        same = np.array_equal(v, v_lake) and np.array_equal(policy, policy_lake) and sweeps == sweeps_lake
    except Fail:
        same = False
    if not same:
        ctx.flag("part4_answer: the experiment's results are not what the student's own functions return")
        raise Fail("v_lake, policy_lake and sweeps_lake should be what your value_iteration returns on "
                   "(p_lake, r_lake, GAMMA); on the lake drawn for grading they are not")
    if not np.all((policy_lake == 0) | (policy_lake == 1)) or not np.all(policy_lake.sum(axis=1) == 1):
        raise Fail("policy_lake should hold 0/1 entries with exactly one 1 per row")
    v_true, _ = ref.policy_evaluation(p, r, policy_lake, GAMMA, tol=1e-14)
    close(v_greedy, v_true, "v_greedy", "the exact value of policy_lake (its Bellman expectation equations)", 1e-9)
    v_star = ref.value_iteration(p, r, GAMMA, tol=1e-14)[0]
    if not v_true[0] >= v_star[0] - 1e-8:
        raise Fail("the greedy policy is not optimal from the start: its value at S is more than 1e-8 below the "
                   "best possible")
    close(v_lake, v_star, "v_lake", "the optimal values of the lake", 1e-6)


CHECKS = {"part1_tests": part1_tests, "part2_forward_tests": part2_forward_tests,
          "part2_backward_tests": part2_backward_tests, "part3_tests": part3_tests, "part4_tests": part4_tests}
