"""Energy-based models: the Hopfield network, the binary RBM and the deep belief network (chapter 4).

Hopfield states are spins a in {-1, +1}^D; RBM units are bits v in {0, 1}^D (visible) and
h in {0, 1}^H (hidden), with weights w (D, H), visible bias b (D,) and hidden bias c (H,).
A batch of states has samples as rows.  Exact quantities (log Z, the log-likelihood gradient)
enumerate every state of the smaller layer, so they are for models with at most 20 units there.
Randomness only through a numpy Generator argument.
"""
import numpy as np

from lib.activations import sigmoid, softplus

MAX_ENUMERATED = 20   # 2^20 states: about a second of work, and 8 MB per unit


# ---------------------------------------------------------------- Hopfield network

def _spins(a, name="a"):
    a = np.asarray(a, dtype=float)
    if a.ndim not in (1, 2) or not np.all(np.abs(a) == 1.0):
        raise ValueError(f"{name} should hold spins -1 or +1 in an array of shape (D,) or (N, D), "
                         f"got shape {a.shape} with values {np.unique(a)[:5]}")
    return a


def _hopfield_weights(w, d):
    w = np.asarray(w, dtype=float)
    if w.shape != (d, d):
        raise ValueError(f"w should be ({d}, {d}) to match D={d} units, got {w.shape}")
    if not np.allclose(w, w.T) or np.any(np.diag(w) != 0):
        raise ValueError("a Hopfield network needs a symmetric w with a zero diagonal")
    return w


def hebbian_weights(patterns):
    """Hebb's rule: W = (1/D) sum_p xi_p xi_p^T with the diagonal set to 0.

    patterns: (P, D) spins.  Returns w (D, D), symmetric with a zero diagonal.
    """
    xi = _spins(patterns, "patterns")
    xi = np.atleast_2d(xi)
    w = xi.T @ xi / xi.shape[1]
    np.fill_diagonal(w, 0.0)   # no self-coupling: otherwise a unit could keep itself in place
    return w


def hopfield_energy(a, w, b=None):
    """E(a) = -1/2 a^T W a - b^T a for states a (N, D) or (D,) of spins -1 or +1.  Returns (N,) or a float."""
    a = _spins(a)
    d = a.shape[-1]
    w = _hopfield_weights(w, d)
    b = np.zeros(d) if b is None else np.asarray(b, dtype=float)
    e = -0.5 * np.einsum("...i,ij,...j->...", a, w, a) - a @ b
    return float(e) if a.ndim == 1 else e


def hopfield_update(a, w, b, i):
    """Asynchronous update of unit i in every row of a (N, D): a_i <- sign(z_i), z_i = w_i . a + b_i.

    sign(0) is taken as +1 (the book's step 1[z >= 0]).  Returns the new states (a copy).
    """
    a = _spins(a).copy()
    d = a.shape[-1]
    w = _hopfield_weights(w, d)
    b = np.zeros(d) if b is None else np.asarray(b, dtype=float)
    if not 0 <= i < d:
        raise ValueError(f"unit index i should be in [0, {d}), got {i}")
    field = a @ w[:, i] + b[i]
    a[..., i] = np.where(field >= 0, 1.0, -1.0)
    return a


def hopfield_recall(a, w, rng, b=None, max_sweeps=100):
    """Run asynchronous updates in random order until no unit changes (or max_sweeps sweeps).

    a: (N, D) start states (updated in parallel, each row an independent network with the same
    order of units).  Returns (states (N, D), number of sweeps made).
    """
    a = np.atleast_2d(_spins(a)).copy()
    d = a.shape[1]
    w = _hopfield_weights(w, d)
    b = np.zeros(d) if b is None else np.asarray(b, dtype=float)
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in rng.permutation(d):
            new = np.where(a @ w[:, i] + b[i] >= 0, 1.0, -1.0)
            changed = changed or bool(np.any(new != a[:, i]))
            a[:, i] = new
        if not changed:
            return a, sweep
    return a, max_sweeps


def flip_spins(a, fraction, rng):
    """A corrupted copy of a (N, D): round(fraction * D) spins of each row flipped at random."""
    a = np.atleast_2d(_spins(a)).copy()
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction should be in [0, 1], got {fraction}")
    k = int(round(fraction * a.shape[1]))
    for row in a:
        row[rng.choice(a.shape[1], k, replace=False)] *= -1
    return a


