"""lib.energy: Hopfield network, binary RBM (conditionals, free energy, exact log Z and gradient,
CD-k, PCD, pseudo-log-likelihood) and DBN stacking."""
import numpy as np
import pytest

from lib import energy
from lib.gradcheck import check_layer, directional_check, numerical_gradient, rel_error


def tiny(rng, d=4, h=3, scale=1.0):
    return scale * rng.standard_normal((d, h)), scale * rng.standard_normal(d), scale * rng.standard_normal(h)


def brute_joint(w, b, c):
    """Every (v, h) pair and its unnormalised probability exp(-E)."""
    vs, hs = energy.all_states(w.shape[0]), energy.all_states(w.shape[1])
    v = np.repeat(vs, len(hs), axis=0)
    h = np.tile(hs, (len(vs), 1))
    return v, h, np.exp(-energy.rbm_energy(v, h, w, b, c))


# ------------------------------------------------------------ Hopfield

def test_hebbian_weights_symmetric_zero_diagonal_and_patterns_stable():
    rng = np.random.default_rng(0)
    xi = rng.choice([-1.0, 1.0], size=(3, 100))
    w = energy.hebbian_weights(xi)
    assert np.allclose(w, w.T) and np.all(np.diag(w) == 0)
    end, sweeps = energy.hopfield_recall(xi, w, rng)
    assert np.array_equal(end, xi) and sweeps == 1   # few patterns in many units: each is a fixed point


def test_asynchronous_update_never_raises_the_energy():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((12, 12))
    w = m + m.T
    np.fill_diagonal(w, 0.0)
    b = rng.standard_normal(12)
    a = rng.choice([-1.0, 1.0], size=(50, 12))
    for i in rng.integers(0, 12, 200):
        new = energy.hopfield_update(a, w, b, i)
        assert np.all(energy.hopfield_energy(new, w, b) <= energy.hopfield_energy(a, w, b) + 1e-12)
        a = new


def test_recall_from_a_corrupted_cue():
    rng = np.random.default_rng(2)
    xi = rng.choice([-1.0, 1.0], size=(5, 200))
    cue = energy.flip_spins(xi, 0.15, rng)
    assert np.all(np.sum(cue != xi, axis=1) == 30)
    end, _ = energy.hopfield_recall(cue, energy.hebbian_weights(xi), rng)
    assert np.array_equal(end, xi)


def test_overlap_falls_above_capacity():
    rng = np.random.default_rng(3)
    assert energy.recall_overlap(200, 10, rng) > 0.97     # load 0.05
    assert energy.recall_overlap(200, 60, rng) < 0.6      # load 0.30, far above 0.14


