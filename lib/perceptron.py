"""The McCulloch-Pitts neuron and Rosenblatt's perceptron (chapter 1).

A perceptron aggregates, z = x . w + b, then activates, y_hat = sign(z).  Its learning rule
is stochastic subgradient descent on the perceptron criterion max(0, -y z), and on linearly
separable data it makes at most (R / gamma)^2 mistakes (Novikoff), where R and gamma are
measured with the bias folded into the weights (``augment``).
"""
import numpy as np

from lib.activations import sign, step


def mp_neuron(x, w, theta):
    """McCulloch-Pitts unit: y = step(x @ w - theta), with fixed w and theta (nothing is learned).

    x: (N, D) or (D,) of 0/1 inputs; w: (D,); theta: scalar.  Returns y of shape (N,) or ().
    """
    x = np.asarray(x, dtype=float)
    if x.shape[-1] != len(w):
        raise ValueError(f"mp_neuron expects inputs with {len(w)} features, got shape {x.shape}")
    return step(x @ np.asarray(w, dtype=float) - theta)


def _check_x_w(name, x, w):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(w):
        raise ValueError(f"{name} expects x of shape (N, {len(w)}), got {x.shape}")
    return x


def perceptron_score(x, w, b):
    """The aggregation z = x @ w + b.  x: (N, D); w: (D,); b: scalar.  Returns z (N,)."""
    return _check_x_w("perceptron_score", x, w) @ np.asarray(w, dtype=float) + b


def perceptron_predict(x, w, b):
    """y_hat = sign(x @ w + b): aggregation, then activation.  x: (N, D); w: (D,); b: scalar."""
    x = _check_x_w("perceptron", x, w)
    return sign(x @ w + b)


def perceptron_loss(x, y, w, b):
    """The perceptron criterion L = (1/N) sum_n max(0, -y_n z_n) with z = x @ w + b, and a subgradient.

    x: (N, D); y: (N,) in {-1, +1}; w: (D,); b: scalar.  Returns L, dw (D,), db.
    A point with y z <= 0 contributes -y x to N dw and -y to N db.  At the kink y z = 0 any
    multiple t (-y x), 0 <= t <= 1, is a subgradient; taking t = 1 makes one step of size lr on a
    single point exactly Rosenblatt's update, which is what lets training start from w = 0.
    """
    x = _check_x_w("perceptron_loss", x, w)
    y = np.asarray(y, dtype=float)
    if y.shape != (x.shape[0],):
        raise ValueError(f"perceptron_loss expects y of shape ({x.shape[0]},), got {y.shape}")
    n = x.shape[0]
    yz = y * (x @ w + b)
    dz = np.where(yz <= 0, -y, 0.0) / n
    return float(np.sum(np.maximum(0.0, -yz)) / n), x.T @ dz, float(dz.sum())


def perceptron_train(x, y, rng, lr=1.0, max_epochs=100, history=None):
    """Rosenblatt's rule: for each misclassified (x_i, y_i), w <- w + lr y_i x_i and b <- b + lr y_i.

    x: (N, D); y: (N,) in {-1, +1}; rng shuffles the order each epoch.
    history: an optional list; each update appends (epoch, i, w, b) with the weights after it.
    Returns w (D,), b, the number of updates (mistakes), and whether an epoch passed without one.
    The bias is a weight on a constant input 1, so this run is the same as a run without bias on
    augment(x); the mistake bound is stated for that augmented problem.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"perceptron_train expects x (N, D) and y (N,), got {x.shape} and {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("perceptron_train expects labels in {-1, +1}")
    w, b, mistakes = np.zeros(x.shape[1]), 0.0, 0
    for epoch in range(max_epochs):
        clean = True
        for i in rng.permutation(len(x)):
            if y[i] * (x[i] @ w + b) <= 0:  # on the boundary counts as a mistake, so training starts at w = 0
                w += lr * y[i] * x[i]
                b += lr * y[i]
                mistakes += 1
                clean = False
                if history is not None:
                    history.append((epoch, int(i), w.copy(), b))
        if clean:
            return w, b, mistakes, True
    return w, b, mistakes, False


def augment(x):
    """Append a constant feature 1: x (N, D) -> (N, D + 1), so x . w + b = augment(x) . (w, b)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"augment expects x of shape (N, D), got {x.shape}")
    return np.column_stack([x, np.ones(len(x))])


def signed_distance(x, w, b=0.0):
    """(x . w + b) / ||w||: the signed distance of each row of x (N, D) to the hyperplane x . w + b = 0."""
    w = np.asarray(w, dtype=float)
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("signed_distance needs w != 0: the hyperplane x . w + b = 0 is undefined for w = 0")
    return perceptron_score(x, w, b) / norm


def margin(x, y, w, b=0.0):
    """gamma = min_i y_i (x_i . w + b) / ||w||, the distance of the closest point to the hyperplane
    (negative when some point is on the wrong side)."""
    return float(np.min(np.asarray(y) * signed_distance(x, w, b)))


