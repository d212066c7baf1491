"""lib.autoencoder: every backward pass against finite differences, closed forms on cases with known
answers, the named errors, finite and accurate results on extreme inputs, and short training runs."""
import numpy as np
import pytest

from lib import autoencoder as ae
from lib import optim
from lib.gradcheck import check_layer, directional_check, numerical_gradient, rel_error


def _codes(rng, n=6, h=4):
    return rng.uniform(0.02, 0.98, size=(n, h))


def test_kl_sparsity_passes_finite_differences(rng):
    a = _codes(rng)
    for rho in (0.05, 0.5, 0.9):
        _, da = ae.kl_sparsity(a, rho)
        num = numerical_gradient(lambda v: ae.kl_sparsity(v, rho)[0], a.copy())
        assert rel_error(da, num) < 1e-8


def test_kl_sparsity_known_values():
    # zero where every unit's mean activation is rho (0.25 and its mean are exact in binary)
    a = np.full((4, 5), 0.25)
    p, da = ae.kl_sparsity(a, 0.25)
    assert p == 0.0 and np.max(np.abs(da)) < 1e-15
    a = np.array([[0.0, 1.0], [1.0, 0.0]])  # means 1/2, target 1/4
    want = 2 * (0.25 * np.log(0.25 / 0.5) + 0.75 * np.log(0.75 / 0.5))
    assert ae.kl_sparsity(a, 0.25)[0] == pytest.approx(want, rel=1e-14)


def test_kl_sparsity_extremes_are_finite():
    a = np.array([[0.0, 1.0, 1e-300], [0.0, 1.0, 0.0]])
    p, da = ae.kl_sparsity(a, 0.05)
    assert np.isfinite(p) and np.all(np.isfinite(da))
    assert p > 30  # a unit that never fires or always fires is penalised hard
    assert da[0, 0] < 0 < da[0, 1]  # pushes the dead unit up and the saturated one down


def test_kl_sparsity_errors():
    with pytest.raises(ValueError, match="rho"):
        ae.kl_sparsity(np.full((2, 2), 0.5), 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.kl_sparsity(np.array([[0.5, 1.5]]), 0.1)
    with pytest.raises(ValueError, match="shape"):
        ae.kl_sparsity(np.full(4, 0.5), 0.1)


def test_corrupt_masks_with_probability_q(rng):
    x = np.ones((400, 50))
    out = ae.corrupt(x, rng, q=0.3)
    assert set(np.unique(out)) == {0.0, 1.0}
    # 20000 Bernoulli(0.7) draws: mean 0.7, standard error 0.0032
    assert abs(out.mean() - 0.7) < 0.015
    noisy = ae.corrupt(np.zeros((400, 50)), rng, s=0.5)
    assert abs(noisy.std() - 0.5) < 0.015
    assert np.array_equal(ae.corrupt(x, np.random.default_rng(1), q=0.3),
                          ae.corrupt(x, np.random.default_rng(1), q=0.3))
    assert ae.corrupt(x, rng) is not x and np.array_equal(ae.corrupt(x, rng), x)


def test_corrupt_errors(rng):
    with pytest.raises(ValueError, match="Generator"):
        ae.corrupt(np.ones((2, 2)), np.random.RandomState(0), q=0.1)
    with pytest.raises(ValueError, match="q in"):
        ae.corrupt(np.ones((2, 2)), rng, q=1.0)
    with pytest.raises(ValueError, match="s >= 0"):
        ae.corrupt(np.ones((2, 2)), rng, s=-1.0)


def test_gaussian_layer_passes_finite_differences(rng):
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 6)), rng.standard_normal(6)

    def fwd(x, w, b):
        (mu, logvar), cache = ae.gaussian_forward(x, w, b)
        return np.concatenate([mu, logvar], axis=1), cache

    def bwd(dout, cache):
        return ae.gaussian_backward(dout[:, :3], dout[:, 3:], cache)

    assert check_layer(fwd, bwd, [x, w, b], rng) < 1e-8
    (mu, logvar), _ = ae.gaussian_forward(x, w, b)
    np.testing.assert_allclose(mu, x @ w[:, :3] + b[:3], rtol=1e-14)
    np.testing.assert_allclose(logvar, x @ w[:, 3:] + b[3:], rtol=1e-14)
    with pytest.raises(ValueError, match="even width"):
        ae.gaussian_forward(x, rng.standard_normal((4, 5)), np.zeros(5))


