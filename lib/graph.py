"""Graphs as matrices, spectral filters and the graph convolution (chapter 7).

A graph on N nodes is its adjacency matrix A (N, N), dense NumPy or ``scipy.sparse``, with
nonnegative edge weights; node features are the rows of X (N, D).  Every function accepts
either kind of adjacency and returns the same kind (sparse results are CSR arrays).

Chapter 7 derives: the Laplacian L = D - A and its quadratic form, the normalised Laplacian
I - D^-1/2 A D^-1/2 (eigenvalues in [0, 2]), Chebyshev filters T_r(L~) and their r-hop
locality, the renormalised adjacency D^-1/2 (A + I) D^-1/2 of the GCN, and the GCN layer's
backward pass.  The spatial helpers (scatter pooling, read-out, one message-passing step with
node, edge and global features) are the permutation-invariant building blocks of section 7.6.
"""
import numpy as np
import scipy.sparse as sps

from lib import init
from lib.nn import WeightLayer

POOLS = ("sum", "mean", "max")


# ----- adjacency matrices -----------------------------------------------------------------------


def as_adjacency(a, what="adjacency", symmetric=False):
    """A validated float adjacency: square, finite, nonnegative (and symmetric if asked).

    Dense input comes back as a float ndarray, sparse input as a CSR array.
    """
    if sps.issparse(a):
        a = sps.csr_array(a, dtype=float)
        entries = a.data
    else:
        a = np.asarray(a, dtype=float)
        entries = a
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{what} must be a square (N, N) matrix, got shape {a.shape}")
    if not np.all(np.isfinite(entries)):
        raise ValueError(f"{what} must have finite entries")
    if np.any(entries < 0):
        raise ValueError(f"{what} must have nonnegative edge weights, got {float(entries.min())}")
    if symmetric:
        gap = abs(a - a.T)
        gap = float(gap.max()) if gap.size else 0.0
        scale = float(abs(entries).max()) if entries.size else 0.0
        if gap > 1e-12 * scale:  # relative, so a graph of tiny weights is judged like any other
            raise ValueError(f"{what} must be symmetric (an undirected graph); |A - A^T| reaches {float(gap):.3g}")
    return a


def _identity_like(a):
    n = a.shape[0]
    return sps.eye_array(n, format="csr") if sps.issparse(a) else np.eye(n)


def _scale(a, left, right):
    """diag(left) @ a @ diag(right), for dense or sparse a."""
    if sps.issparse(a):
        return sps.csr_array(sps.diags_array(left) @ a @ sps.diags_array(right))
    return left[:, None] * a * right[None, :]


def degrees(a):
    """d_i = sum_j a_ij, the (weighted) degree of every node: shape (N,)."""
    a = as_adjacency(a)
    return np.asarray(a.sum(axis=1), dtype=float).ravel()


def _inv_sqrt(d):
    # an isolated node (d = 0) gets 0 here, so its row of D^-1/2 A D^-1/2 stays zero
    out = np.zeros_like(d)
    out[d > 0] = 1.0 / np.sqrt(d[d > 0])
    return out


def laplacian(a):
    """L = D - A for an undirected graph (A symmetric)."""
    a = as_adjacency(a, symmetric=True)
    d = degrees(a)
    if sps.issparse(a):
        return sps.csr_array(sps.diags_array(d) - a)
    return np.diag(d) - a


def normalized_adjacency(a):
    """D^-1/2 A D^-1/2 (isolated nodes give zero rows)."""
    a = as_adjacency(a, symmetric=True)
    s = _inv_sqrt(degrees(a))
    return _scale(a, s, s)


def normalized_laplacian(a):
    """L_sym = I - D^-1/2 A D^-1/2; for an undirected graph its eigenvalues lie in [0, 2]."""
    return _identity_like(a) - normalized_adjacency(a)


def row_normalized(a):
    """D^-1 A: every row of a node with neighbours sums to one (the mean of its neighbours)."""
    a = as_adjacency(a)
    d = degrees(a)
    inv = np.zeros_like(d)
    inv[d > 0] = 1.0 / d[d > 0]
    return _scale(a, inv, np.ones_like(d))


def renormalized_adjacency(a):
    """The GCN's propagation matrix D^-1/2 (A + I) D^-1/2, with D the degrees of A + I.

    Its eigenvalues lie in (-1, 1] for an undirected graph (chapter 7 proves it).
    """
    a = as_adjacency(a, symmetric=True)
    a_hat = a + _identity_like(a)
    s = 1.0 / np.sqrt(degrees(a_hat))
    return _scale(a_hat, s, s)