def mistake_bound(x, y, u):
    """Novikoff's bound (R / gamma)^2 for a separator u through the origin.

    x: (N, D) (augment it first if the data need a bias); y: (N,); u: (D,) any nonzero separator.
    R = max_i ||x_i||, gamma = margin(x, y, u).  Raises ValueError if u does not separate the data.
    """
    gamma = margin(x, y, u)
    if gamma <= 0:
        raise ValueError(f"mistake_bound needs a separator with positive margin, got gamma = {gamma:.3g}")
    r = np.max(np.linalg.norm(np.asarray(x, dtype=float), axis=1))
    return float((r / gamma) ** 2)


def lp_margin(x, t):
    """The largest delta such that some (w, b) with every |w_j| <= 1 and |b| <= 1 has
    t_i (x_i . w + b) >= delta for all i, found by a linear program (scipy's HiGHS).

    x: (N, D); t: (N,) in {-1, +1}.  Returns delta, w (D,), b.  delta > 0 exactly when the
    data are linearly separable; otherwise the optimum is delta = 0 at w = 0, b = 0.
    An exact test of separability, independent of the perceptron (chapter 1).
    """
    from scipy.optimize import linprog

    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ValueError(f"lp_margin expects x (N, D) and t (N,), got {x.shape} and {t.shape}")
    n, d = x.shape
    # variables (w, b, delta); maximise delta subject to delta - t_i x~_i . (w, b) <= 0
    cost = np.zeros(d + 2)
    cost[-1] = -1.0
    a_ub = np.column_stack([-t[:, None] * augment(x), np.ones(n)])
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n), bounds=[(-1, 1)] * (d + 1) + [(None, None)],
                  method="highs")
    if res.status != 0:
        raise ValueError(f"lp_margin: the linear program failed ({res.message})")
    return float(res.x[-1]), res.x[:d], float(res.x[d])


def cover_fraction(n, d):
    """Cover's counting theorem: the fraction of the 2^n labellings of n points in general
    position in R^d that a hyperplane through the origin separates,
    C(n, d) / 2^n with C(n, d) = 2 sum_{k<d} binom(n - 1, k).  Exact integer arithmetic.

    For a perceptron with a bias on D features use d = D + 1 (the augmented space).  Chapter 1.
    """
    from math import comb

    if int(n) != n or int(d) != d or n < 1 or d < 1:
        raise ValueError(f"cover_fraction expects positive integers n and d, got n={n}, d={d}")
    n, d = int(n), int(d)
    count = 2 * sum(comb(n - 1, k) for k in range(min(d, n)))
    return count / 2**n


def novikoff_certificates(x, t, u, history, lr):
    """The six quantities that the proof of Novikoff's bound shows to be >= 0, at every update of a run.

    x: (N, D) data *before* augmenting; t: (N,) in {-1, +1}; u: (D + 1,) a separator of augment(x)
    (normalised here); history: the list that perceptron_train(x, t, ..., lr=lr, history=...) filled.
    Each quantity is divided by its natural scale, so that rounding shows as about 1e-16:
    xi = (t u.x~ - gamma) / gamma (the margin hypothesis), nu = -t w~_{k-1}.x~ / (||w~_{k-1}|| ||x~||)
    (the update was a mistake; 0 at w~_0 = 0), rho = (R^2 - ||x~||^2) / R^2 (the radius),
    alpha = (u.w~_k - k lr gamma) / (k lr gamma), beta = (k lr^2 R^2 - ||w~_k||^2) / (k lr^2 R^2),
    omega = (||w~_k||^2 - (u.w~_k)^2) / ||w~_k||^2 (Cauchy-Schwarz).  Returns a dict of arrays over k.
    Chapter 1 proves each one nonnegative.
    """
    xa = augment(x)
    t = np.asarray(t, dtype=float)
    u = np.asarray(u, dtype=float) / np.linalg.norm(u)
    tu = t * (xa @ u)  # t_i u.x~_i for every point
    gamma = float(np.min(tu))  # margin(xa, t, u), computed here as xi's terms are
    r2 = np.max(np.sum(xa**2, axis=1))
    if gamma <= 0 or not history:
        raise ValueError(f"novikoff_certificates needs a separator (gamma = {gamma:.3g}) and a non-empty history")
    idx = np.array([i for _, i, _, _ in history])
    w = np.array([np.append(w_k, b_k) for _, _, w_k, b_k in history])
    w_prev = np.vstack([np.zeros(xa.shape[1]), w[:-1]])
    xi_, ti = xa[idx], t[idx]
    k = np.arange(1, len(w) + 1)
    uw, ww = w @ u, np.sum(w**2, axis=1)
    prev_norm = np.linalg.norm(w_prev, axis=1) * np.linalg.norm(xi_, axis=1)
    return {
        "xi": (tu[idx] - gamma) / gamma,
        "nu": np.divide(-ti * np.sum(w_prev * xi_, axis=1), prev_norm, out=np.zeros(len(k)),
                        where=prev_norm > 0),
        "rho": (r2 - np.sum(xi_**2, axis=1)) / r2,
        "alpha": (uw - k * lr * gamma) / (k * lr * gamma),
        "beta": (k * lr**2 * r2 - ww) / (k * lr**2 * r2),
        "omega": (ww - uw**2) / ww,
    }