def recall_overlap(n_units, n_patterns, rng, flip=0.0, max_sweeps=100, n_cues=None):
    """Store n_patterns random patterns by Hebb's rule, start from n_cues of them (all by default) with a
    fraction flip of their spins flipped, run to a fixed point, and return the mean overlap (1/D) a . xi
    between the final state and the pattern it started from."""
    if n_patterns < 1 or n_units < 2:
        raise ValueError(f"need at least one pattern and two units, got {n_patterns} and {n_units}")
    xi = rng.choice([-1.0, 1.0], size=(n_patterns, n_units))
    w = hebbian_weights(xi)
    cues = xi[:n_patterns if n_cues is None else min(n_cues, n_patterns)]
    end, _ = hopfield_recall(flip_spins(cues, flip, rng), w, rng, max_sweeps=max_sweeps)
    return float(np.mean(np.sum(end * cues, axis=1)) / n_units)


# ---------------------------------------------------------------- RBM: shapes and values

def _bits(v, name, d=None):
    v = np.asarray(v, dtype=float)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or (d is not None and v.shape[1] != d):
        want = "(N, D)" if d is None else f"(N, {d})"
        raise ValueError(f"{name} should have shape {want}, got {np.shape(v)}")
    return v


def _binary(v, name, d=None):
    v = _bits(v, name, d)
    if not np.all((v == 0.0) | (v == 1.0)):
        raise ValueError(f"{name} should be binary (0 or 1) for a binary RBM, got values such as "
                         f"{v[(v != 0) & (v != 1)][:3]}")
    return v


def _params(w, b, c):
    w = np.asarray(w, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"w should have shape (D, H), got {w.shape}")
    d, h = w.shape
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    if b.shape != (d,) or c.shape != (h,):
        raise ValueError(f"with w of shape {w.shape}, b should be ({d},) and c ({h},), got {b.shape} and {c.shape}")
    return w, b, c


def rbm_energy(v, h, w, b, c):
    """E(v, h) = -b^T v - c^T h - v^T W h.  v (N, D), h (N, H).  Returns (N,)."""
    w, b, c = _params(w, b, c)
    v, h = _bits(v, "v", w.shape[0]), _bits(h, "h", w.shape[1])
    if len(v) != len(h):
        raise ValueError(f"v and h should have the same number of rows, got {len(v)} and {len(h)}")
    return -v @ b - h @ c - np.sum((v @ w) * h, axis=1)


def p_h_given_v(v, w, c):
    """p(h_j = 1 | v) = sigma(c_j + v . W_:j) for v (N, D).  Returns (N, H)."""
    w = np.asarray(w, dtype=float)
    v = _bits(v, "v", w.shape[0])
    return sigmoid(v @ w + np.asarray(c, dtype=float))


def p_v_given_h(h, w, b):
    """p(v_i = 1 | h) = sigma(b_i + W_i: . h) for h (N, H).  Returns (N, D)."""
    w = np.asarray(w, dtype=float)
    h = _bits(h, "h", w.shape[1])
    return sigmoid(h @ w.T + np.asarray(b, dtype=float))


def free_energy_forward(v, w, b, c):
    """F(v) = -b^T v - sum_j log(1 + exp(c_j + v . W_:j)), so that p(v) = exp(-F(v)) / Z.

    v (N, D) (any real values: F extends smoothly, which the finite-difference checks use).
    Returns F (N,) and the cache for free_energy_backward.  Derived in chapter 4.
    """
    w, b, c = _params(w, b, c)
    v = _bits(v, "v", w.shape[0])
    z = v @ w + c                 # the hidden units' pre-activations
    return -v @ b - softplus(z).sum(axis=1), (v, w, b, z)


def free_energy_backward(dout, cache):
    """Given dout = dL/dF (N,), return dv (N, D), dw (D, H), db (D,), dc (H,).

    dF/dz_j = -sigma(z_j): the softplus's slope is the hidden unit's probability.
    """
    v, w, b, z = cache
    dout = np.asarray(dout, dtype=float)
    if dout.shape != (len(v),):
        raise ValueError(f"dout should have shape ({len(v)},), got {dout.shape}")
    dz = -dout[:, None] * sigmoid(z)
    return dz @ w.T - dout[:, None] * b, v.T @ dz, -(dout @ v), dz.sum(axis=0)


def free_energy(v, w, b, c):
    """F(v) (N,): free_energy_forward without the cache."""
    return free_energy_forward(v, w, b, c)[0]


def all_states(n):
    """Every binary vector of length n, as rows of a (2^n, n) float array (first unit slowest)."""
    if not 0 <= n <= MAX_ENUMERATED:
        raise ValueError(f"enumerating states needs 0 <= n <= {MAX_ENUMERATED} units, got {n}")
    return ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)