def scaled_laplacian(a, lmax=2.0):
    """L~ = 2 L_sym / lmax - I, which maps the spectrum [0, lmax] of L_sym onto [-1, 1]."""
    if not lmax > 0:
        raise ValueError(f"scaled_laplacian needs lmax > 0, got {lmax}")
    return normalized_laplacian(a) * (2.0 / lmax) - _identity_like(a)


def fourier_basis(lap):
    """Eigenvalues (ascending) and orthonormal eigenvectors U (columns) of a symmetric Laplacian.

    The graph Fourier transform of a signal x (N,) is U^T x; its inverse is U x_hat.
    """
    lap = lap.toarray() if sps.issparse(lap) else np.asarray(lap, dtype=float)
    if lap.ndim != 2 or lap.shape[0] != lap.shape[1]:
        raise ValueError(f"fourier_basis expects a square (N, N) Laplacian, got shape {lap.shape}")
    return np.linalg.eigh(lap)


def spectral_filter(x, lap, g):
    """U g(Lambda) U^T x: filter the signal(s) x (N,) or (N, D) by the response g(lambda).

    g maps the array of eigenvalues to the array of gains.  Needs an eigendecomposition,
    O(N^3): the Chebyshev filters below reach the same result for a polynomial g without one.
    """
    lam, u = fourier_basis(lap)
    x = np.asarray(x, dtype=float)
    if x.shape[0] != lam.shape[0]:
        raise ValueError(f"spectral_filter expects x with {lam.shape[0]} rows (one per node), got {x.shape}")
    gains = np.asarray(g(lam), dtype=float)
    x_hat = u.T @ x
    return u @ (gains.reshape((-1,) + (1,) * (x.ndim - 1)) * x_hat)


# ----- Chebyshev filters --------------------------------------------------------------------------


def chebyshev_basis(lap_scaled, degree):
    """[T_0(L~), ..., T_R(L~)] for R = degree, by T_r = 2 L~ T_(r-1) - T_(r-2).

    T_r(L~) is zero between nodes more than r hops apart (section 7.3).
    """
    if int(degree) != degree or degree < 0:
        raise ValueError(f"chebyshev_basis needs a degree R >= 0, got {degree}")
    m = lap_scaled if sps.issparse(lap_scaled) else np.asarray(lap_scaled, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"chebyshev_basis expects a square (N, N) matrix, got shape {m.shape}")
    basis = [_identity_like(m), m]
    for _ in range(2, int(degree) + 1):
        basis.append(2 * (m @ basis[-1]) - basis[-2])
    return basis[: int(degree) + 1]


def _check_features(x, a, who):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"{who} expects node features x of shape (N, D), got {x.shape}")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{who} expects a square (N, N) adjacency, got shape {a.shape}")
    if a.shape[1] != x.shape[0]:
        raise ValueError(f"{who}: the adjacency is {a.shape} but x has {x.shape[0]} rows (one per node)")
    return x


def cheb_conv_forward(x, lap_scaled, w, b=None):
    """out = sum_r T_r(L~) x w_r + b, a Chebyshev filter of degree R.

    x: (N, D); lap_scaled: (N, N) dense or sparse; w: (R + 1, D, M); b: (M,) or None.
    The products T_r(L~) x come from the recurrence, never forming T_r(L~).
    """
    x = _check_features(x, lap_scaled, "cheb_conv")
    if w.ndim != 3 or w.shape[1] != x.shape[1]:
        raise ValueError(f"cheb_conv expects w of shape (R + 1, {x.shape[1]}, M), got {w.shape}")
    if b is not None and b.shape != (w.shape[2],):
        raise ValueError(f"cheb_conv expects b of shape ({w.shape[2]},), got {b.shape}")
    tx = [x, lap_scaled @ x]
    for _ in range(2, w.shape[0]):
        tx.append(2 * (lap_scaled @ tx[-1]) - tx[-2])
    tx = np.stack(tx[: w.shape[0]])
    out = np.einsum("rnd,rdm->nm", tx, w)
    if b is not None:
        out = out + b
    return out, (tx, lap_scaled, w, b is not None)


