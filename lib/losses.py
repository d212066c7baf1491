"""Loss functions, each returning (loss, dpred): the mean loss over the batch and its gradient.

Regression losses take pred and y of the same shape (N, M) or (N,) and sum over
outputs, averaging over the N samples.  Classification losses take scores
(N, C) and integer labels y (N,) in 0..C-1.  Derived in chapter 2.
"""
import numpy as np

from lib.activations import log_softmax, sigmoid, softmax

TINY = np.finfo(float).tiny


def _check_same_shape(name, pred, y):
    pred, y = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    if pred.shape != y.shape:
        raise ValueError(f"{name} expects pred and y of the same shape, got {pred.shape} and {y.shape}")
    if pred.ndim == 0:
        raise ValueError(f"{name} expects a batch (N,) or (N, M), got a scalar")
    return pred, y


def _check_labels(name, scores, y):
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"{name} expects scores of shape (N, C), got {scores.shape}")
    y = np.asarray(y)
    n, c = scores.shape
    if y.shape != (n,):
        raise ValueError(f"{name} expects labels of shape ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} expects integer class labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= c):
        bad = y[(y < 0) | (y >= c)][0]
        raise ValueError(f"{name}: label {bad} is outside the class range 0..{c - 1} of scores with C={c}")
    return scores, y


def mse_loss(pred, y):
    """L = (1/N) sum_n sum_m (pred - y)^2 / 2;  dL/dpred = (pred - y) / N."""
    pred, y = _check_same_shape("mse_loss", pred, y)
    n = pred.shape[0]
    r = pred - y
    return 0.5 * np.sum(r**2) / n, r / n


def huber_loss(pred, y, delta=1.0):
    """Quadratic for |r| <= delta, linear beyond:  rho(r) = r^2/2  or  delta (|r| - delta/2).

    dL/dpred = clip(r, -delta, delta) / N: a large residual pulls no harder than delta.
    """
    pred, y = _check_same_shape("huber_loss", pred, y)
    n = pred.shape[0]
    r = pred - y
    a = np.abs(r)
    rho = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))
    return np.sum(rho) / n, np.clip(r, -delta, delta) / n


def tukey_loss(pred, y, c=4.685):
    """Tukey's biweight: rho(r) = c^2/6 (1 - (1 - (r/c)^2)^3) for |r| <= c, and c^2/6 beyond.

    psi(r) = rho'(r) = r (1 - (r/c)^2)^2 inside, 0 outside: outliers stop pulling at all.
    """
    pred, y = _check_same_shape("tukey_loss", pred, y)
    n = pred.shape[0]
    r = pred - y
    inside = np.abs(r) <= c
    u = 1.0 - (r / c) ** 2
    rho = np.where(inside, c**2 / 6.0 * (1.0 - u**3), c**2 / 6.0)
    psi = np.where(inside, r * u**2, 0.0)
    return np.sum(rho) / n, psi / n


def softmax_cross_entropy(logits, y):
    """L = -(1/N) sum_n log softmax(z_n)_{y_n}, from logits z (N, C) and labels y (N,).

    Computed through log_softmax, so logits of 1e4 give a finite loss.
    dL/dz = (softmax(z) - onehot(y)) / N  (derived in chapter 2).
    """
    z, y = _check_labels("softmax_cross_entropy", logits, y)
    n = z.shape[0]
    logp = log_softmax(z)
    loss = -logp[np.arange(n), y].sum() / n
    dz = softmax(z)
    dz[np.arange(n), y] -= 1.0
    return loss, dz / n


def nll_loss(probs, y):
    """L = -(1/N) sum_n log p_{n, y_n} from probabilities (N, C); a zero probability gives a large finite loss.

    dL/dp has -1/(N p) at the true class; p is floored at the smallest positive float.
    """
    p, y = _check_labels("nll_loss", probs, y)
    n = p.shape[0]
    picked = np.maximum(p[np.arange(n), y], TINY)
    dp = np.zeros_like(p)
    dp[np.arange(n), y] = -1.0 / (n * picked)
    return -np.log(picked).sum() / n, dp


def sigmoid_cross_entropy(logits, y):
    """Binary cross-entropy from logits z and targets y in [0, 1], same shape.

    L = (1/N) sum [z (1 - y) for z >= 0, -z y for z < 0] + log(1 + exp(-|z|)), a stable form of
    -y log s - (1-y) log(1-s): both terms are nonnegative, so nothing cancels;
    dL/dz = (sigma(z) - y) / N.
    """
    z, y = _check_same_shape("sigmoid_cross_entropy", logits, y)
    n = z.shape[0]
    loss = np.where(z >= 0, z * (1.0 - y), -z * y) + np.log1p(np.exp(-np.abs(z)))
    return loss.sum() / n, (sigmoid(z) - y) / n


def hinge_loss(scores, y, margin=1.0):
    """Multiclass hinge: L = (1/N) sum_n sum_{j != y_n} max(0, s_j - s_{y_n} + margin).

    A wrong class contributes only while it is within the margin of the true one;
    the subgradient is +1 for each such class and minus their count at the true class.
    """
    s, y = _check_labels("hinge_loss", scores, y)
    n = s.shape[0]
    rows = np.arange(n)
    m = np.maximum(0.0, s - s[rows, y][:, None] + margin)
    m[rows, y] = 0.0
    active = (m > 0).astype(float)
    ds = active
    ds[rows, y] = -active.sum(axis=1)
    return m.sum() / n, ds / n


def safe_log(p):
    """log(p) with p floored at the smallest positive float, so log(0) is about -708, not -inf."""
    return np.log(np.maximum(np.asarray(p, dtype=float), TINY))


def entropy(p, axis=-1):
    """H(p) = -sum_k p_k log p_k, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=float)
    return -np.sum(np.where(p > 0, p * safe_log(p), 0.0), axis=axis)
