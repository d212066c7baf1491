"""Data sets that need no download: generated ones, and scikit-learn's bundled digits.

Every generator takes a numpy.random.Generator, so a chapter's experiment is reproducible
from one seed.
"""
import numpy as np


def _seed(rng):
    # scikit-learn wants an int or a RandomState; draw one from the caller's Generator
    return int(rng.integers(2**31 - 1))


def linearly_separable(n, rng, margin=0.5, dim=2):
    """n points in [-1, 1]^dim labelled +-1 by a random hyperplane through the origin region,
    with every point at least ``margin``/2 away from it.  Returns x (n, dim), y (n,), w_true (dim,)."""
    w = rng.standard_normal(dim)
    w /= np.linalg.norm(w)
    b = rng.uniform(-0.2, 0.2)
    x = np.empty((0, dim))
    while len(x) < n:
        cand = rng.uniform(-1, 1, size=(2 * n, dim))
        keep = np.abs(cand @ w + b) >= margin / 2
        x = np.vstack([x, cand[keep]])
    x = x[:n]
    return x, np.where(x @ w + b >= 0, 1.0, -1.0), np.append(w, b)


def xor(n, rng, noise=0.1):
    """The XOR problem: four clusters at (+-1, +-1); label 1 where the signs differ, else 0."""
    corners = rng.integers(0, 2, size=(n, 2))
    x = (2.0 * corners - 1.0) + noise * rng.standard_normal((n, 2))
    return x, (corners[:, 0] != corners[:, 1]).astype(int)


def moons(n, rng, noise=0.2):
    """Two interleaving half circles (scikit-learn's make_moons); labels 0/1."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=_seed(rng))
    return x, y.astype(int)


def spirals(n, rng, classes=3, noise=0.2):
    """``classes`` interleaved spiral arms in 2-D, n points in all; labels 0..classes-1."""
    per = n // classes
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, per)
        t = np.linspace(c * 2 * np.pi / classes, c * 2 * np.pi / classes + 1.5 * np.pi, per)
        t = t + noise * rng.standard_normal(per)
        xs.append(np.column_stack([r * np.cos(t), r * np.sin(t)]))
        ys.append(np.full(per, c))
    return np.vstack(xs), np.concatenate(ys)


def train_test_split(x, y, rng, test_fraction=0.25):
    """A random split that keeps each class's share the same in both parts (stratified)."""
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test.append(idx[: int(round(test_fraction * len(idx)))])
    test = np.concatenate(test)
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return x[~mask], x[mask], y[~mask], y[mask]


def digits(rng, test_fraction=0.25, images=False):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), no download.

    Pixels are scaled from 0..16 to [0, 1].  Returns x_train, x_test, y_train, y_test with x of
    shape (N, 64), or (N, 1, 8, 8) if images=True (NCHW, for the convolution chapter).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data / 16.0
    if images:
        x = x.reshape(-1, 1, 8, 8)
    return train_test_split(x, d.target.astype(int), rng, test_fraction)


def standardize(x_train, *others):
    """Shift and scale features by the training set's mean and std (std floored at 1e-8)."""
    mu, sd = x_train.mean(axis=0), np.maximum(x_train.std(axis=0), 1e-8)
    return tuple((a - mu) / sd for a in (x_train, *others))
