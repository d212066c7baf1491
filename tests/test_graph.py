"""lib.graph: Laplacians, Chebyshev filters, the GCN layer (dense and sparse), pooling and read-out."""
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sps

from lib import graph as G
from lib import losses, nn, optim
from lib.gradcheck import check_layer, check_model, directional_check


def small_graph(rng, n=7, p=0.5, weighted=True):
    """A random symmetric weighted adjacency with no self-loops (dense)."""
    upper = np.triu((rng.random((n, n)) < p) * (rng.random((n, n)) + 0.1 if weighted else 1.0), 1)
    return upper + upper.T


@pytest.fixture(params=["dense", "sparse"])
def kind(request):
    return request.param


def as_kind(a, kind):
    return sps.csr_array(a) if kind == "sparse" else np.asarray(a)


def dense(m):
    return m.toarray() if sps.issparse(m) else m


# ----- adjacency, Laplacians, spectra -----------------------------------------------------------


def test_laplacian_rows_sum_to_zero_and_quadratic_form(rng, kind):
    a = small_graph(rng)
    lap = G.laplacian(as_kind(a, kind))
    assert sps.issparse(lap) == (kind == "sparse")
    lap = dense(lap)
    np.testing.assert_allclose(lap.sum(axis=1), 0, atol=1e-12)
    x = rng.standard_normal(a.shape[0])
    edges = sum(a[i, j] * (x[i] - x[j]) ** 2 for i in range(len(x)) for j in range(i + 1, len(x)))
    np.testing.assert_allclose(x @ lap @ x, edges, rtol=1e-12)
    assert G.dirichlet_energy(x, as_kind(a, kind)) == pytest.approx(edges, rel=1e-12)


def test_normalised_laplacian_spectrum_in_0_2_and_2_for_bipartite(kind):
    for seed in range(20):
        a = small_graph(np.random.default_rng(seed), n=9, p=0.4)
        lam = np.linalg.eigvalsh(dense(G.normalized_laplacian(as_kind(a, kind))))
        assert lam.min() >= -1e-12 and lam.max() <= 2 + 1e-12
    bip = nx.to_numpy_array(nx.complete_bipartite_graph(3, 4))
    lam = np.linalg.eigvalsh(dense(G.normalized_laplacian(as_kind(bip, kind))))
    assert lam[0] == pytest.approx(0, abs=1e-12) and lam[-1] == pytest.approx(2, abs=1e-12)
    # a wrong normalisation (D^-1 instead of D^-1/2 on both sides) is not even symmetric
    assert not np.allclose(dense(G.row_normalized(bip)), dense(G.row_normalized(bip)).T)


def test_renormalised_adjacency_matches_its_entries_and_spectrum(rng, kind):
    a = small_graph(rng)
    r = dense(G.renormalized_adjacency(as_kind(a, kind)))
    d_hat = a.sum(axis=1) + 1
    want = (a + np.eye(len(a))) / np.sqrt(np.outer(d_hat, d_hat))
    np.testing.assert_allclose(r, want, rtol=1e-13)
    lam = np.linalg.eigvalsh(r)
    assert lam.min() > -1 and lam.max() == pytest.approx(1, abs=1e-12)
    np.testing.assert_allclose(r @ np.sqrt(d_hat), np.sqrt(d_hat), rtol=1e-12)


def test_row_normalised_and_isolated_nodes(kind):
    a = np.array([[0, 2, 0], [2, 0, 0], [0, 0, 0.0]])
    rn = dense(G.row_normalized(as_kind(a, kind)))
    np.testing.assert_allclose(rn.sum(axis=1), [1, 1, 0])
    ln = dense(G.normalized_laplacian(as_kind(a, kind)))
    assert np.all(np.isfinite(ln)) and ln[2, 2] == 1.0
    assert np.all(np.isfinite(dense(G.renormalized_adjacency(as_kind(a, kind)))))


def test_fourier_basis_and_polynomial_filter(rng):
    a = small_graph(rng)
    lap = G.laplacian(a)
    lam, u = G.fourier_basis(lap)
    np.testing.assert_allclose(u @ np.diag(lam) @ u.T, lap, atol=1e-12)
    x = rng.standard_normal((len(a), 3))
    got = G.spectral_filter(x, lap, lambda l: 0.5 - 0.2 * l + 0.1 * l**2)
    np.testing.assert_allclose(got, 0.5 * x - 0.2 * lap @ x + 0.1 * lap @ lap @ x, atol=1e-12)
    with pytest.raises(ValueError, match="one per node"):
        G.spectral_filter(x[:-1], lap, np.ones_like)