def cheb_conv_backward(dout, cache):
    """dx, dw (and db when the forward had a bias) from dout = dL/dout (N, M).

    dw_r = (T_r x)^T dout; dx = sum_r T_r(L~)^T dout w_r^T, summed by Clenshaw's
    recurrence in L~^T (T_r(L~)^T = T_r(L~^T)).
    """
    tx, m, w, has_b = cache
    if dout.shape != (tx.shape[1], w.shape[2]):
        raise ValueError(f"cheb_conv backward expects dout of shape {(tx.shape[1], w.shape[2])}, got {dout.shape}")
    dw = np.einsum("rnd,nm->rdm", tx, dout)
    c = np.einsum("nm,rdm->rnd", dout, w)  # c_r = dout w_r^T
    mt = m.T
    b1, b2 = np.zeros_like(c[0]), np.zeros_like(c[0])
    for r in range(len(c) - 1, 0, -1):
        b1, b2 = c[r] + 2 * (mt @ b1) - b2, b1
    dx = c[0] + mt @ b1 - b2
    return (dx, dw, dout.sum(axis=0)) if has_b else (dx, dw)


# ----- the graph convolution ----------------------------------------------------------------------


def gcn_forward(x, a_hat, w, b=None):
    """One graph convolution without nonlinearity: out = A_hat x w + b.

    x: (N, D) node features; a_hat: (N, N) propagation matrix, dense or sparse (a constant,
    e.g. renormalized_adjacency(A)); w: (D, M); b: (M,) or None.  Returns out (N, M) and the
    cache for gcn_backward.  Derived in chapter 7.
    """
    x = _check_features(x, a_hat, "gcn")
    if w.ndim != 2 or w.shape[0] != x.shape[1]:
        raise ValueError(f"gcn expects w of shape ({x.shape[1]}, M) to match x {x.shape}, got {w.shape}")
    if b is not None and b.shape != (w.shape[1],):
        raise ValueError(f"gcn expects b of shape ({w.shape[1]},), got {b.shape}")
    ax = a_hat @ x  # aggregate the neighbours once; the backward pass reuses it for dw
    out = ax @ w
    if b is not None:
        out = out + b
    return out, (ax, a_hat, w, b is not None)


def gcn_backward(dout, cache):
    """Given dout = dL/dout (N, M): dx = A_hat^T dout w^T (N, D), dw = (A_hat x)^T dout (D, M),
    and db = sum over nodes of dout (M,) when the forward had a bias."""
    ax, a_hat, w, has_b = cache
    if dout.shape != (ax.shape[0], w.shape[1]):
        raise ValueError(f"gcn backward expects dout of shape {(ax.shape[0], w.shape[1])}, got {dout.shape}")
    dw = ax.T @ dout  # the same w serves every node, so the nodes' contributions add up
    dx = a_hat.T @ (dout @ w.T)
    return (dx, dw, dout.sum(axis=0)) if has_b else (dx, dw)


class GCN(WeightLayer):
    """A graph convolution layer out = A_hat x w + b on a fixed graph, for lib.nn.Sequential.

    a_hat: the propagation matrix (dense or sparse), e.g. renormalized_adjacency(A).
    """

    def __init__(self, a_hat, d_in, d_out, rng, init_name="xavier"):
        if not (sps.issparse(a_hat) or isinstance(a_hat, np.ndarray)) or a_hat.ndim != 2 \
                or a_hat.shape[0] != a_hat.shape[1]:
            raise ValueError(f"GCN expects a square (N, N) propagation matrix, got {getattr(a_hat, 'shape', a_hat)}")
        self.a_hat = a_hat
        self.w = init.get(init_name)((d_in, d_out), rng)
        self.b = np.zeros(d_out)

    def forward(self, x):
        out, self.cache = gcn_forward(x, self.a_hat, self.w, self.b)
        return out

    def backward(self, dout):
        dx, dw, db = gcn_backward(dout, self.cache)
        self._grads = {"w": dw, "b": db}
        return dx


def masked(loss_fn, rows):
    """loss_fn restricted to the given rows: (z, y) -> (loss on z[rows], dL/dz with zeros elsewhere).

    Semi-supervised node classification: every node's features enter the forward pass, only the
    labelled nodes enter the loss.
    """
    rows = np.asarray(rows)

    def loss(z, y):
        value, dz_rows = loss_fn(z[rows], y[rows])
        dz = np.zeros_like(z)
        dz[rows] = dz_rows
        return value, dz

    return loss