def test_reparameterization_passes_finite_differences(rng):
    mu, logvar, eps = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 3))

    def fwd(mu, logvar):
        return ae.reparameterize_forward(mu, logvar, eps=eps)

    assert check_layer(fwd, ae.reparameterize_backward, [mu, logvar], rng) < 1e-8
    eps_big = rng.standard_normal((64, 32))
    big = [rng.standard_normal((64, 32)), rng.standard_normal((64, 32))]
    fwd_big = lambda mu, logvar: ae.reparameterize_forward(mu, logvar, eps=eps_big)  # noqa: E731
    for wrt in (0, 1):
        assert directional_check(fwd_big, ae.reparameterize_backward, big, rng, wrt=wrt) < 1e-8


def test_reparameterization_samples_the_gaussian(rng):
    mu, logvar = np.full((20000, 1), 1.5), np.full((20000, 1), np.log(0.25))
    z, _ = ae.reparameterize_forward(mu, logvar, rng)
    # mean 1.5 and standard deviation 0.5; the standard errors are 0.0035 and 0.0025
    assert abs(z.mean() - 1.5) < 0.015 and abs(z.std() - 0.5) < 0.012


def test_reparameterization_errors(rng):
    mu = np.zeros((2, 3))
    with pytest.raises(ValueError, match="exactly one"):
        ae.reparameterize_forward(mu, mu)
    with pytest.raises(ValueError, match="exactly one"):
        ae.reparameterize_forward(mu, mu, rng=rng, eps=mu)
    with pytest.raises(ValueError, match="logvar"):
        ae.reparameterize_forward(mu, np.zeros((2, 2)), rng=rng)
    with pytest.raises(ValueError, match="eps of shape"):
        ae.reparameterize_forward(mu, mu, eps=np.zeros(3))
    _, cache = ae.reparameterize_forward(mu, mu, rng=rng)
    with pytest.raises(ValueError, match="dz of shape"):
        ae.reparameterize_backward(np.zeros((3, 3)), cache)


def test_exp_minus_one_minus_is_accurate_near_zero_and_far_away():
    x = np.array([-700.0, -30.0, -1.0, -0.999, -1e-3, -1e-9, 0.0, 1e-12, 1e-5, 0.5, 0.999, 1.0, 5.0, 700.0])
    got = ae.exp_minus_one_minus(x)
    import mpmath

    with mpmath.workdps(60):
        want = np.array([float(mpmath.exp(mpmath.mpf(v)) - 1 - mpmath.mpf(v)) for v in x])
    assert got[6] == 0.0
    mask = want != 0
    assert np.max(np.abs(got[mask] - want[mask]) / want[mask]) < 1e-14


def test_gaussian_kl_passes_finite_differences(rng):
    args = [rng.standard_normal((5, 3)) for _ in range(4)]
    assert check_layer(ae.gaussian_kl_forward, ae.gaussian_kl_backward, args, rng) < 1e-8
    std_prior = lambda mu, logvar: ae.gaussian_kl_forward(mu, logvar)  # noqa: E731
    bwd = lambda d, c: ae.gaussian_kl_backward(d, c)[:2]  # noqa: E731
    assert check_layer(std_prior, bwd, args[:2], rng) < 1e-8


def test_gaussian_kl_known_values():
    mu = np.array([[0.0, 0.0], [1.0, 0.0]])
    kl, _ = ae.gaussian_kl_forward(mu, np.zeros((2, 2)))
    assert kl[0] == 0.0 and kl[1] == pytest.approx(0.5, rel=1e-15)
    # N(0, 4) against N(0, 1): (1/2)(4 - 1 - log 4) per dimension
    kl, _ = ae.gaussian_kl_forward(np.zeros((1, 1)), np.full((1, 1), np.log(4.0)))
    assert kl[0] == pytest.approx(0.5 * (3 - np.log(4.0)), rel=1e-15)
    # N(1, 1) against N(3, e^2): (1/2)(e^-2 - 1 + 2 + 4 e^-2)
    kl, _ = ae.gaussian_kl_forward(np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 3.0), np.full((1, 1), 2.0))
    assert kl[0] == pytest.approx(0.5 * (5 * np.exp(-2) + 1), rel=1e-15)