def test_chebyshev_basis_recurrence_and_locality(kind):
    path = nx.to_numpy_array(nx.path_graph(8))
    ls = G.scaled_laplacian(as_kind(path, kind))
    basis = G.chebyshev_basis(ls, 4)
    assert len(basis) == 5
    m = dense(ls)
    np.testing.assert_allclose(dense(basis[3]), 4 * m @ m @ m - 3 * m, atol=1e-12)
    hops = np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
    for r, t in enumerate(basis):
        t = dense(t)
        assert np.all(t[hops > r] == 0) and np.all(t[hops == r] != 0)
    with pytest.raises(ValueError, match="degree"):
        G.chebyshev_basis(ls, -1)
    with pytest.raises(ValueError, match="lmax"):
        G.scaled_laplacian(path, lmax=0)


# ----- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 4)), "square"),
        (np.zeros(3), "square"),
        (np.array([[0, -1.0], [-1, 0]]), "nonnegative"),
        (np.array([[0, np.nan], [np.nan, 0]]), "finite"),
        (np.array([[0, 1.0], [0, 0]]), "symmetric"),
    ],
)
def test_adjacency_errors(bad, match, kind):
    with pytest.raises(ValueError, match=match):
        G.laplacian(as_kind(bad, kind) if bad.ndim == 2 else bad)


def test_symmetry_is_judged_relative_to_the_weights(kind):
    tiny = np.array([[0, 1e-20], [2e-20, 0]])
    with pytest.raises(ValueError, match="symmetric"):
        G.laplacian(as_kind(tiny, kind))
    G.laplacian(as_kind(np.array([[0, 1e300], [1e300 * (1 + 1e-15), 0]]), kind))  # rounding-level gap