def _logsumexp(x):
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def log_partition(w, b, c):
    """log Z = log sum_{v, h} exp(-E(v, h)), exact, by enumerating the smaller layer.

    Summing h out gives log Z = logsumexp_v(-F(v)); summing v out instead gives the same with the
    roles of (b, W) and (c, W^T) swapped.  Raises ValueError if the smaller layer has > 20 units.
    """
    w, b, c = _params(w, b, c)
    d, h = w.shape
    if min(d, h) > MAX_ENUMERATED:
        raise ValueError(f"log_partition enumerates the smaller layer, which needs at most {MAX_ENUMERATED} "
                         f"units; w has shape {w.shape}")
    if d <= h:
        return _logsumexp(-free_energy(all_states(d), w, b, c))
    return _logsumexp(-free_energy(all_states(h), w.T, c, b))


def log_likelihood(v, w, b, c):
    """log p(v) = -F(v) - log Z for binary v (N, D), exact.  Returns (N,)."""
    w, b, c = _params(w, b, c)
    v = _binary(v, "v", w.shape[0])
    return -free_energy(v, w, b, c) - log_partition(w, b, c)


def exact_gradient(v, w, b, c):
    """The gradient of the mean log-likelihood (1/N) sum_n log p(v_n): data term minus model term.

    d/dW = <v p(h|v)^T>_data - <v p(h|v)^T>_model, and likewise for b (<v>) and c (<p(h|v)>);
    the model average enumerates all 2^D visible states, so D <= 20.  Returns (dw, db, dc),
    the direction of *ascent*.
    """
    w, b, c = _params(w, b, c)
    d = w.shape[0]
    if d > MAX_ENUMERATED:
        raise ValueError(f"exact_gradient enumerates all visible states, which needs D <= {MAX_ENUMERATED}, got D={d}")
    v = _binary(v, "v", d)
    states = all_states(d)
    logp = -free_energy(states, w, b, c)
    p = np.exp(logp - _logsumexp(logp))            # p(v) over all states
    ph_data, ph_model = p_h_given_v(v, w, c), p_h_given_v(states, w, c)
    dw = v.T @ ph_data / len(v) - states.T @ (p[:, None] * ph_model)
    db = v.mean(axis=0) - p @ states
    dc = ph_data.mean(axis=0) - p @ ph_model
    return dw, db, dc


# ---------------------------------------------------------------- sampling and training

def _rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng should be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def sample_h(v, w, c, rng):
    """Draw h ~ p(h | v): each h_j = 1 with probability sigma(c_j + v . W_:j).  Returns (h, p)."""
    p = p_h_given_v(v, w, c)
    return (_rng(rng).random(p.shape) < p).astype(float), p


def sample_v(h, w, b, rng):
    """Draw v ~ p(v | h).  Returns (v, p)."""
    p = p_v_given_h(h, w, b)
    return (_rng(rng).random(p.shape) < p).astype(float), p


def gibbs(v, w, b, c, k, rng):
    """k steps of block Gibbs sampling v -> h -> v from the states v (N, D).

    Returns (v_k, p_k): the visible samples after k steps and their probabilities p(v | h)."""
    if int(k) != k or k < 0:
        raise ValueError(f"the number of Gibbs steps k should be a non-negative integer, got {k}")
    w, b, c = _params(w, b, c)
    v = _bits(v, "v", w.shape[0]).copy()
    p = v
    for _ in range(int(k)):
        h, _ = sample_h(v, w, c, rng)
        v, p = sample_v(h, w, b, rng)
    return v, p


def cd_gradient(v, w, b, c, k, rng, chain=None):
    """The CD-k (or, with chain, persistent CD) estimate of the log-likelihood gradient.

    Positive phase: the data v (N, D) with p(h | v).  Negative phase: k Gibbs steps from the data
    (CD-k) or from the persistent chain states `chain` (PCD), with p(h | v_k).
    Returns (dw, db, dc, v_k): an ascent direction like exact_gradient, and the chain's new states.
    """
    if k < 1:
        raise ValueError(f"contrastive divergence needs k >= 1 Gibbs steps, got {k}")
    w, b, c = _params(w, b, c)
    v = _bits(v, "v", w.shape[0])
    start = v if chain is None else _binary(chain, "chain", w.shape[0])
    vk, _ = gibbs(start, w, b, c, k, rng)
    ph, phk = p_h_given_v(v, w, c), p_h_given_v(vk, w, c)
    dw = v.T @ ph / len(v) - vk.T @ phk / len(vk)
    return dw, v.mean(axis=0) - vk.mean(axis=0), ph.mean(axis=0) - phk.mean(axis=0), vk