def fit_nodes(model, loss_fn, optimizer, x, y, labelled, epochs, on_epoch=None):
    """Full-batch training of a node classifier whose loss sees only the ``labelled`` rows.

    on_epoch(epoch, model) is called after each step (e.g. to record embeddings).
    Returns the training losses.
    """
    loss = masked(loss_fn, labelled)
    losses = []
    for epoch in range(epochs):
        model.train()
        value, dz = loss(model.forward(x), y)
        model.backward(dz)
        optimizer.step(model.params(), model.grads())
        losses.append(float(value))
        if on_epoch is not None:
            on_epoch(epoch, model)
    model.eval()
    return losses


def dirichlet_energy(x, a):
    """sum over edges {i, j} of a_ij ||x_i - x_j||^2 (each undirected edge once)."""
    a = as_adjacency(a, symmetric=True)
    x = np.asarray(x, dtype=float).reshape(a.shape[0], -1)
    rows, cols, vals = _edges(a)
    keep = rows < cols
    diff = x[rows[keep]] - x[cols[keep]]
    return float(np.sum(vals[keep] * np.sum(diff**2, axis=1)))


def smoothness(x, a):
    """The Rayleigh quotient tr(x^T L_sym x) / ||x||^2 of the normalised Laplacian of A + I:
    0 when every column of x is proportional to sqrt(d_i + 1), larger when neighbours differ.
    Chapter 7 uses it to measure over-smoothing."""
    a = as_adjacency(a, symmetric=True)
    x = np.asarray(x, dtype=float).reshape(a.shape[0], -1)
    norm = np.sum(x**2)
    if norm == 0:
        raise ValueError("smoothness is undefined for an all-zero x")
    lap = _identity_like(a) - renormalized_adjacency(a)
    return float(np.sum(x * (lap @ x)) / norm)


# ----- the spatial view: pooling, read-out, message passing ---------------------------------------


def _edges(a):
    coo = sps.coo_array(a) if sps.issparse(a) else sps.coo_array(np.asarray(a))
    return coo.row.astype(int), coo.col.astype(int), coo.data.astype(float)


def edge_list(a):
    """(senders, receivers, weights) of every nonzero a_ij, read as an edge from node j to node i.

    An undirected edge appears twice, once in each direction; (A x)_i sums over the senders into i.
    """
    rows, cols, vals = _edges(as_adjacency(a))
    return cols, rows, vals


def scatter_pool(values, index, n, how="sum"):
    """out[k] = pool of values[e] over every e with index[e] == k: shape (n, D).

    how: "sum", "mean" or "max".  An empty group gets zeros.
    """
    if how not in POOLS:
        raise ValueError(f"pooling must be one of {POOLS}, got {how!r}")
    values = np.asarray(values, dtype=float)
    index = np.asarray(index)
    if values.ndim != 2 or index.shape != (values.shape[0],):
        raise ValueError(f"scatter_pool expects values (E, D) and an index of shape (E,), got {values.shape} "
                         f"and {index.shape}")
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"scatter_pool: indices must lie in [0, {n}), got [{index.min()}, {index.max()}]")
    out = np.zeros((n, values.shape[1]))
    if how == "max":
        out[:] = -np.inf
        np.maximum.at(out, index, values)
        out[np.isneginf(out)] = 0.0
        return out
    np.add.at(out, index, values)
    if how == "mean":
        counts = np.bincount(index, minlength=n)
        out[counts > 0] /= counts[counts > 0, None]
    return out


def _graph_index(graph, n):
    graph = np.zeros(n, dtype=int) if graph is None else np.asarray(graph)
    if graph.shape != (n,) or not np.issubdtype(graph.dtype, np.integer):
        raise ValueError(f"readout expects an integer graph index of shape ({n},), got {graph.shape} {graph.dtype}")
    g = int(graph.max()) + 1 if n else 0
    if n and (graph.min() < 0 or np.any(np.bincount(graph, minlength=g) == 0)):
        raise ValueError(f"readout: graph indices must be 0..G-1 with every graph nonempty, got {np.unique(graph)}")
    return graph, g