def test_gcn_shape_errors(rng, kind):
    a = as_kind(G.renormalized_adjacency(small_graph(rng, n=5)), kind)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="4 rows"):
        G.gcn_forward(x[:4], a, w, b)
    with pytest.raises(ValueError, match="square"):
        G.gcn_forward(x, np.zeros((5, 4)), w, b)
    with pytest.raises(ValueError, match="w of shape"):
        G.gcn_forward(x, a, w.T, b)
    with pytest.raises(ValueError, match="b of shape"):
        G.gcn_forward(x, a, w, np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        G.gcn_forward(x[:, 0], a, w, b)
    _, cache = G.gcn_forward(x, a, w, b)
    with pytest.raises(ValueError, match="dout"):
        G.gcn_backward(np.zeros((5, 3)), cache)
    with pytest.raises(ValueError, match="square"):
        G.GCN(np.zeros((5, 4)), 3, 2, rng)
    with pytest.raises(ValueError, match=r"w of shape \(R \+ 1"):
        G.cheb_conv_forward(x, a, rng.standard_normal((2, 4, 2)))
    with pytest.raises(ValueError, match="rows"):
        G.cheb_conv_forward(x[:3], a, rng.standard_normal((2, 3, 2)))


# ----- finite differences -----------------------------------------------------------------------


def test_gcn_backward_finite_differences(rng, kind):
    a = as_kind(G.renormalized_adjacency(small_graph(rng, n=6)), kind)
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    fwd = lambda x, w, b: G.gcn_forward(x, a, w, b)  # noqa: E731
    assert check_layer(fwd, G.gcn_backward, [x, w, b], rng) < 1e-8
    fwd_nb = lambda x, w: G.gcn_forward(x, a, w)  # noqa: E731
    assert check_layer(fwd_nb, G.gcn_backward, [x, w], rng) < 1e-8


def test_gcn_backward_on_a_nonsymmetric_propagation_matrix(rng, kind):
    a = as_kind(G.row_normalized(small_graph(rng, n=6)), kind)  # D^-1 A: A_hat^T != A_hat
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    assert check_layer(lambda x, w: G.gcn_forward(x, a, w), G.gcn_backward, [x, w], rng) < 1e-8


def test_gcn_directional_check_at_realistic_size(rng):
    a = G.renormalized_adjacency(G.random_graph(2000, 10, rng))
    x, w, b = rng.standard_normal((2000, 32)), rng.standard_normal((32, 16)), rng.standard_normal(16)
    for i in range(3):
        assert directional_check(lambda *p: G.gcn_forward(p[0], a, p[1], p[2]), G.gcn_backward, [x, w, b],
                                 rng, wrt=i) < 1e-8


def test_cheb_conv_backward_finite_differences(rng, kind):
    ls = as_kind(dense(G.scaled_laplacian(small_graph(rng, n=6))) + np.triu(rng.random((6, 6)), 1) * 0.3, kind)
    x, b = rng.standard_normal((6, 3)), rng.standard_normal(2)
    for degree in (0, 1, 2, 4):
        theta = rng.standard_normal((degree + 1, 3, 2))
        fwd = lambda x, t, b: G.cheb_conv_forward(x, ls, t, b)  # noqa: E731
        assert check_layer(fwd, G.cheb_conv_backward, [x, theta, b], rng) < 1e-8


def test_cheb_conv_equals_its_basis_and_gcn_first_order(rng, kind):
    a = small_graph(rng, n=6)
    ls = as_kind(G.scaled_laplacian(a), kind)
    x, theta = rng.standard_normal((6, 3)), rng.standard_normal((3, 3, 2))
    out, _ = G.cheb_conv_forward(x, ls, theta)
    basis = G.chebyshev_basis(ls, 2)
    np.testing.assert_allclose(out, sum(dense(t) @ x @ th for t, th in zip(basis, theta)), atol=1e-12)
    # degree 1 with theta_1 = -theta_0 and lmax = 2 is the GCN on I + D^-1/2 A D^-1/2
    th = rng.standard_normal((3, 2))
    first, _ = G.cheb_conv_forward(x, ls, np.stack([th, -th]))
    gcn, _ = G.gcn_forward(x, np.eye(6) + dense(G.normalized_adjacency(a)), th)
    np.testing.assert_allclose(first, gcn, atol=1e-12)


def test_readout_backward_finite_differences(rng):
    x = rng.standard_normal((7, 3))
    graph = np.array([0, 0, 1, 1, 1, 2, 2])
    for how in G.POOLS:
        err = check_layer(lambda x: G.readout_forward(x, how, graph), G.readout_backward, [x], rng)
        assert err < 1e-8, how
    out, _ = G.readout_forward(x, "mean", graph)
    np.testing.assert_allclose(out[1], x[2:5].mean(axis=0))
    with pytest.raises(ValueError, match="nonempty"):
        G.readout_forward(x, "sum", np.array([0, 0, 2, 2, 2, 2, 2]))
    with pytest.raises(ValueError, match="pooling"):
        G.readout_forward(x, "median")


def test_pooling_and_message_passing_are_permutation_invariant(rng):
    a = small_graph(rng, n=8, p=0.5)
    senders, receivers, weights = G.edge_list(a)
    v, e, u = rng.standard_normal((8, 3)), weights[:, None], rng.standard_normal(2)
    phi_e, phi_v, phi_u = (nn.mlp([d, 5, 4], np.random.default_rng(k)) for k, d in enumerate([1 + 3 + 3 + 2, 4 + 3 + 2,
                                                                                             4 + 4 + 2]))
    perm = rng.permutation(8)
    where = np.argsort(perm)  # node perm[k] becomes node k
    for how in G.POOLS:
        v1, e1, u1 = G.graph_network_step(v, e, u, senders, receivers, phi_e, phi_v, phi_u, how)
        v2, e2, u2 = G.graph_network_step(v[perm], e, u, where[senders], where[receivers], phi_e, phi_v, phi_u, how)
        np.testing.assert_allclose(v2, v1[perm], atol=1e-12)
        np.testing.assert_allclose(e2, e1, atol=1e-12)
        np.testing.assert_allclose(u2, u1, atol=1e-12)
        np.testing.assert_allclose(G.readout_forward(v[perm], how)[0], G.readout_forward(v, how)[0], atol=1e-12)
    # the sum over the incoming edges of a sum pooling is A x (senders j -> receivers i)
    x = rng.standard_normal((8, 2))
    np.testing.assert_allclose(G.scatter_pool(weights[:, None] * x[senders], receivers, 8), a @ x, atol=1e-12)


def test_gcn_equivariance(rng, kind):
    a = small_graph(rng, n=7)
    x, w = rng.standard_normal((7, 3)), rng.standard_normal((3, 2))
    perm = rng.permutation(7)
    p = np.eye(7)[perm]
    out = G.gcn_forward(x, as_kind(G.renormalized_adjacency(a), kind), w)[0]
    out_p = G.gcn_forward(p @ x, as_kind(G.renormalized_adjacency(p @ a @ p.T), kind), w)[0]
    np.testing.assert_allclose(out_p, p @ out, atol=1e-12)


# ----- extreme inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150, 1e300])
def test_normalisations_are_finite_and_scale_free(rng, scale, kind):
    a = small_graph(rng, n=6, p=0.7)
    base = dense(G.normalized_adjacency(as_kind(a, kind)))
    got = dense(G.normalized_adjacency(as_kind(a * scale, kind)))
    np.testing.assert_allclose(got, base, rtol=1e-12)  # D^-1/2 A D^-1/2 does not see the scale
    r = dense(G.renormalized_adjacency(as_kind(a * scale, kind)))
    assert np.all(np.isfinite(r)) and np.abs(np.linalg.eigvalsh(r)).max() <= 1 + 1e-12


def test_gcn_is_finite_on_large_and_tiny_features(rng, kind):
    a = as_kind(G.renormalized_adjacency(small_graph(rng, n=6)), kind)
    w = rng.standard_normal((3, 2))
    for scale in (1e-300, 1e150):
        x = rng.standard_normal((6, 3)) * scale
        out, cache = G.gcn_forward(x, a, w)
        dx, dw = G.gcn_backward(np.ones((6, 2)), cache)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx)) and np.all(np.isfinite(dw))