def pseudo_log_likelihood(v, w, b, c):
    """sum_i log p(v_i | v_{-i}) for each row of binary v (N, D), exact (all D terms).

    p(v_i | v_-i) = sigma(F(v with v_i flipped) - F(v)): one free-energy difference per unit.
    Returns (N,).
    """
    w, b, c = _params(w, b, c)
    v = _binary(v, "v", w.shape[0])
    f = free_energy(v, w, b, c)
    total = np.zeros(len(v))
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = 1.0 - flipped[:, i]
        total -= softplus(f - free_energy(flipped, w, b, c))   # log sigma(x) = -softplus(-x)
    return total


def init_rbm(n_visible, n_hidden, rng, scale=0.01):
    """w ~ N(0, scale^2) (D, H), b and c zero (as scikit-learn's BernoulliRBM)."""
    return _rng(rng).normal(0.0, scale, (n_visible, n_hidden)), np.zeros(n_visible), np.zeros(n_hidden)


def train_rbm(x, n_hidden, rng, epochs=10, lr=0.1, batch_size=10, k=1, persistent=True, params=None,
              callback=None):
    """Train a binary RBM by gradient ascent with CD-k (persistent=False) or PCD-k estimates.

    x: (N, D) data in [0, 1] (binarised data for a binary RBM; probabilities are accepted as the
    positive phase's v, as for a DBN's upper layers).  Each minibatch takes one step of size lr
    along the estimate.  PCD keeps one chain per minibatch row, started from random bits.
    callback(epoch, w, b, c), if given, is called after every epoch.  Returns (w, b, c).
    """
    x = _bits(x, "x")
    if np.any((x < 0) | (x > 1)):
        raise ValueError("train_rbm needs data in [0, 1]")
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0, lr > 0 and batch_size >= 1, got {epochs}, {lr}, {batch_size}")
    rng = _rng(rng)
    w, b, c = [p.copy() for p in params] if params is not None else init_rbm(x.shape[1], n_hidden, rng)
    chain = (rng.random((min(batch_size, len(x)), x.shape[1])) < 0.5).astype(float) if persistent else None
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = x[order[start:start + batch_size]]
            use = None if chain is None else chain[:len(batch)]
            dw, db, dc, vk = cd_gradient(batch, w, b, c, k, rng, chain=use)
            if chain is not None:
                chain[:len(batch)] = vk
            w, b, c = w + lr * dw, b + lr * db, c + lr * dc
        if callback is not None:
            callback(epoch, w, b, c)
    return w, b, c


# ---------------------------------------------------------------- deep belief network

def dbn_pretrain(x, hidden_sizes, rng, **train_options):
    """Greedy layer-wise pre-training: an RBM on x, the next on its hidden probabilities, and so on.

    Returns a list of (w, b, c), one per layer, bottom first.  train_options go to train_rbm.
    """
    layers, inputs = [], _bits(x, "x")
    for n_hidden in hidden_sizes:
        w, b, c = train_rbm(inputs, n_hidden, rng, **train_options)
        layers.append((w, b, c))
        inputs = p_h_given_v(inputs, w, c)   # mean-field activities feed the next RBM
    return layers


def dbn_transform(x, layers):
    """The hidden probabilities of the top layer of a DBN, propagated bottom-up."""
    a = _bits(x, "x")
    for w, _, c in layers:
        a = p_h_given_v(a, w, c)
    return a


def dbn_classifier(layers, n_classes, rng):
    """A multilayer perceptron (lib.nn) with sigmoid hidden layers initialised from a pre-trained DBN
    (each layer's w and hidden bias c) and a new linear output layer of n_classes scores, ready for
    fine-tuning with backpropagation (chapter 2)."""
    from lib import nn

    sizes = [layers[0][0].shape[0]] + [w.shape[1] for w, _, _ in layers] + [n_classes]
    for (w, _, _), (up, _, _) in zip(layers, layers[1:]):
        if w.shape[1] != up.shape[0]:
            raise ValueError(f"stacked layers must match: {w.shape} is followed by {up.shape}")
    model = nn.mlp(sizes, rng, activation="sigmoid")
    for linear, (w, _, c) in zip(model.layers[0::2], layers):
        linear.w[...] = w
        linear.b[...] = c
    return model
