"""The McCulloch-Pitts neuron and Rosenblatt's perceptron (chapter 1)."""
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


def perceptron_predict(x, w, b):
    """y_hat = sign(x @ w + b): aggregation, then activation.  x: (N, D); w: (D,); b: scalar."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(w):
        raise ValueError(f"perceptron expects x of shape (N, {len(w)}), got {x.shape}")
    return sign(x @ w + b)


def perceptron_train(x, y, rng, lr=1.0, max_epochs=100):
    """Rosenblatt's rule: for each misclassified (x_i, y_i), w <- w + lr y_i x_i and b <- b + lr y_i.

    x: (N, D); y: (N,) in {-1, +1}; rng shuffles the order each epoch.
    Returns w (D,), b, the number of updates (mistakes), and whether an epoch passed without one.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"perceptron_train expects x (N, D) and y (N,), got {x.shape} and {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("perceptron_train expects labels in {-1, +1}")
    w, b, mistakes = np.zeros(x.shape[1]), 0.0, 0
    for _ in range(max_epochs):
        clean = True
        for i in rng.permutation(len(x)):
            if y[i] * (x[i] @ w + b) <= 0:  # on the boundary counts as a mistake, so training starts at w = 0
                w += lr * y[i] * x[i]
                b += lr * y[i]
                mistakes += 1
                clean = False
        if clean:
            return w, b, mistakes, True
    return w, b, mistakes, False


def margin(x, y, w):
    """gamma = min_i y_i (x_i . w) / ||w||, the distance of the closest point to the hyperplane x . w = 0."""
    return float(np.min(y * (x @ w)) / np.linalg.norm(w))
