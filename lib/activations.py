"""Activation functions f and their derivatives f' (chapter 1; used from chapter 2 on).

Every activation is elementwise, so its backward pass is dout * f'(x).
``ACTIVATIONS`` maps a name to the pair (f, f'); ``activation_forward`` and
``activation_backward`` wrap a pair as a layer for the networks of chapter 2.
"""
import numpy as np


def sign(x):
    """sign(x) = +1 for x >= 0, -1 otherwise (the perceptron's output; sign(0) = +1 by convention)."""
    return np.where(np.asarray(x) >= 0, 1.0, -1.0)


def sign_grad(x):
    """0 everywhere except the jump at 0: sign gives gradient descent nothing to follow."""
    return np.zeros_like(np.asarray(x, dtype=float))


def step(x):
    """Heaviside step: 1 for x >= 0, 0 otherwise (the McCulloch-Pitts threshold)."""
    return np.where(np.asarray(x) >= 0, 1.0, 0.0)


def step_grad(x):
    return np.zeros_like(np.asarray(x, dtype=float))


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)), finite for any float input."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))  # exp of a non-positive number never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x):
    """sigma'(x) = sigma(x) (1 - sigma(x)) = e^{-|x|} / (1 + e^{-|x|})^2.

    The second form is used: for x > 37, 1 - sigma(x) rounds to 0 in float64 while the true
    slope is e^{-x}, so the product form loses all relative accuracy in the tail.
    """
    e = np.exp(-np.abs(np.asarray(x, dtype=float)))
    return e / (1.0 + e) ** 2


def tanh(x):
    """tanh(x) = 2 sigma(2x) - 1."""
    return np.tanh(np.asarray(x, dtype=float))


def tanh_grad(x):
    """tanh'(x) = 1 - tanh(x)^2 = 1 / cosh(x)^2 = 4 e^{-2|x|} / (1 + e^{-2|x|})^2.

    The last form keeps full relative accuracy where tanh(x)^2 rounds to 1 (|x| > 19).
    """
    e = np.exp(-2.0 * np.abs(np.asarray(x, dtype=float)))
    return 4.0 * e / (1.0 + e) ** 2


def relu(x):
    """relu(x) = max(0, x)."""
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def relu_grad(x):
    """relu'(x) = 1 for x > 0, else 0 (we take 0 at the kink)."""
    return (np.asarray(x) > 0).astype(float)


def leaky_relu(x, alpha=0.01):
    """max(alpha x, x) for 0 < alpha < 1."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_grad(x, alpha=0.01):
    return np.where(np.asarray(x) > 0, 1.0, alpha)


def rbf(x, center=0.0, width=1.0):
    """Gaussian radial basis phi(x) = exp(-(x - c)^2 / (2 s^2))."""
    x = np.asarray(x, dtype=float)
    return np.exp(-((x - center) ** 2) / (2.0 * width**2))


def rbf_grad(x, center=0.0, width=1.0):
    """phi'(x) = -(x - c) / s^2 * phi(x)."""
    x = np.asarray(x, dtype=float)
    return -(x - center) / width**2 * rbf(x, center, width)


def softplus(x):
    """log(1 + exp(x)), computed without overflow; its derivative is sigma(x)."""
    return np.logaddexp(0.0, np.asarray(x, dtype=float))


def softmax(z, axis=-1):
    """softmax(z)_k = exp(z_k) / sum_j exp(z_j); shifting by max(z) leaves it unchanged and avoids overflow."""
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """log softmax(z) = (z - max z) - log(1 + sum_{j != argmax} exp(z_j - max z)).

    Finite even when softmax(z) underflows to 0; log1p of the other terms keeps the largest
    entry's value (near 0 when one logit dominates) accurate to the last digits.
    """
    z = np.asarray(z, dtype=float)
    top = np.argmax(z, axis=axis)
    shifted = z - np.take_along_axis(z, np.expand_dims(top, axis), axis=axis)
    others = np.exp(shifted)
    np.put_along_axis(others, np.expand_dims(top, axis), 0.0, axis=axis)
    return shifted - np.log1p(others.sum(axis=axis, keepdims=True))


ACTIVATIONS = {
    "sign": (sign, sign_grad),
    "step": (step, step_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "rbf": (rbf, rbf_grad),
    "softplus": (softplus, sigmoid),
    "identity": (lambda x: np.asarray(x, dtype=float), lambda x: np.ones_like(np.asarray(x, dtype=float))),
}


def get(name):
    """The pair (f, f') for an activation name; a ValueError lists the known names."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


def activation_forward(x, name):
    """out = f(x) elementwise.  x: any shape.  Returns out (same shape) and the cache."""
    f, _ = get(name)
    return f(x), (x, name)


def activation_backward(dout, cache):
    """dx = dout * f'(x), the chain rule for an elementwise map (chapter 2)."""
    x, name = cache
    if np.shape(dout) != np.shape(x):
        raise ValueError(f"{name} backward expects dout of shape {np.shape(x)}, got {np.shape(dout)}")
    return dout * get(name)[1](x)


def softmax_forward(z):
    """p = softmax(z) over the last axis, as a layer: returns p and the cache (p itself)."""
    p = softmax(z)
    return p, p


def softmax_backward(dout, p):
    """dz = J^T dout for each row, with the softmax Jacobian J = diag(p) - p p^T (chapter 2).

    J is symmetric, so dz = p * (dout - <dout, p>): O(C) per row, the C x C matrix is never built.
    dout: dL/dp, same shape as p; p: probabilities (the forward output), rows summing to 1.
    """
    p = np.asarray(p, dtype=float)
    if np.shape(dout) != p.shape:
        raise ValueError(f"softmax_backward expects dout of the shape of p {p.shape}, got {np.shape(dout)}")
    if p.size and (p.min() < 0 or p.max() > 1 or np.max(np.abs(p.sum(axis=-1) - 1)) > 1e-6):
        raise ValueError("softmax_backward expects p = softmax(z) (entries in [0, 1], rows summing to 1), "
                         "got something else (logits?)")
    return p * (dout - np.sum(dout * p, axis=-1, keepdims=True))