# ----- training -------------------------------------------------------------------------------


def test_gcn_module_trains_in_sequential_and_matches_fd(rng, kind):
    kc = nx.karate_club_graph()
    a = as_kind(G.renormalized_adjacency(nx.to_numpy_array(kc, weight=None)), kind)
    y = np.array([kc.nodes[i]["club"] == "Officer" for i in kc], dtype=int)
    x = np.eye(34)
    model = nn.Sequential(G.GCN(a, 34, 8, rng, "he"), nn.Activation("relu"), G.GCN(a, 8, 2, rng))
    labelled = np.array([0, 33])
    assert check_model_on(model, x, y, labelled) < 1e-7
    hist = G.fit_nodes(model, losses.softmax_cross_entropy, optim.Adam(lr=0.01), x, y, labelled, epochs=100)
    assert hist[-1] < 0.1 * hist[0]
    assert np.mean(model.forward(x).argmax(axis=1) == y) > 0.6  # two labels reach most of the graph


def check_model_on(model, x, y, rows):
    return check_model(model, G.masked(losses.softmax_cross_entropy, rows), x, y)


def test_random_graph_and_smoothness(rng):
    a = G.random_graph(500, 10, rng)
    assert sps.issparse(a) and abs(a - a.T).max() == 0 and a.diagonal().max() == 0
    assert 9 < G.degrees(a).mean() <= 10
    with pytest.raises(ValueError, match="Generator"):
        G.random_graph(10, 2, np.random)
    s = np.sqrt(G.degrees(a) + 1)
    assert G.smoothness(s, a) == pytest.approx(0, abs=1e-12)  # the fixed point of repeated smoothing
    assert G.smoothness(rng.standard_normal(500), a) > 0.5


def test_chapter_figures_are_figures(rng):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib import graphplots

    a = small_graph(rng, n=6)
    pos = rng.standard_normal((6, 2))
    figs = [
        graphplots.signals(a, pos, rng.standard_normal((6, 3)), ["a", "b", "c"]),
        graphplots.embedding_frame(a, pos, rng.standard_normal((6, 2)), np.arange(6) % 2, [0, 5], "t",
                                   [(-3, 3), (-3, 3)]),
        graphplots.depth_sweep([1, 2, 4], rng.random((5, 3)), [0.5, 0.2, 0.1]),
    ]
    for fig in figs:
        assert isinstance(fig, plt.Figure)
        plt.close(fig)


def test_message_passing_and_pooling_errors(rng):
    v, e, u = rng.standard_normal((4, 2)), rng.standard_normal((3, 1)), rng.standard_normal(2)
    ident = lambda z: z  # noqa: E731
    with pytest.raises(ValueError, match="senders and receivers"):
        G.graph_network_step(v, e, u, np.array([0, 1]), np.array([1, 2, 3]), ident, ident, ident)
    with pytest.raises(ValueError, match=r"v \(N, Dv\)"):
        G.graph_network_step(v[:, 0], e, u, np.array([0, 1, 2]), np.array([1, 2, 3]), ident, ident, ident)
    with pytest.raises(ValueError, match="indices must lie"):
        G.scatter_pool(e, np.array([0, 1, 5]), 4)
    with pytest.raises(ValueError, match="pooling"):
        G.scatter_pool(e, np.array([0, 1, 2]), 4, "median")
    with pytest.raises(ValueError, match="square"):
        G.fourier_basis(np.zeros((3, 2)))
    # an empty group pools to zeros, whatever the pooling
    for how in G.POOLS:
        assert np.all(G.scatter_pool(e, np.array([0, 0, 2]), 4, how)[[1, 3]] == 0)
