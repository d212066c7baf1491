"""Submissions for tests/test_assignments.py, made from an assignment's release or source notebook.

DIFFERENT: correct answers written differently from the reference solutions (other formulas,
loops where the reference vectorises and the reverse); they must get full marks.
TAMPERING: one submission per way of cheating that fooled the old in-kernel hidden tests; each
must score at most 10 % and be flagged by the grading report.
"""
import ast
import json
import textwrap

import nbformat


def clone(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def answer_cells(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


DIFFERENT = {
    "01_perceptron": {
        "part1_answer": """
g_sigmoid = sp.expand(s * (1 - s))          # worked out by hand, then checked:
h_tanh = sp.Integer(1) - s * s
assert sp.simplify(g_sigmoid.subs(s, sigma) - sp.diff(sigma, x)) == 0
""",
        "part2_answer": """
def perceptron_predict(x, w, b):
    z = np.dot(x, w) + b
    return np.sign(np.sign(z) + 0.5)          # sign(0) + 0.5 > 0 gives +1
""",
        "part3_answer": """
def perceptron_train(x, y, rng, lr=1.0, max_epochs=100):
    w, b, updates = np.zeros(np.shape(x)[1]), 0.0, 0
    epoch = 0
    while epoch < max_epochs:
        epoch += 1
        errors = 0
        for i in rng.permutation(len(y)):
            if y[i] * (np.dot(x[i], w) + b) <= 0:
                w = w + lr * y[i] * np.asarray(x[i], dtype=float)
                b = b + lr * y[i]
                updates += 1
                errors += 1
        if errors == 0:
            return w, float(b), updates, True
    return w, float(b), updates, False
""",
        "part4_forward": """
def neuron_forward(x, w, b):
    z = np.einsum("nd,d->n", x, w) + b
    a = np.exp(-np.logaddexp(0.0, -z))        # 1 / (1 + e^-z), computed as exp(-log(1 + e^-z))
    return a, {"x": x, "w": w, "a": a}
""",
        "part4_backward": """
def neuron_backward(da, cache):
    a = cache["a"]
    dz = da * a - da * a**2
    dx = dz[:, None] * cache["w"][None, :]
    dw = np.einsum("n,nd->d", dz, cache["x"])
    return dx, dw, float(np.sum(dz))
""",
        "part5_answer": """
w_exp, b_exp, mistakes, converged = perceptron_train(x_train, y_train, np.random.default_rng(0))
test_acc = np.count_nonzero(perceptron_predict(x_test, w_exp, b_exp) == y_test) / len(y_test)
r_squared = np.max(np.sum(x_train**2, axis=1) + 1.0)
gamma = np.min(y_train * (x_train @ u_true[:-1] + u_true[-1])) / np.sqrt(u_true @ u_true)
bound = r_squared / gamma**2
""",
    },
    "02_backprop": {
        "part1_answer": """
grad_loss = sp.Matrix([p1 - 1, p2, p3])
jacobian_softmax = sp.Matrix(3, 3, lambda i, j: (p[i] if i == j else 0) - p[i] * p[j])
""",
        "part2_answer": """
def affine_forward(x, w, b):
    return np.dot(x, w) + b[None, :], {"x": x, "w": w}


def affine_backward(dout, cache):
    dx = np.einsum("nm,dm->nd", dout, cache["w"])
    dw = np.einsum("nd,nm->dm", cache["x"], dout)
    return dx, dw, np.sum(dout, axis=0)
""",
        "part3_forward": """
def softmax_forward(z):
    e = np.exp(z - np.max(z, axis=-1)[:, None])
    p = e / np.sum(e, axis=-1)[:, None]
    return p, (p,)
""",
        "part3_backward": """
def softmax_backward(dp, cache):
    (p,) = cache
    inner = np.einsum("nc,nc->n", dp, p)
    return p * dp - p * inner[:, None]
""",
        "part4_answer": """
def softmax_cross_entropy(z, y):
    n = len(y)
    m = z.max(axis=1, keepdims=True)
    log_p = z - (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))
    onehot = np.zeros_like(z)
    onehot[np.arange(n), y] = 1.0
    return -np.sum(log_p * onehot) / n, (np.exp(log_p) - onehot) / n
""",
        "part5_answer": """
def two_layer_loss(params, x, y):
    h, c1 = affine_forward(x, params["w1"], params["b1"])
    z, c2 = affine_forward(h * (h > 0), params["w2"], params["b2"])
    loss, dz = softmax_cross_entropy(z, y)
    da, dw2, db2 = affine_backward(dz, c2)
    _, dw1, db1 = affine_backward(np.where(h > 0, da, 0.0), c1)
    return loss, dict(w1=dw1, b1=db1, w2=dw2, b2=db2)
""",
        "part6_answer": """
params = dict(w1=init_rng.normal(0.0, 1.0, size=(2, 32)), b1=np.zeros(32),
              w2=init_rng.normal(0.0, np.sqrt(2 / 32), size=(32, 3)), b2=np.zeros(3))
losses = []
for step in range(1000):
    value, grads = two_layer_loss(params, x_train, y_train)
    losses.append(value)
    params = {k: v - grads[k] for k, v in params.items()}
hidden, _ = affine_forward(x_test, params["w1"], params["b1"])
logits, _ = affine_forward(np.maximum(hidden, 0), params["w2"], params["b2"])
test_acc = float((logits.argmax(axis=1) == y_test).mean())
""",
    },
    "03_cnn": {
        "part1_answer": """
dw = [sum(gs[i] * xs[i + k] for i in range(3)) for k in range(3)]
pad_width = 2
flipped_kernel = [ws[2], ws[1], ws[0]]
""",
        "part2_answer": """
def conv2d_forward(x, w, b, stride=1, pad=0):
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwpq,fcpq->nfhw", win, w) + b[None, :, None, None]
    return out, (x, w, stride, pad)
""",
        "part3_answer": """
def conv2d_backward(dout, cache):
    x, w, stride, pad = cache            # loop over kernel offsets instead of output positions
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    ho, wo = dout.shape[2:]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for p in range(w.shape[2]):
        for q in range(w.shape[3]):
            rows = slice(p, p + stride * (ho - 1) + 1, stride)
            cols = slice(q, q + stride * (wo - 1) + 1, stride)
            dw[:, :, p, q] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, p, q])
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))
""",
        "part4_forward": """
def maxpool_forward(x, size=2):
    ho, wo = x.shape[2] // size, x.shape[3] // size
    out = np.empty(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size].max(axis=(2, 3))
    return out, (x, size)
""",
        "part4_backward": """
def maxpool_backward(dout, cache):
    x, size = cache
    n, c, ho, wo = dout.shape
    win = x[:, :, :ho * size, :wo * size].reshape(n, c, ho, size, wo, size).transpose(0, 1, 2, 4, 3, 5)
    win = win.reshape(n, c, ho, wo, size * size)
    mask = np.zeros_like(win)
    np.put_along_axis(mask, win.argmax(axis=-1)[..., None], 1.0, axis=-1)
    grad = (mask * dout[..., None]).reshape(n, c, ho, wo, size, size).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros_like(x)
    dx[:, :, :ho * size, :wo * size] = grad.reshape(n, c, ho * size, wo * size)
    return dx
""",
        "part5_answer": """
w, b = np.zeros((1, 1, 3, 3)), np.zeros(1)
losses = []
for step in range(100):
    out, cache = conv2d_forward(x_img, w, b)
    r = out - y_img
    losses.append(float(np.sum(r**2) / (2 * r.size)))
    grads = conv2d_backward(r / r.size, cache)
    w = w - 0.5 * grads[1]
    b = b - 0.5 * grads[2]
w_learned, b_learned = w, b
""",
    },
}


def different(source, assignment):
    nb = clone(source)
    cells = answer_cells(nb)
    assert set(DIFFERENT[assignment]) == set(cells), "every answer cell needs a different solution"
    for gid, code in DIFFERENT[assignment].items():
        cells[gid].source = code.strip()
    for cell in nb.cells:   # the written answers: a student's text in place of the rubric
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution"):
            cell.source = "My answer: the argument in my own words, for the teacher to grade."
    return nb


# ------------------------------------------------------------------------------------------
# Tampering: each function fills a blank (release) notebook

# the variables each assignment's top-level answer cells define (the SymPy answers, the experiment)
TOP_LEVEL = {
    "01_perceptron": ["g_sigmoid", "h_tanh", "w_exp", "b_exp", "mistakes", "converged", "test_acc", "bound"],
    "02_backprop": ["grad_loss", "jacobian_softmax", "params", "losses", "test_acc"],
    "03_cnn": ["dw", "pad_width", "flipped_kernel", "losses", "w_learned", "b_learned"],
}


def fill_stubs(nb, in_function, top_level, prelude=""):
    """Replace each `raise NotImplementedError()` stub: in a function by in_function(fn_name, args),
    at top level by top_level; prelude goes first in the first answer cell."""
    cells = list(answer_cells(nb).values())
    for cell in cells:
        lines = cell.source.splitlines()
        out, current, args = [], None, []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("def "):
                node = ast.parse(stripped + "\n    pass").body[0]
                current, args = node.name, [a.arg for a in node.args.args]
            if stripped == "raise NotImplementedError()":
                indent = line[: len(line) - len(line.lstrip())]
                code = in_function(current, args) if indent else top_level
                out += [indent + c for c in textwrap.dedent(code).strip().splitlines()]
            else:
                out.append(line)
        cell.source = "\n".join(out)
    cells[0].source = textwrap.dedent(prelude).strip() + "\n" + cells[0].source
    return nb


def tamper_rebind(release, assignment):
    """Redefine the notebook's helpers and numpy's comparisons, so that any in-kernel test passes."""
    prelude = """
    def _always(*args, **kwargs):
        return True
    is_zero = _always
    rel_error = check_layer = lambda *args, **kwargs: 0.0
    np.isclose = np.allclose = np.all = _always
    np.mean = lambda *args, **kwargs: 1.0
    np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
    abs = lambda value: 0.0
    """
    return fill_stubs(clone(release), lambda fn, args: "return np.zeros(3), None",
                      "; ".join(f"{v} = 0" for v in TOP_LEVEL[assignment]), prelude)


def tamper_ast_hook(release, assignment):
    """An IPython AST transformer that wraps every later cell in try/except BaseException."""
    prelude = """
    import ast as _ast
    class _Swallow(_ast.NodeTransformer):
        def visit_Module(self, node):
            handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
            node.body = [_ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
            return _ast.fix_missing_locations(node)
    get_ipython().ast_transformers.append(_Swallow())
    """
    return fill_stubs(clone(release), lambda fn, args: "raise NotImplementedError()", "pass", prelude)


def tamper_trace(release, assignment):
    """sys.settrace, sys.excepthook and a builtins swap (assertions and errors hidden)."""
    prelude = """
    import sys, builtins
    sys.settrace(lambda *args: None)
    sys.excepthook = lambda *args: None
    builtins.AssertionError = type("AssertionError", (Warning,), {})
    builtins.abs = lambda value: 0.0
    """
    return fill_stubs(clone(release), lambda fn, args: "return 0.0", "pass", prelude)


LIB_MODULES = ("perceptron", "linear", "losses", "conv", "activations")


def tamper_lib(release, assignment):
    """Every graded function that lib implements delegates to lib's reference implementation."""
    import importlib

    def delegate(fn, args):
        for mod in LIB_MODULES:
            if hasattr(importlib.import_module(f"lib.{mod}"), fn):
                return f"from lib.{mod} import {fn} as reference\nreturn reference({', '.join(args)})"
        return f"from lib import activations, linear\nraise NotImplementedError()"
    return fill_stubs(clone(release), delegate, "from lib import perceptron, linear, losses, conv")


COPIES = {
    "01_perceptron": "w_exp, b_exp = u_true[:-1].copy(), float(u_true[-1])\nmistakes, converged = 0, True\n"
                     "test_acc = 1.0\nbound = 100.0",
    "02_backprop": "params = {'w1': np.ones((2, 32)), 'b1': np.zeros(32), 'w2': np.ones((32, 3)), 'b2': np.zeros(3)}\n"
                   "losses = list(np.linspace(1.0, 0.1, 1000))\ntest_acc = 0.99",
    "03_cnn": "w_learned, b_learned = w_true.copy(), b_true.copy()\nlosses = [0.0] * 100",
}


def tamper_copy(release, assignment):
    """The experiment's results copied from the targets or typed in; everything else blank."""
    nb = clone(release)
    cell = list(answer_cells(nb).values())[-1]
    cell.source = cell.source.replace("raise NotImplementedError()", COPIES[assignment])
    return nb


def tamper_always_equal(release, assignment):
    """Every answer is a float subclass that compares equal to anything."""
    prelude = """
    class Same(float):
        def __eq__(self, other): return True
        def __ne__(self, other): return False
        def __lt__(self, other): return True
        def __le__(self, other): return True
        def __gt__(self, other): return False
        def __ge__(self, other): return True
        def __abs__(self): return Same(0.0)
        def __bool__(self): return True
        __hash__ = float.__hash__
    """
    return fill_stubs(clone(release), lambda fn, args: "return Same(0.0), Same(0.0), Same(0.0)",
                      "; ".join(f"{v} = Same(1.0)" for v in TOP_LEVEL[assignment]), prelude)


TAMPERING = {"rebind": tamper_rebind, "ast_hook": tamper_ast_hook, "trace": tamper_trace, "lib": tamper_lib,
             "copy": tamper_copy, "always_equal": tamper_always_equal}


# ----- 07_gnn (chapter 7's assignment) -----
DIFFERENT["07_gnn"] = {
    "part1_answer": """
L = sp.Matrix(4, 4, lambda i, j: sum(A.row(i)) if i == j else -A[i, j])
edge_sum = sp.Integer(0)
for i in range(4):
    for j in range(i + 1, 4):
        edge_sum += A[i, j] * (xs[i] - xs[j]) ** 2      # absent edges have A[i, j] = 0
degrees = [2, 3, 2]                                     # of the path with self-loops, counted by hand
a_renorm = sp.Matrix(3, 3, lambda i, j: sp.sqrt(sp.Rational(1, degrees[i] * degrees[j])) if abs(i - j) <= 1 else 0)
""",
    "part2_answer": """
def renormalize(a):
    m = a + np.identity(a.shape[0])
    d = np.diag(m.sum(axis=0) ** -0.5)
    return d @ m @ d


def gcn_forward(x, a_hat, w, b):
    out = np.einsum("ij,jd,dm->im", a_hat, x, w) + b[None, :]
    return out, {"x": x, "a": a_hat, "w": w}
""",
    "part3_answer": """
def gcn_backward(dout, cache):
    x, a, w = cache["x"], cache["a"], cache["w"]
    dx = np.einsum("ji,jm,dm->id", a, dout, w)
    dw = np.einsum("ij,jd,im->dm", a, x, dout)
    return dx, dw, np.einsum("im->m", dout)
""",
    "part4_answer": """
def train_gcn(a_hat, x, y, labelled, rng, hidden=32, lr=0.3, epochs=200):
    d = x.shape[1]
    w1 = np.sqrt(2.0 / d) * rng.standard_normal((d, hidden))
    w2 = np.sqrt(2.0 / hidden) * rng.standard_normal((hidden, 2))
    b1, b2 = np.zeros(hidden), np.zeros(2)
    onehot = np.zeros((len(y), 2))
    onehot[labelled, y[labelled]] = 1.0
    mask = np.zeros((len(y), 1))
    mask[labelled] = 1.0 / len(labelled)
    losses = []
    for epoch in range(epochs):
        pre, c1 = gcn_forward(x, a_hat, w1, b1)
        z, c2 = gcn_forward(pre * (pre > 0), a_hat, w2, b2)
        log_p = z - np.logaddexp(z[:, :1], z[:, 1:])
        losses.append(-float(np.sum(mask * onehot * log_p)))
        g_hidden, g_w2, g_b2 = gcn_backward(mask * (np.exp(log_p) - onehot), c2)
        g_x, g_w1, g_b1 = gcn_backward(np.where(pre > 0, g_hidden, 0.0), c1)
        w1 = w1 - lr * g_w1
        b1 = b1 - lr * g_b1
        w2 = w2 - lr * g_w2
        b2 = b2 - lr * g_b2
    return w1, b1, w2, b2, losses


a_hat = renormalize(adj)
w1, b1, w2, b2, losses = train_gcn(a_hat, x_feat, y, labelled, np.random.default_rng(0))
hidden_club = np.maximum(a_hat @ x_feat @ w1 + b1, 0.0)
guess = (a_hat @ hidden_club @ w2 + b2).argmax(axis=1)
others = [k for k in range(len(y)) if k not in set(labelled.tolist())]
test_acc = sum(int(guess[k] == y[k]) for k in others) / len(others)
""",
}
TOP_LEVEL["07_gnn"] = ["L", "edge_sum", "a_renorm", "a_hat", "w1", "b1", "w2", "b2", "losses", "test_acc"]
COPIES["07_gnn"] = ("w1, b1, w2, b2 = np.eye(34, 32), np.zeros(32), np.ones((32, 2)), np.zeros(2); "
                    "losses = [0.0] * 200; test_acc = np.mean(y == y)")
LIB_MODULES += ("graph",)   # tamper_lib delegates gcn_forward and gcn_backward to lib.graph
# ----- end of 07_gnn -----
# ------------------------------------------------------------------------------------------
# 08_gan (chapter 8): its own block, so that the additions for other assignments merge cleanly

DIFFERENT["08_gan"] = {
    "part1_answer": """
d_star = a / (a + b)                      # by hand: a / D = b / (1 - D), checked below
assert sp.simplify(sp.diff(objective, D).subs(D, d_star)) == 0
dsat_dz = -1 / (1 + sp.exp(-z))
dns_dz = -sp.exp(-z) / (1 + sp.exp(-z))
""",
    "part2_discriminator": """
def discriminator_loss(z_real, z_fake):
    def softplus(t):                      # log(1 + e^t) without overflow
        return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))

    def sig(t):
        e = np.exp(-np.abs(t))
        return np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    n, m = len(z_real), len(z_fake)
    loss = softplus(-z_real).sum() / n + softplus(z_fake).sum() / m
    return loss, -sig(-z_real) / n, sig(z_fake) / m
""",
    "part2_generator": """
def generator_loss(z_fake):
    total, grad = 0.0, np.zeros(len(z_fake))
    for i, t in enumerate(z_fake):
        if t >= 0:
            total += np.log1p(np.exp(-t))
            grad[i] = -np.exp(-t) / (1.0 + np.exp(-t))
        else:
            total += -t + np.log1p(np.exp(t))
            grad[i] = -1.0 / (1.0 + np.exp(t))
    return total / len(z_fake), grad / len(z_fake)
""",
    "part3_answer": """
def wasserstein_1d(a, b):
    pairs = zip(sorted(a), sorted(b))
    return sum(abs(p - q) for p, q in pairs) / len(a)
""",
    "part4_answer": """
w1_covering, w1_gaussian, w1_collapsed = (wasserstein_1d(x_real, other)
                                          for other in (x_covering, x_gaussian, x_collapsed))
""",
}
TOP_LEVEL["08_gan"] = ["d_star", "dsat_dz", "dns_dz", "w1_covering", "w1_gaussian", "w1_collapsed"]
COPIES["08_gan"] = "w1_covering = 0.09\nw1_gaussian = float(x_real.std() - x_gaussian.std() + 0.74)\nw1_collapsed = 2.0"
LIB_MODULES = LIB_MODULES + ("gan",)   # tamper_lib: delegate to lib.gan's losses and distance too
# ---- 09_rl (chapter 9): its own block, so that merging other assignments' entries stays clean ----
DIFFERENT["09_rl"] = {
    "part1_answer": """
P_pi = sp.Matrix([[0, 1, 0], [1, 0, 1], [0, 1, 0]]) / 2      # the uniform policy's moves inside the corridor
r_pi = sp.Matrix([1, 0, 2]) / 2                                  # only the exits pay
v_pi = sp.simplify((sp.eye(3) - gamma * P_pi).inv() * r_pi)


def q_entry(s, a):
    nxt = s - 1 if a == 0 else s + 1
    if nxt < 0:
        return sp.Integer(1)
    if nxt > 2:
        return sp.Integer(2)
    return gamma * v_pi[nxt]


q_pi = sp.Matrix(3, 2, q_entry)
""",
    "part2_forward": """
def categorical_forward(z, actions):
    rows = np.arange(np.shape(z)[0])
    log_norm = np.logaddexp.reduce(z, axis=1)             # log sum_j exp(z_j), computed stably
    probs = np.exp(z - log_norm[:, None])
    return z[rows, actions] - log_norm, {"p": probs, "a": np.asarray(actions)}
""",
    "part2_backward": """
def categorical_backward(dlogp, cache):
    onehot = np.eye(cache["p"].shape[1])[cache["a"]]
    return (onehot - cache["p"]) * np.reshape(dlogp, (-1, 1))
""",
    "part3_answer": """
import itertools


def value_iteration(p, r, gamma, tol=1e-10):
    v = np.zeros(len(r))
    for sweeps in itertools.count(1):
        q = r + gamma * np.einsum("sat,t->sa", p, v)
        v, old = q.max(axis=1), v
        if np.abs(v - old).max() <= tol:
            break
    q = r + gamma * np.einsum("sat,t->sa", p, v)
    policy = np.zeros_like(r)
    policy[np.arange(len(r)), q.argmax(axis=1)] = 1.0
    return v, policy, sweeps
""",
    "part4_answer": """
v_lake, policy_lake, sweeps_lake = value_iteration(p_lake, r_lake, GAMMA)
chosen = policy_lake.argmax(axis=1)
states = np.arange(len(r_lake))
system = np.identity(len(states)) - GAMMA * p_lake[states, chosen, :]
v_greedy = np.linalg.solve(system, r_lake[states, chosen])
""",
}
TOP_LEVEL["09_rl"] = ["v_pi", "q_pi", "v_lake", "policy_lake", "sweeps_lake", "v_greedy"]
COPIES["09_rl"] = ("v_lake = np.full(len(r_lake), 0.5)\npolicy_lake = np.eye(4)[np.zeros(len(r_lake), dtype=int)]\n"
                   "sweeps_lake = 200\nv_greedy = v_lake.copy()")
LIB_MODULES += ("rl",)   # tamper_lib: delegate value_iteration and the categorical policy to lib.rl
# ---- end of 09_rl ----
# ---- 06_attention (chapter 6): its own block, so that merging other assignments' entries stays clean ----
DIFFERENT["06_attention"] = {
    "part1_answer": """
total = sum(sp.exp(zj) for zj in z)
jac_softmax = sp.zeros(3, 3)
for i in range(3):
    for j in range(3):   # by hand: d/dz_j e^{z_i} / S = p_i (1[i = j] - p_j)
        jac_softmax[i, j] = sp.exp(z[i]) / total * ((1 if i == j else 0) - sp.exp(z[j]) / total)
c, s = sp.cos(omega * k), sp.sin(omega * k)
rotation = sp.Matrix([[c, s], [-s, c]])
""",
    "part2_answer": """
def attention_forward(q, k, v, mask=None):
    scores = np.einsum("bid,bjd->bij", q, k) / np.sqrt(q.shape[2])
    allowed = np.ones(scores.shape[1:], bool) if mask is None else np.asarray(mask, bool)
    top = np.max(np.where(allowed, scores, -np.inf), axis=2, keepdims=True)
    e = np.where(allowed, np.exp(np.where(allowed, scores - top, 0.0)), 0.0)   # masked keys: exactly 0
    weights = e / np.sum(e, axis=2, keepdims=True)
    return np.einsum("bij,bjd->bid", weights, v), {"w": weights, "q": q, "k": k, "v": v}
""",
    "part3_answer": """
def attention_backward(dout, cache):
    w, q, k, v = cache["w"], cache["q"], cache["k"], cache["v"]
    dv = np.einsum("bij,bid->bjd", w, dout)
    dw = np.einsum("bid,bjd->bij", dout, v)
    inner = np.einsum("bij,bij->bi", dw, w)[:, :, None]
    dscores = w * dw - w * inner
    dscores = dscores / np.sqrt(q.shape[2])
    return np.einsum("bij,bjd->bid", dscores, k), np.einsum("bij,bid->bjd", dscores, q), dv
""",
    "part4_answer": """
def train_reverser(pe, x, y, rng, lr=2.0, epochs=150):
    n, t = x.shape
    width = pe.shape[1]
    wq = 0.5 * rng.standard_normal((width, width))
    wk = 0.5 * rng.standard_normal((width, width))
    values = np.zeros((n, t, V))
    values[np.arange(n)[:, None], np.arange(t)[None, :], x] = 1.0
    rows, cols = np.arange(n)[:, None], np.arange(t)[None, :]
    losses = []
    for epoch in range(epochs):
        queries = np.repeat((pe @ wq)[None], n, axis=0)
        keys = np.repeat((pe @ wk)[None], n, axis=0)
        out, cache = attention_forward(queries, keys, values)
        target_prob = out[rows, cols, y]
        losses.append(float(np.sum(-np.log(target_prob)) / (n * t)))
        grad_out = np.zeros(out.shape)
        grad_out[rows, cols, y] = -1.0 / (n * t) / target_prob
        dq, dk, dv = attention_backward(grad_out, cache)
        wq = wq - lr * np.einsum("td,ntm->dm", pe, dq)
        wk = wk - lr * np.einsum("td,ntm->dm", pe, dk)
    return wq, wk, losses


wq, wk, losses = train_reverser(pe, x_train, y_train, np.random.default_rng(0))
correct = 0
for seq, target in zip(x_test, y_test):
    out_one, _ = attention_forward((pe @ wq)[None], (pe @ wk)[None], np.eye(V)[seq][None])
    correct += int(all(out_one[0].argmax(axis=1) == target))
test_acc = correct / len(x_test)
""",
}
TOP_LEVEL["06_attention"] = ["jac_softmax", "rotation", "wq", "wk", "losses", "test_acc"]
COPIES["06_attention"] = "wq = np.eye(D)\nwk = np.eye(D)[::-1]\nlosses = [0.0] * 150\ntest_acc = 1.0"
LIB_MODULES += ("attention",)   # tamper_lib: delegate attention_forward and attention_backward to lib.attention
# ---- end of 06_attention ----
# ---- 04_rbm_dbn (chapter 4): its own block, so that merging other assignments' entries stays clean ----
DIFFERENT["04_rbm_dbn"] = {
    "part1_answer": """
z = c + w1 * v1 + w2 * v2                 # worked out by hand: the b.v factor cancels
p_h_on = 1 / (1 + sp.exp(-z))
free_energy_expr = -(b1 * v1 + b2 * v2) - sp.log(1 + sp.exp(z))
dF_dw1 = -v1 * sp.exp(z) / (1 + sp.exp(z))
assert sp.simplify(p_h_on - sp.exp(-energy(1)) / (sp.exp(-energy(0)) + sp.exp(-energy(1)))) == 0
""",
    "part2_forward": """
def free_energy_forward(v, w, b, c):
    z = np.dot(v, w) + c[None, :]
    soft = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))   # log(1 + e^z) without overflow
    return -(v * b).sum(axis=1) - soft.sum(axis=1), {"v": v, "z": z}
""",
    "part2_backward": """
def free_energy_backward(dout, cache):
    v, z = cache["v"], cache["z"]
    sig = 0.5 * (1.0 + np.tanh(0.5 * z))      # sigma(z), finite for any z
    dw = np.zeros((v.shape[1], z.shape[1]))
    for n in range(len(v)):
        dw -= dout[n] * np.outer(v[n], sig[n])
    return dw, -(dout[:, None] * v).sum(axis=0), -(dout[:, None] * sig).sum(axis=0)
""",
    "part3_answer": """
def log_partition(w, b, c):
    import itertools
    states = np.array(list(itertools.product([0.0, 1.0], repeat=w.shape[0])))
    f = free_energy_forward(states, w, b, c)[0]
    return float(-f.min() + np.log(np.exp(-(f - f.min())).sum()))
""",
    "part4_answer": """
def exact_gradient(v, w, b, c):
    import itertools
    d = w.shape[0]
    states = np.array(list(itertools.product([0.0, 1.0], repeat=d)))
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))
    log_p = -free_energy_forward(states, w, b, c)[0] - log_partition(w, b, c)
    p = np.exp(log_p)
    ph_data, ph_model = sig(v @ w + c), sig(states @ w + c)
    dw = v.T @ ph_data / len(v) - (states * p[:, None]).T @ ph_model
    db = v.mean(axis=0) - p @ states
    dc = ph_data.mean(axis=0) - p @ ph_model
    return dw, db, dc
""",
    "part5_answer": """
def train_exact(v, n_hidden, rng, steps, lr):
    params = [0.1 * rng.standard_normal((v.shape[1], n_hidden)), np.zeros(v.shape[1]), np.zeros(n_hidden)]
    step = 0
    while step < steps:
        grads = exact_gradient(v, *params)
        params = [p + lr * g for p, g in zip(params, grads)]
        step += 1
    return tuple(params)


w_fit, b_fit, c_fit = train_exact(v_train, 4, np.random.default_rng(0), 200, 0.5)
ll_fit = float(-free_energy_forward(v_train, w_fit, b_fit, c_fit)[0].mean() - log_partition(w_fit, b_fit, c_fit))
p_ones = v_train.mean(axis=0)
ll_independent = float(np.sum(p_ones * np.log(p_ones) + (1 - p_ones) * np.log(1 - p_ones)))
""",
}
TOP_LEVEL["04_rbm_dbn"] = ["p_h_on", "free_energy_expr", "dF_dw1", "w_fit", "b_fit", "c_fit", "ll_fit"]
COPIES["04_rbm_dbn"] = ("w_fit, b_fit, c_fit = np.zeros((6, 4)), np.zeros(6), np.zeros(4); "
                        "ll_fit = float(v_train.mean() - 3.1)")
LIB_MODULES += ("energy",)   # tamper_lib: delegate free_energy_forward/backward, log_partition, exact_gradient
# ---- end of 04_rbm_dbn ----
# ---- 05_rnn_lstm (chapter 5): its own block, so that merging other assignments' entries stays clean ----
DIFFERENT["05_rnn_lstm"] = {
    "part1_answer": """
tanh_prime = lambda h: 1 - h * h               # tanh'(a) written with the state h = tanh(a)
delta2 = tanh_prime(h2)
delta1 = tanh_prime(h1) * w_h * delta2
dL_dwh = h0 * delta1 + h1 * delta2
assert is_zero(sp.diff(L, w_h) - dL_dwh)
dh2_dh0 = sp.Mul(*[w_h * tanh_prime(h) for h in (h1, h2)])
""",
    "part2_answer": """
def rnn_forward(x, h0, wx, wh, b):
    states = []
    h = np.asarray(h0, dtype=float)
    xw = np.einsum("ntd,dh->nth", x, wx) + b      # the input part of every step at once
    for t in range(x.shape[1]):
        h = np.tanh(xw[:, t, :] + np.dot(h, wh))
        states.append(h)
    return np.stack(states, axis=1), {"x": x, "h0": h0, "wx": wx, "wh": wh, "h": np.stack(states, axis=1)}
""",
    "part3_answer": """
def rnn_backward(dh, cache):
    x, wx, wh, h = cache["x"], cache["wx"], cache["wh"], cache["h"]
    previous = np.concatenate([cache["h0"][:, None, :], h[:, :-1, :]], axis=1)
    deltas = np.zeros_like(h)
    back = np.zeros(h.shape[::2])
    for t in range(h.shape[1] - 1, -1, -1):
        deltas[:, t] = (1.0 - np.square(h[:, t])) * (back + dh[:, t])
        back = np.dot(deltas[:, t], wh.T)
    dx = np.einsum("nth,dh->ntd", deltas, wx)
    dwx = np.einsum("ntd,nth->dh", x, deltas)
    dwh = np.einsum("ntk,nth->kh", previous, deltas)
    return dx, back, dwx, dwh, deltas.sum(axis=(0, 1))
""",
    "part4_answer": """
def train_rnn(x, y, rng, hidden=16, lr=0.5, epochs=300, clip=5.0):
    n, steps, d = x.shape
    params = {"wx": rng.standard_normal((d, hidden)) * np.sqrt(1 / d)}
    params["wh"] = rng.standard_normal((hidden, hidden)) * np.sqrt(1 / hidden)
    params["wo"] = rng.standard_normal((hidden, 3)) * np.sqrt(1 / hidden)
    params["b"], params["bo"] = np.zeros(hidden), np.zeros(3)
    targets = np.eye(3)[y]
    losses = []
    for epoch in range(epochs):
        states, cache = rnn_forward(x, np.zeros((n, hidden)), params["wx"], params["wh"], params["b"])
        last = states[:, steps - 1, :]
        z = last @ params["wo"] + params["bo"]
        log_p = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        losses.append(-float(np.sum(targets * log_p)) / n)
        dz = (np.exp(log_p) - targets) / n
        upstream = np.zeros_like(states)
        upstream[:, steps - 1, :] = dz @ params["wo"].T
        grads = dict(zip(("wx", "wh", "b"), rnn_backward(upstream, cache)[2:]))
        grads["wo"], grads["bo"] = last.T @ dz, dz.sum(axis=0)
        total = np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
        scale = min(1.0, clip / total)
        for k in params:
            params[k] = params[k] - lr * scale * grads[k]
    return params["wx"], params["wh"], params["b"], params["wo"], params["bo"], losses


wx, wh, b, wo, bo, losses = train_rnn(x_train, y_train, np.random.default_rng(0))
final_states, _ = rnn_forward(x_test, np.zeros((len(x_test), 16)), wx, wh, b)
guess = np.argmax(final_states[:, -1] @ wo + bo, axis=1)
test_acc = sum(int(g == t) for g, t in zip(guess, y_test)) / len(y_test)
""",
}
TOP_LEVEL["05_rnn_lstm"] = ["delta2", "delta1", "dL_dwh", "dh2_dh0", "wx", "wh", "b", "wo", "bo", "losses", "test_acc"]
COPIES["05_rnn_lstm"] = ("wx, wh, b, wo, bo = np.ones((3, 16)), np.eye(16), np.zeros(16), np.ones((16, 3)), "
                         "np.zeros(3); losses = [0.0] * 300; test_acc = np.mean(y_test == y_test)")
LIB_MODULES += ("recurrent",)   # tamper_lib delegates rnn_forward and rnn_backward to lib.recurrent
# ---- end of 05_rnn_lstm ----