def readout_forward(x, how="mean", graph=None):
    """Graph-level vectors: pool the node rows of x (N, D) of each graph; returns (G, D) and a cache.

    graph: (N,) index of the graph each node belongs to (default: one graph).  The result does
    not depend on the order of the nodes (section 7.6).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"readout expects node features of shape (N, D), got {x.shape}")
    graph, g = _graph_index(graph, x.shape[0])
    out = scatter_pool(x, graph, g, how)
    arg = None
    if how == "max":  # the node that won each (graph, feature); ties go to the first node
        arg = np.zeros((g, x.shape[1]), dtype=int)
        for k in range(g):
            nodes = np.flatnonzero(graph == k)
            arg[k] = nodes[np.argmax(x[nodes], axis=0)]
    return out, (how, graph, g, x.shape, arg)


def readout_backward(dout, cache):
    """dx (N, D) from dout = dL/dreadout (G, D): copied (sum), shared out (mean), or routed to
    the maximum (max)."""
    how, graph, g, shape, arg = cache
    if dout.shape != (g, shape[1]):
        raise ValueError(f"readout backward expects dout of shape {(g, shape[1])}, got {dout.shape}")
    if how == "sum":
        return dout[graph].copy()
    if how == "mean":
        return dout[graph] / np.bincount(graph, minlength=g)[graph, None]
    dx = np.zeros(shape)
    cols = np.arange(shape[1])
    for k in range(g):
        dx[arg[k], cols] += dout[k]
    return dx


def graph_network_step(v, e, u, senders, receivers, phi_e, phi_v, phi_u, how="sum"):
    """One message-passing step with node, edge and global features (a graph-network block).

    v: (N, Dv) nodes; e: (E, De) edges, edge k from senders[k] to receivers[k]; u: (Du,) global.
      e'_k = phi_e([e_k, v_s(k), v_r(k), u])                  every edge reads its two ends
      v'_i = phi_v([pool of e'_k into i, v_i, u])             every node reads its incoming edges
      u'   = phi_u([pool of all e', pool of all v', u])       the global vector reads everything
    phi_*: functions of a 2-D array (rows = items), e.g. a lib.nn.mlp.  Returns (v', e', u').
    The pooling ("sum", "mean", "max") is what makes the step independent of the node order.
    """
    v, e, u = np.asarray(v, float), np.asarray(e, float), np.asarray(u, float)
    senders, receivers = np.asarray(senders), np.asarray(receivers)
    if v.ndim != 2 or e.ndim != 2 or u.ndim != 1:
        raise ValueError(f"graph_network_step expects v (N, Dv), e (E, De), u (Du,), "
                         f"got {v.shape}, {e.shape}, {u.shape}")
    if senders.shape != (e.shape[0],) or receivers.shape != (e.shape[0],):
        raise ValueError(f"graph_network_step expects senders and receivers of shape ({e.shape[0]},), got "
                         f"{senders.shape} and {receivers.shape}")
    n = v.shape[0]
    e_new = phi_e(np.hstack([e, v[senders], v[receivers], np.tile(u, (e.shape[0], 1))]))
    incoming = scatter_pool(e_new, receivers, n, how)
    v_new = phi_v(np.hstack([incoming, v, np.tile(u, (n, 1))]))
    pooled_e = scatter_pool(e_new, np.zeros(len(e_new), int), 1, how)[0]
    pooled_v = scatter_pool(v_new, np.zeros(n, int), 1, how)[0]
    u_new = phi_u(np.concatenate([pooled_e, pooled_v, u])[None, :])[0]
    return v_new, e_new, u_new


def random_graph(n, mean_degree, rng, weighted=False):
    """A symmetric sparse adjacency (CSR) of an Erdos-Renyi-style graph with about n * mean_degree / 2
    edges, no self-loops; weights uniform on (0, 1] if weighted, else 1."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"random_graph expects a numpy.random.Generator, got {type(rng).__name__}")
    if n < 2 or not 0 < mean_degree < n:
        raise ValueError(f"random_graph needs n >= 2 and 0 < mean_degree < n, got {n} and {mean_degree}")
    m = int(round(n * mean_degree / 2))
    i, j = rng.integers(0, n, size=(2, 2 * m))
    keep = i != j
    i, j = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    pairs = np.stack([i, j], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    pairs = pairs[np.sort(first)][:m]  # distinct pairs in the order drawn, so no node is favoured
    w = 1.0 - rng.random(len(pairs)) if weighted else np.ones(len(pairs))
    upper = sps.coo_array((w, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return sps.csr_array(upper + upper.T)
