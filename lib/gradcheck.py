"""Finite-difference gradient checks (chapter 2; used for every backward pass in the book).

``numerical_gradient`` perturbs one entry at a time (central differences, error O(h^2)),
so it suits small shapes.  ``directional_check`` compares one directional derivative
<u, J v> with <J^T u, v>; it costs two forward calls whatever the size.
"""
import numpy as np


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|): near 1e-10 in float64 when two gradients agree."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"rel_error compares arrays of one shape, got {a.shape} and {b.shape}")
    scale = np.max(np.abs(a) + np.abs(b))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


def numerical_gradient(f, x, h=1e-6):
    """dF/dx of a scalar function F by central differences: (F(x + h e_i) - F(x - h e_i)) / 2h.

    x is perturbed in place and restored; it must be a float array.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"numerical_gradient needs a float array, got dtype {x.dtype}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def check_layer(forward, backward, args, rng, wrt=None, h=1e-6):
    """Check a forward/backward pair against finite differences; return the largest relative error.

    forward(*args) -> (out, cache); backward(dout, cache) -> the gradient, or a tuple of
    gradients in the order of args.  The scalar tested is L = sum(out * u) for a fixed random u,
    so dL/dout = u.  wrt: indices of args to check (default: every float array).
    """
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    out, cache = forward(*args)
    u = rng.standard_normal(np.shape(out))
    grads = backward(u, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)]
    worst = 0.0
    for i in wrt:
        def scalar(a, i=i):
            trial = list(args)
            trial[i] = a
            return float(np.sum(forward(*trial)[0] * u))

        worst = max(worst, rel_error(grads[i], numerical_gradient(scalar, args[i], h)))
    return worst


def directional_check(forward, backward, args, rng, wrt=0, h=1e-6):
    """Compare <u, (F(x + h v) - F(x - h v)) / 2h> with <J^T u, v> for random u, v; return the relative gap."""
    x = args[wrt]
    out, cache = forward(*args)
    u = rng.standard_normal(np.shape(out))
    g = backward(u, cache)
    g = g[wrt] if isinstance(g, tuple) else g
    v = rng.standard_normal(x.shape)

    def at(a):
        trial = list(args)
        trial[wrt] = a
        return forward(*trial)[0]

    numeric = np.sum(u * (at(x + h * v) - at(x - h * v))) / (2 * h)
    analytic = np.sum(g * v)
    return abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-300)


def check_model(model, loss_fn, x, y, h=1e-6):
    """Largest relative error between a model's backward gradients and finite differences of the loss."""
    loss, dout = loss_fn(model.forward(x), y)
    model.backward(dout)
    grads = {k: g.copy() for k, g in model.grads().items()}
    worst = 0.0
    for k, p in model.params().items():
        num = numerical_gradient(lambda _: loss_fn(model.forward(x), y)[0], p, h)
        worst = max(worst, rel_error(grads[k], num))
    return worst
