"""Batch normalisation as a forward/backward pair and a module (derived in chapter 2, section 2.7).

Each feature is standardised with the mean and variance of the batch, then scaled and shifted
by learned gamma and beta:  xhat = (x - mu) / sqrt(var + eps),  out = gamma xhat + beta.
x is (N, D), statistics per feature over N; or images (N, C, H, W), statistics per channel
over N, H and W (as a convolutional network uses it, chapter 3).
"""
import numpy as np

from lib.nn import Module


def _axes(x, gamma, beta, name):
    x = np.asarray(x, dtype=float)
    if x.ndim not in (2, 4):
        raise ValueError(f"{name} expects x of shape (N, D) or (N, C, H, W), got {x.shape}")
    d = x.shape[1]
    if np.shape(gamma) != (d,) or np.shape(beta) != (d,):
        raise ValueError(f"{name} expects gamma and beta of shape ({d},) for x {x.shape}, "
                         f"got {np.shape(gamma)} and {np.shape(beta)}")
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    count = x.size // d
    if count < 2:
        raise ValueError(f"{name} needs at least 2 values per feature for batch statistics, got x {x.shape}")
    return x, axes, (1, d) if x.ndim == 2 else (1, d, 1, 1)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """out = gamma (x - mu) / sqrt(var + eps) + beta with the batch's mean mu and (biased) variance var.

    x: (N, D) or (N, C, H, W); gamma, beta: (D,) or (C,).  Returns out (shape of x) and the cache.
    """
    if not eps > 0:
        raise ValueError(f"batchnorm_forward needs eps > 0, got {eps}")
    x, axes, bshape = _axes(x, gamma, beta, "batchnorm_forward")
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu                                   # centre first: var of x - mu is exact for large offsets
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv_std
    g = np.asarray(gamma, dtype=float).reshape(bshape)
    out = g * xhat + np.asarray(beta, dtype=float).reshape(bshape)
    return out, (xhat, g, inv_std, axes, mu, var)


def batchnorm_backward(dout, cache):
    """Given dout = dL/dout, return dx, dgamma, dbeta.

    Every sample enters mu and var, so dx is not just dout gamma / std: with m values per
    feature and g = gamma dout,  dx = (g - mean(g) - xhat mean(g xhat)) / std.
    """
    xhat, g, inv_std, axes, _, _ = cache
    if np.shape(dout) != xhat.shape:
        raise ValueError(f"batchnorm_backward expects dout of shape {xhat.shape}, got {np.shape(dout)}")
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dxhat = dout * g
    dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


def batchnorm_eval_forward(x, gamma, beta, mean, var, eps=1e-5):
    """out = gamma (x - mean) / sqrt(var + eps) + beta with fixed (running) statistics: an affine map."""
    if not eps > 0:
        raise ValueError(f"batchnorm_eval_forward needs eps > 0, got {eps}")
    x = np.asarray(x, dtype=float)
    if x.ndim not in (2, 4) or np.shape(mean) != (x.shape[1],) or np.shape(var) != (x.shape[1],):
        raise ValueError(f"batchnorm_eval_forward expects x (N, D) or (N, C, H, W) and mean, var (D,), "
                         f"got x {x.shape}, mean {np.shape(mean)}, var {np.shape(var)}")
    if np.shape(gamma) != (x.shape[1],) or np.shape(beta) != (x.shape[1],):
        raise ValueError(f"batchnorm_eval_forward expects gamma, beta of shape ({x.shape[1]},), "
                         f"got {np.shape(gamma)} and {np.shape(beta)}")
    if np.any(np.asarray(var) < 0):
        raise ValueError("batchnorm_eval_forward expects a non-negative running variance")
    bshape = (1, x.shape[1]) if x.ndim == 2 else (1, x.shape[1], 1, 1)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    inv_std = (1.0 / np.sqrt(np.asarray(var, dtype=float) + eps)).reshape(bshape)
    xhat = (x - np.asarray(mean, dtype=float).reshape(bshape)) * inv_std
    g = np.asarray(gamma, dtype=float).reshape(bshape)
    return g * xhat + np.asarray(beta, dtype=float).reshape(bshape), (xhat, g, inv_std, axes)


def batchnorm_eval_backward(dout, cache):
    """With fixed statistics the map is elementwise affine: dx = dout gamma / std."""
    xhat, g, inv_std, axes = cache
    if np.shape(dout) != xhat.shape:
        raise ValueError(f"batchnorm_eval_backward expects dout of shape {xhat.shape}, got {np.shape(dout)}")
    return dout * g * inv_std, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


class BatchNorm(Module):
    """Batch normalisation over D features (or C channels of NCHW images).

    Training mode normalises with the batch's statistics and updates running averages
    r <- (1 - momentum) r + momentum * batch value (the variance unbiased, N/(N-1));
    eval mode normalises with the running averages, so a prediction does not depend on
    the other samples of its batch.  Parameters gamma (ones) and beta (zeros) are not
    weight-decayed by lib.optim (they are 1-D).
    """

    def __init__(self, d, momentum=0.1, eps=1e-5):
        if not (isinstance(d, (int, np.integer)) and d > 0):
            raise ValueError(f"BatchNorm expects a positive number of features, got {d!r}")
        if not 0.0 < momentum <= 1.0 or not eps > 0:
            raise ValueError(f"BatchNorm needs 0 < momentum <= 1 and eps > 0, got {momentum} and {eps}")
        self.gamma, self.beta = np.ones(d), np.zeros(d)
        self.running_mean, self.running_var = np.zeros(d), np.ones(d)
        self.momentum, self.eps = momentum, eps

    def params(self):
        return {"gamma": self.gamma, "beta": self.beta}

    def grads(self):
        return getattr(self, "_grads", {})

    def forward(self, x):
        if not self.training:
            out, self.cache = batchnorm_eval_forward(x, self.gamma, self.beta, self.running_mean,
                                                     self.running_var, self.eps)
            self._mode = "eval"
            return out
        out, self.cache = batchnorm_forward(x, self.gamma, self.beta, self.eps)
        _, _, _, axes, mu, var = self.cache
        m = np.asarray(x).size // len(self.gamma)
        self.running_mean += self.momentum * (mu.ravel() - self.running_mean)
        self.running_var += self.momentum * (var.ravel() * m / (m - 1) - self.running_var)
        self._mode = "train"
        return out

    def backward(self, dout):
        back = batchnorm_backward if self._mode == "train" else batchnorm_eval_backward
        dx, dgamma, dbeta = back(dout, self.cache)
        self._grads = {"gamma": dgamma, "beta": dbeta}
        return dx