def test_hopfield_errors():
    w = energy.hebbian_weights(np.ones((1, 3)))
    with pytest.raises(ValueError, match="spins"):
        energy.hopfield_energy(np.array([0.0, 1.0, 1.0]), w)
    with pytest.raises(ValueError, match="symmetric"):
        energy.hopfield_energy(np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        energy.hopfield_energy(np.ones(3), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unit index"):
        energy.hopfield_update(np.ones(3), w, None, 3)
    with pytest.raises(ValueError, match="fraction"):
        energy.flip_spins(np.ones(3), 1.5, np.random.default_rng(0))


# ------------------------------------------------------------ RBM: conditionals and free energy

def test_conditionals_against_brute_force():
    rng = np.random.default_rng(4)
    w, b, c = tiny(rng)
    v, h, p = brute_joint(w, b, c)
    for vs in energy.all_states(4):
        rows = np.all(v == vs, axis=1)
        cond = (p[rows][:, None] * h[rows]).sum(axis=0) / p[rows].sum()   # E[h | v] = p(h_j = 1 | v)
        assert rel_error(cond, energy.p_h_given_v(vs, w, c)[0]) < 1e-13
    for hs in energy.all_states(3):
        rows = np.all(h == hs, axis=1)
        cond = (p[rows][:, None] * v[rows]).sum(axis=0) / p[rows].sum()
        assert rel_error(cond, energy.p_v_given_h(hs, w, b)[0]) < 1e-13


def test_free_energy_and_log_partition_against_brute_force():
    rng = np.random.default_rng(5)
    w, b, c = tiny(rng)
    v, h, p = brute_joint(w, b, c)
    vs = energy.all_states(4)
    marg = np.array([p[np.all(v == s, axis=1)].sum() for s in vs])
    assert rel_error(energy.free_energy(vs, w, b, c), -np.log(marg)) < 1e-13
    assert abs(energy.log_partition(w, b, c) - np.log(p.sum())) < 1e-12
    # the other enumeration (more visible than hidden units) gives the same log Z
    assert abs(energy.log_partition(w.T, c, b) - np.log(p.sum())) < 1e-12
    ll = energy.log_likelihood(vs, w, b, c)
    assert abs(np.exp(ll).sum() - 1.0) < 1e-12


def test_free_energy_backward_finite_differences():
    rng = np.random.default_rng(6)
    w, b, c = tiny(rng, 5, 4)
    v = rng.random((7, 5))
    err = check_layer(energy.free_energy_forward, energy.free_energy_backward, [v, w, b, c], rng)
    assert err < 1e-7
    w, b, c = tiny(rng, 64, 30, 0.3)
    v = rng.random((20, 64))
    for i in range(4):
        assert directional_check(energy.free_energy_forward, energy.free_energy_backward, [v, w, b, c], rng, i) < 1e-7


def test_free_energy_finite_for_extreme_parameters():
    rng = np.random.default_rng(7)
    w, b, c = tiny(rng, 6, 5, 300.0)
    v = (rng.random((8, 6)) < 0.5).astype(float)
    f, cache = energy.free_energy_forward(v, w, b, c)
    grads = energy.free_energy_backward(np.ones(8), cache)
    assert np.all(np.isfinite(f)) and all(np.all(np.isfinite(g)) for g in grads)
    assert np.all(np.isfinite(energy.log_likelihood(v, w, b, c)))
    assert np.all(np.isfinite(energy.pseudo_log_likelihood(v, w, b, c)))
    assert all(np.all(np.isfinite(g)) for g in energy.exact_gradient(v, w, b, c))


# ------------------------------------------------------------ exact gradient, CD, PCD, PLL

def mean_ll(v, w, b, c):
    return float(energy.log_likelihood(v, w, b, c).mean())


def test_exact_gradient_against_finite_differences():
    rng = np.random.default_rng(8)
    w, b, c = tiny(rng)
    v = (rng.random((9, 4)) < 0.4).astype(float)
    dw, db, dc = energy.exact_gradient(v, w, b, c)
    assert rel_error(dw, numerical_gradient(lambda a: mean_ll(v, a, b, c), w)) < 1e-7
    assert rel_error(db, numerical_gradient(lambda a: mean_ll(v, w, a, c), b)) < 1e-7
    assert rel_error(dc, numerical_gradient(lambda a: mean_ll(v, w, b, a), c)) < 1e-7


def test_cd_approaches_exact_gradient_as_k_grows():
    rng = np.random.default_rng(9)
    w, b, c = tiny(rng, 4, 3, 1.5)
    v = (rng.random((2000, 4)) < 0.5).astype(float)   # many chains: the sampling noise is small
    exact = np.concatenate([g.ravel() for g in energy.exact_gradient(v, w, b, c)])

    def err(k):
        g = energy.cd_gradient(v, w, b, c, k, np.random.default_rng(k))
        return np.linalg.norm(np.concatenate([a.ravel() for a in g[:3]]) - exact) / np.linalg.norm(exact)
    assert err(50) < 0.1 < err(1)


def test_pcd_keeps_its_chain_and_training_raises_likelihood():
    rng = np.random.default_rng(10)
    protos = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], float)
    x = protos[rng.integers(0, 2, 300)]
    x = np.abs(x - (rng.random(x.shape) < 0.05))
    w0, b0, c0 = energy.init_rbm(6, 4, np.random.default_rng(0))
    before = mean_ll(x, w0, b0, c0)
    for persistent in (False, True):
        w, b, c = energy.train_rbm(x, 4, np.random.default_rng(1), epochs=15, lr=0.1, persistent=persistent)
        assert mean_ll(x, w, b, c) > before + 1.0       # from about -4.16 (uniform) to below -3
    chain = (rng.random((5, 6)) < 0.5).astype(float)
    *_, vk = energy.cd_gradient(x[:5], w, b, c, 1, rng, chain=chain)
    assert vk.shape == (5, 6) and set(np.unique(vk)) <= {0.0, 1.0}


