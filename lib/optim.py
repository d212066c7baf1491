"""Optimisers with one signature: ``opt.step(params, grads)`` updates the arrays of params in place.

params and grads are dicts name -> array with the same keys (``Sequential.params()``
and ``Sequential.grads()``).  ``weight_decay`` adds the L2 term lambda * w to the
gradient of every weight array (ndim >= 2); biases are not decayed.  Chapter 2.
"""
import numpy as np


def _decayed(p, g, weight_decay):
    # L2 penalty (lambda/2)||w||^2 has gradient lambda * w; it shrinks w by (1 - lr*lambda) per plain SGD step
    return g + weight_decay * p if weight_decay and p.ndim >= 2 else g


class SGD:
    """v <- mu v - lr g;  w <- w + v.  With mu = 0 this is plain gradient descent."""

    def __init__(self, lr=0.1, momentum=0.0, weight_decay=0.0):
        if lr <= 0 or not 0.0 <= momentum < 1.0 or weight_decay < 0:
            raise ValueError(f"SGD needs lr > 0, 0 <= momentum < 1, weight_decay >= 0; got {lr}, {momentum}, {weight_decay}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    def step(self, params, grads):
        for k, p in params.items():
            g = _decayed(p, grads[k], self.weight_decay)
            if self.momentum:
                v = self.velocity.get(k, np.zeros_like(p))
                v = self.momentum * v - self.lr * g
                self.velocity[k] = v
                p += v
            else:
                p -= self.lr * g


class Adam:
    """Adam (Kingma & Ba, 2015): bias-corrected running means of g and g^2.

    m <- b1 m + (1-b1) g;  s <- b2 s + (1-b2) g^2;  w <- w - lr m_hat / (sqrt(s_hat) + eps).
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        if lr <= 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1) or weight_decay < 0:
            raise ValueError(f"Adam needs lr > 0, betas in [0, 1), weight_decay >= 0; got {lr}, {beta1}, {beta2}, {weight_decay}")
        self.lr, self.beta1, self.beta2, self.eps, self.weight_decay = lr, beta1, beta2, eps, weight_decay
        self.m, self.s, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        for k, p in params.items():
            g = _decayed(p, grads[k], self.weight_decay)
            m = self.beta1 * self.m.get(k, np.zeros_like(p)) + (1 - self.beta1) * g
            s = self.beta2 * self.s.get(k, np.zeros_like(p)) + (1 - self.beta2) * g * g
            self.m[k], self.s[k] = m, s
            m_hat = m / (1 - self.beta1**self.t)
            s_hat = s / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The decay acts on the weights directly, outside Adam's rescaling:
    w <- w - lr (m_hat / (sqrt(s_hat) + eps) + lambda w).  Adam(weight_decay=lambda) instead
    adds lambda w to g *before* the rescaling (coupled L2), so a weight with a large gradient
    history is barely decayed.  As elsewhere in lib, only weight arrays (ndim >= 2) are
    decayed.  Chapter 2 compares the two.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps, weight_decay=0.0)
        if weight_decay < 0:
            raise ValueError(f"AdamW needs weight_decay >= 0, got {weight_decay}")
        self.decoupled = weight_decay

    def step(self, params, grads):
        for p in params.values():
            if self.decoupled and p.ndim >= 2:
                p -= self.lr * self.decoupled * p  # uses w before this step's Adam update, as in the paper
        super().step(params, grads)
