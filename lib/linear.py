"""The dense (affine) layer and dropout, as forward/backward pairs (chapter 2)."""
import numpy as np


def affine_forward(x, w, b):
    """out = x @ w + b.

    x: (N, D); w: (D, M); b: (M,).  Returns out (N, M) and the cache.
    """
    x = np.asarray(x, dtype=float)
    if w.ndim != 2 or b.shape != (w.shape[1],):
        raise ValueError(f"affine expects w (D, M) and b (M,), got w {w.shape} and b {b.shape}")
    if x.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"affine expects x of shape (N, {w.shape[0]}), got {x.shape}")
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    """Given dout = dL/dout (N, M), return dx (N, D), dw (D, M), db (M,).

    Each sample uses the same w, so the per-sample contributions to dw and db add up.
    """
    x, w = cache
    if dout.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"affine backward expects dout of shape {(x.shape[0], w.shape[1])}, got {dout.shape}")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def dropout_forward(x, p, rng, train=True):
    """Inverted dropout: zero each unit with probability p and scale survivors by 1/(1-p).

    The scaling keeps E[out] = x, so at test time (train=False) the layer is the identity.
    rng: numpy.random.Generator.  Returns out and the mask (None at test time).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not train or p == 0.0:
        return x, None
    mask = (rng.random(x.shape) >= p) / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """dx = dout * mask: a dropped unit passes no gradient."""
    return dout if mask is None else dout * mask