def test_pseudo_log_likelihood_against_conditionals():
    rng = np.random.default_rng(11)
    w, b, c = tiny(rng)
    v = (rng.random((6, 4)) < 0.5).astype(float)
    states = energy.all_states(4)
    joint = np.exp(energy.log_likelihood(states, w, b, c))
    want = np.zeros(6)
    for n, row in enumerate(v):
        for i in range(4):
            same_rest = np.all(np.delete(states, i, axis=1) == np.delete(row, i), axis=1)
            want[n] += np.log(joint[same_rest & (states[:, i] == row[i])].sum() / joint[same_rest].sum())
    assert rel_error(energy.pseudo_log_likelihood(v, w, b, c), want) < 1e-12


def test_gibbs_samples_follow_the_model():
    rng = np.random.default_rng(12)
    w, b, c = tiny(rng, 3, 2)
    v, _ = energy.gibbs(np.zeros((20000, 3)), w, b, c, 20, rng)
    states = energy.all_states(3)
    freq = np.array([np.mean(np.all(v == s, axis=1)) for s in states])
    p = np.exp(energy.log_likelihood(states, w, b, c))
    assert np.max(np.abs(freq - p)) < 0.02   # standard error of a frequency here is below 0.004


def test_dbn_stacks_layers():
    rng = np.random.default_rng(13)
    x = (rng.random((40, 8)) < 0.5).astype(float)
    layers = energy.dbn_pretrain(x, [6, 3], rng, epochs=2)
    assert [l[0].shape for l in layers] == [(8, 6), (6, 3)]
    top = energy.dbn_transform(x, layers)
    assert top.shape == (40, 3) and np.all((top > 0) & (top < 1))


def test_rbm_errors():
    rng = np.random.default_rng(14)
    w, b, c = tiny(rng)
    with pytest.raises(ValueError, match="binary"):
        energy.log_likelihood(np.full((2, 4), 0.5), w, b, c)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        energy.free_energy(np.ones((2, 5)), w, b, c)
    with pytest.raises(ValueError, match="b should be"):
        energy.free_energy(np.ones((2, 4)), w, np.zeros(3), c)
    with pytest.raises(ValueError, match="at most 20"):
        energy.log_partition(np.zeros((21, 22)), np.zeros(21), np.zeros(22))
    with pytest.raises(ValueError, match="k >= 1"):
        energy.cd_gradient(np.ones((2, 4)), w, b, c, 0, rng)
    with pytest.raises(ValueError, match="Generator"):
        energy.sample_h(np.ones((2, 4)), w, c, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        energy.train_rbm(np.full((3, 4), 2.0), 3, rng)
    with pytest.raises(ValueError, match="dout"):
        energy.free_energy_backward(np.ones(3), energy.free_energy_forward(np.ones((2, 4)), w, b, c)[1])


def test_dbn_classifier_copies_the_pretrained_layers():
    rng = np.random.default_rng(15)
    layers = [tiny(rng, 8, 6), tiny(rng, 6, 3)]
    model = energy.dbn_classifier(layers, 4, rng)
    assert np.array_equal(model.layers[0].w, layers[0][0]) and np.array_equal(model.layers[2].b, layers[1][2])
    x = rng.random((5, 8))
    assert np.allclose(model.layers[3].forward(model.layers[2].forward(model.layers[1].forward(
        model.layers[0].forward(x)))), energy.dbn_transform(x, layers))
    assert model.forward(x).shape == (5, 4)
    with pytest.raises(ValueError, match="stacked layers must match"):
        energy.dbn_classifier([tiny(rng, 8, 6), tiny(rng, 5, 3)], 4, rng)


def test_image_panels_returns_a_figure():
    import matplotlib
    matplotlib.use("Agg")
    from lib import energyplots
    fig = energyplots.image_panels([np.zeros((3, 64)), np.ones((4, 64))], ["a", "b"], cols=2, symmetric=[True, False])
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="one title per panel"):
        energyplots.image_panels([np.zeros((3, 64))], ["a", "b"])


def test_recall_overlap_with_fewer_cues_and_errors():
    rng = np.random.default_rng(16)
    assert energy.recall_overlap(100, 5, rng, flip=0.1, n_cues=2) == 1.0   # load 0.05: both cues recalled
    with pytest.raises(ValueError, match="at least one pattern"):
        energy.recall_overlap(100, 0, rng)