def test_gaussian_kl_is_accurate_when_q_is_close_to_the_prior():
    # logvar = 1e-8: the naive e^t - 1 - t gives about 1e-17 of rounding noise on a value of 5e-17
    logvar = np.array([[1e-8]])
    kl, _ = ae.gaussian_kl_forward(np.zeros((1, 1)), logvar)
    assert kl[0] == pytest.approx(0.25e-16 * (1 + 1e-8 / 3), rel=1e-12)


def test_gaussian_kl_extremes_are_finite():
    mu = np.array([[1e100, -1e100], [0.0, 0.0]])
    logvar = np.array([[700.0, -700.0], [-700.0, 700.0]])
    kl, cache = ae.gaussian_kl_forward(mu, logvar)
    grads = ae.gaussian_kl_backward(np.ones(2), cache)
    assert np.all(np.isfinite(kl)) and all(np.all(np.isfinite(g)) for g in grads)
    assert kl[1] == pytest.approx(0.5 * (np.exp(700.0) - 1 - 700 + np.exp(-700.0) - 1 + 700), rel=1e-13)
    z, _ = ae.reparameterize_forward(mu, logvar, eps=np.ones((2, 2)))
    assert np.all(np.isfinite(z))


def test_gaussian_kl_errors():
    with pytest.raises(ValueError, match="logvar"):
        ae.gaussian_kl_forward(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="prior"):
        ae.gaussian_kl_forward(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)))
    _, cache = ae.gaussian_kl_forward(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dkl"):
        ae.gaussian_kl_backward(np.ones(3), cache)


def test_gaussian_log_density_is_the_log_of_the_density(rng):
    z, mu, logvar = (rng.standard_normal((4, 3)) for _ in range(3))
    var = np.exp(logvar)
    want = np.log(np.prod(np.exp(-(z - mu) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var), axis=1))
    np.testing.assert_allclose(ae.gaussian_log_density(z, mu, logvar), want, rtol=1e-13)
    with pytest.raises(ValueError, match="z of shape"):
        ae.gaussian_log_density(np.zeros((4, 2)), mu, logvar)


def test_elbo_loss_passes_finite_differences(rng):
    logits, mu, logvar = rng.standard_normal((5, 8)) * 3, rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    x = (rng.random((5, 8)) < 0.5).astype(float)
    _, dlogits, dmu, dlogvar = ae.elbo_loss(logits, x, mu, logvar, beta=0.7)
    f = lambda i: lambda v: ae.elbo_loss(*[v if j == i else a for j, a in enumerate([logits, x, mu, logvar])],  # noqa: E731
                                         beta=0.7)[0]
    for i, g, a in [(0, dlogits, logits), (2, dmu, mu), (3, dlogvar, logvar)]:
        assert rel_error(g, numerical_gradient(f(i), a.copy())) < 1e-8


def test_elbo_loss_is_reconstruction_plus_kl(rng):
    logits, mu, logvar = rng.standard_normal((4, 6)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    x = (rng.random((4, 6)) < 0.5).astype(float)
    loss = ae.elbo_loss(logits, x, mu, logvar)[0]
    want = np.mean(-ae.bernoulli_log_likelihood(logits, x) + ae.gaussian_kl_forward(mu, logvar)[0])
    assert loss == pytest.approx(want, rel=1e-14)
    big = np.array([[800.0, -800.0]])
    assert np.isfinite(ae.elbo_loss(big, np.array([[0.0, 1.0]]), np.zeros((1, 1)), np.zeros((1, 1)))[0])
    assert ae.bernoulli_log_likelihood(big, np.array([[0.0, 1.0]]))[0] == pytest.approx(-1600.0, rel=1e-15)


def test_elbo_loss_errors(rng):
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.elbo_loss(np.zeros((3, 4)), np.full((3, 4), 2.0), z, z)
    with pytest.raises(ValueError, match="beta"):
        ae.elbo_loss(np.zeros((3, 4)), np.zeros((3, 4)), z, z, beta=-1)
    with pytest.raises(ValueError, match="one row per sample"):
        ae.elbo_loss(np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x of the shape"):
        ae.elbo_loss(np.zeros((3, 4)), np.zeros((3, 5)), z, z)


@pytest.mark.parametrize("beta, q", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.3)])
def test_autoencoder_gradients(beta, q, rng):
    model = ae.make_autoencoder(6, 3, rng, hidden=(5,), activation="tanh", beta=beta, rho=0.1, q=q)
    x = rng.random((4, 6))
    x_in = ae.corrupt(x, rng, q=q) if q else x
    assert ae.gradient_error(model, lambda: model.loss(x_in, x)[0]) < 1e-7


def test_vae_gradients_with_fixed_noise(rng):
    model = ae.make_vae(6, 2, rng, hidden=5, activation="tanh", beta=0.8)
    x, eps = (rng.random((4, 6)) < 0.5).astype(float), rng.standard_normal((4, 2))
    assert ae.gradient_error(model, lambda: model.loss(x, eps=eps)[0]) < 1e-7


def test_models_train_and_bound(rng):
    from sklearn.datasets import load_digits

    x = (load_digits().data[:300] / 16.0 > 0.5).astype(float)
    model = ae.make_autoencoder(64, 8, rng, beta=0.1, rho=0.1, q=0.2)
    hist = ae.train(model, x, optim.Adam(5e-3), rng, epochs=8)
    assert hist[-1] < 0.8 * hist[0]
    assert model.reconstruct(x).shape == x.shape
    vae = ae.make_vae(64, 2, rng, hidden=32)
    hist = ae.train(vae, x, optim.Adam(5e-3), rng, epochs=8)
    assert hist[-1] < 0.8 * hist[0]
    elbo = vae.elbo(x[:50], rng, samples=20)
    iw = vae.importance_bound(x[:50], rng, k=50)
    assert np.mean(iw) > np.mean(elbo)  # the importance-weighted bound is the tighter one
    s = vae.sample(7, rng)
    assert s.shape == (7, 64) and np.all((s >= 0) & (s <= 1))


def test_model_errors(rng):
    with pytest.raises(ValueError, match="rho"):
        ae.make_autoencoder(4, 2, rng, rho=0.0)
    with pytest.raises(ValueError, match="latent"):
        ae.make_vae(4, 0, rng)
    with pytest.raises(ValueError, match="Generator"):
        ae.make_vae(4, 2, np.random.RandomState(0))
    with pytest.raises(ValueError, match="shape"):
        ae.make_vae(4, 2, rng).encode(np.zeros(4))


def test_gradient_error_catches_a_wrong_backward(rng, monkeypatch):
    model = ae.make_autoencoder(5, 3, rng, beta=0.5, rho=0.1)
    x = rng.random((4, 5))
    assert ae.gradient_error(model, lambda: model.loss(x, x)[0]) < 1e-7
    right = ae.kl_sparsity

    def doubled(a, rho):  # the right penalty with twice its gradient: a backward pass the loss does not have
        p, da = right(a, rho)
        return p, 2 * da

    monkeypatch.setattr(ae, "kl_sparsity", doubled)
    assert ae.gradient_error(model, lambda: model.loss(x, x)[0]) > 1e-3


def test_plots_return_figures(rng):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib import aeplots

    fig = aeplots.digit_rows([rng.random((5, 64)), rng.random((3, 64))], ["a", "b"])
    assert isinstance(fig, matplotlib.figure.Figure)
    grid = aeplots.latent_grid(lambda z: np.full((len(z), 64), 0.5), n=3)
    assert grid.shape == (26, 26) and np.isnan(grid[8, 0]) and grid[0, 0] == 0.5
    labels = rng.integers(0, 10, 20)
    for image, point in [(grid, None), (np.zeros((8, 8)), (0.5, -1.0))]:
        fig = aeplots.latent_figure(rng.normal(size=(20, 2)), labels, image, point=point)
        assert isinstance(fig, matplotlib.figure.Figure)
    plt.close("all")
    with pytest.raises(ValueError, match="labels"):
        aeplots.digit_rows([rng.random((5, 64))], ["a", "b"])
    with pytest.raises(ValueError, match=r"\(T, 64\)"):
        aeplots.digit_rows([rng.random((5, 63))], ["a"])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        aeplots.latent_figure(rng.normal(size=(20, 3)), labels, grid)
