"""lib.gan: the GAN losses against finite differences and exact tails, the metrics on cases with
known answers, the named errors, and the alternating training loop."""
import numpy as np
import pytest

from lib import gan, nn, optim
from lib.gradcheck import numerical_gradient, rel_error

LOSSES = [
    ("bce real", lambda z: gan.bce_logits(z, 1.0)),
    ("bce fake", lambda z: gan.bce_logits(z, 0.0)),
    ("saturating", gan.saturating_loss),
    ("non-saturating", gan.non_saturating_loss),
]


@pytest.mark.parametrize("name, fn", LOSSES)
def test_losses_pass_finite_differences(name, fn, rng):
    for shape in [(7,), (7, 1)]:
        z = rng.normal(scale=3.0, size=shape)
        _, dz = fn(z)
        assert rel_error(dz, numerical_gradient(lambda a: fn(a)[0], z.copy())) < 1e-8, name


def test_bce_with_soft_targets_and_discriminator_loss(rng):
    z, y = rng.normal(size=(6, 1)) * 2, rng.uniform(0, 1, size=(6, 1))
    _, dz = gan.bce_logits(z, y)
    assert rel_error(dz, numerical_gradient(lambda a: gan.bce_logits(a, y)[0], z.copy())) < 1e-8
    zr, zf = rng.normal(size=(5, 1)), rng.normal(size=(4, 1))
    loss, dr, df = gan.discriminator_loss(zr, zf, real_label=0.9)
    assert rel_error(dr, numerical_gradient(lambda a: gan.discriminator_loss(a, zf, 0.9)[0], zr.copy())) < 1e-8
    assert rel_error(df, numerical_gradient(lambda a: gan.discriminator_loss(zr, a, 0.9)[0], zf.copy())) < 1e-8
    assert loss == pytest.approx(gan.bce_logits(zr, 0.9)[0] + gan.bce_logits(zf, 0.0)[0], rel=1e-14)


def test_known_values():
    # at z = 0, D = 1/2: each loss is +-log 2 and each gradient has size 1/(2N)
    z = np.zeros(4)
    assert gan.saturating_loss(z)[0] == pytest.approx(-np.log(2), rel=1e-15)
    assert gan.non_saturating_loss(z)[0] == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_allclose(gan.saturating_loss(z)[1], -0.125, rtol=1e-15)
    np.testing.assert_allclose(gan.non_saturating_loss(z)[1], -0.125, rtol=1e-15)
    assert gan.discriminator_loss(z, z)[0] == pytest.approx(2 * np.log(2), rel=1e-15)


def test_extreme_logits_are_finite_and_accurate_in_the_tails():
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    for _, fn in LOSSES:
        loss, dz = fn(z)
        assert np.isfinite(loss) and np.all(np.isfinite(dz))
    # the generator gradients' tails: sigma(z) and sigma(-z) keep full relative accuracy
    _, d_sat = gan.saturating_loss(np.array([-40.0]))
    _, d_ns = gan.non_saturating_loss(np.array([40.0]))
    exact = np.exp(-40.0) / (1 + np.exp(-40.0))
    assert d_sat[0] == pytest.approx(-exact, rel=1e-14)
    assert d_ns[0] == pytest.approx(-exact, rel=1e-14)  # 1 - sigma(40) would round to 0 here
    # where D is sure a fake is fake, only the non-saturating gradient survives
    assert gan.saturating_loss(np.array([-800.0]))[1][0] == 0.0
    assert gan.non_saturating_loss(np.array([-800.0]))[1][0] == -1.0
    assert gan.non_saturating_loss(np.array([-800.0]))[0] == pytest.approx(800.0, rel=1e-15)


def test_loss_errors():
    with pytest.raises(ValueError, match="logits"):
        gan.bce_logits(np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="non-empty"):
        gan.saturating_loss(np.array(0.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan.bce_logits(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="shape"):
        gan.bce_logits(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="real_label"):
        gan.discriminator_loss(np.zeros(3), np.zeros(3), real_label=0.3)
    with pytest.raises(ValueError, match="unknown generator loss"):
        gan.generator_loss(np.zeros(3), "wasserstein")


def test_js_divergence_and_optimal_discriminator():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    # half the mass is shared: JS = 1/2 log 2 (known in closed form)
    assert gan.js_divergence(p, q) == pytest.approx(0.5 * np.log(2), rel=1e-14)
    assert gan.js_divergence(p, p) == 0.0
    assert gan.js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.log(2), rel=1e-14)
    d = gan.optimal_discriminator(p, q)
    np.testing.assert_allclose(d, [1.0, 0.5, 0.0])
    assert gan.value_discrete(p, q, d) == pytest.approx(2 * gan.js_divergence(p, q) - np.log(4), rel=1e-14)
    with pytest.raises(ValueError, match="sum to 1"):
        gan.js_divergence(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="one shape"):
        gan.optimal_discriminator(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan.value_discrete(p, q, np.array([1.2, 0.5, 0.0]))


def test_metrics_known_answers(rng):
    a = rng.normal(size=500)
    assert gan.wasserstein_1d(a, a + 0.7) == pytest.approx(0.7, rel=1e-12)  # a shift moves every quantile
    assert gan.wasserstein_1d([0.0], [0.0, 1.0]) == pytest.approx(0.5)  # half the mass moves by 1
    assert gan.wasserstein_1d([0.0, 0.0, 3.0], [1.0]) == pytest.approx((2 * 1 + 2) / 3)
    x, y = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    assert gan.mmd(x, y, bandwidth=5.0) == pytest.approx(2 - 2 * np.exp(-25 / 50), rel=1e-14)
    assert gan.mmd(a, a, bandwidth=1.0) == pytest.approx(0.0, abs=1e-12)
    assert gan.mmd(a, a + 3, 1.0) > gan.mmd(a, a + 0.3, 1.0) > 0


def test_mode_coverage_known_answers(rng):
    centres = gan.ring_centres(8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0)
    on_three = np.repeat(centres[:3], 10, axis=0)
    assert gan.mode_coverage(on_three, centres, std=0.1) == (3, 1.0)
    far = np.vstack([on_three, np.zeros((30, 2))])  # the ring's centre is far from every mode
    assert gan.mode_coverage(far, centres, std=0.1) == (3, 0.5)
    x, k = gan.mixture(4000, centres, 0.1, rng)
    covered, hq = gan.mode_coverage(x, centres, 0.1)
    assert covered == 8 and 0.985 < hq < 0.995  # 1 - exp(-9/2) = 0.989 of a 2-D Gaussian lies within 3 s
    assert np.bincount(k).min() > 400
    x1, _ = gan.mixture(1000, np.array([-2.0, 2.0]), 0.25, rng, weights=[0.0, 1.0])
    assert x1.shape == (1000, 1) and gan.mode_coverage(x1, np.array([-2.0, 2.0]), 0.25)[0] == 1


def test_metric_errors(rng):
    with pytest.raises(ValueError, match="non-empty"):
        gan.wasserstein_1d([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        gan.wasserstein_1d([np.nan], [1.0])
    with pytest.raises(ValueError, match="bandwidth"):
        gan.mmd(np.zeros((2, 2)), np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        gan.mmd(np.zeros((2, 2)), np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="centres"):
        gan.mode_coverage(np.zeros((4, 3)), gan.ring_centres(), 0.1)
    with pytest.raises(ValueError, match="std"):
        gan.mode_coverage(np.zeros((4, 2)), gan.ring_centres(), 0.0)
    with pytest.raises(ValueError, match="Generator"):
        gan.mixture(3, gan.ring_centres(), 0.1, np.random)
    with pytest.raises(ValueError, match="weights"):
        gan.mixture(3, gan.ring_centres(2), 0.1, rng, weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="modes"):
        gan.ring_centres(0)


def _model(seed, **kw):
    r = np.random.default_rng(seed)
    g, d = nn.mlp([2, 16, 2], r), nn.mlp([2, 16, 1], r)
    return gan.GAN(g, d, optim.Adam(2e-3, beta1=0.5), optim.Adam(2e-3, beta1=0.5), 2, **kw)


def test_generator_step_backpropagates_through_the_discriminator(rng):
    model = _model(1)
    xi = rng.standard_normal((5, 2))
    for kind in gan.GENERATOR_LOSSES:
        def forward(w):
            model.G.layers[0].w[...] = w
            return np.array([gan.generator_loss(model.D.forward(model.G.forward(xi)), kind)[0]]), None

        w0 = model.G.layers[0].w.copy()
        loss, dz = gan.generator_loss(model.D.forward(model.G.forward(xi)), kind)
        model.G.backward(model.D.backward(dz))
        analytic = model.G.grads()["0.w"].copy()
        numeric = numerical_gradient(lambda w: forward(w)[0][0], w0.copy())
        model.G.layers[0].w[...] = w0
        assert rel_error(analytic, numeric) < 1e-7, kind


def test_training_steps_and_errors(rng):
    model = _model(2, k=2, real_label=0.9, instance_noise=0.1)
    d_before = model.D.get_state()
    g_before = model.G.get_state()
    real = lambda n, r: gan.mixture(n, gan.ring_centres(), 0.1, r)[0]
    hist = model.train(real, 3, 8, rng, every=2, callback=lambda t, m: t)
    assert len(hist["d"]) == len(hist["g"]) == 3 and hist["log"] == [2, 3]
    assert all(np.isfinite(hist["d"] + hist["g"]))
    assert any(np.any(model.D.params()[k] != d_before[k]) for k in d_before)
    assert any(np.any(model.G.params()[k] != g_before[k]) for k in g_before)
    assert model.sample(5, rng).shape == (5, 2) and model.discriminate(np.zeros((4, 2))).shape == (4,)
    # a generator step leaves the discriminator's parameters alone
    d_state = model.D.get_state()
    model.g_step(8, rng)
    assert all(np.array_equal(model.D.params()[k], d_state[k]) for k in d_state)
    with pytest.raises(ValueError, match="unknown generator loss"):
        _model(0, loss="hinge")
    with pytest.raises(ValueError, match="k >= 1"):
        _model(0, k=0)
    with pytest.raises(ValueError, match="instance_noise"):
        _model(0, instance_noise=-1.0)
    with pytest.raises(ValueError, match="Generator"):
        model.train(real, 2, 8, np.random)
    with pytest.raises(ValueError, match="steps"):
        model.train(real, 0, 8, rng)


def test_same_seed_same_training():
    real = lambda n, r: gan.mixture(n, gan.ring_centres(), 0.1, r)[0]
    a = _model(3).train(real, 5, 8, np.random.default_rng(4))
    b = _model(3).train(real, 5, 8, np.random.default_rng(4))
    assert a["d"] == b["d"] and a["g"] == b["g"]


def test_gan_snapshot_returns_a_figure(rng):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from lib import plots

    fig = plots.gan_snapshot(rng.normal(size=(20, 2)), rng.normal(size=(10, 2)), rng.uniform(size=(8, 8)),
                             (-3, 3, -3, 3), "t", curve=([1, 2], [3, 4], "modes"), marker=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # two panels and the colour bar
    with pytest.raises(ValueError, match="2-D samples"):
        plots.gan_snapshot(rng.normal(size=(20, 3)), rng.normal(size=(10, 2)), np.zeros((4, 4)), (0, 1, 0, 1))
    model = gan.make_gan(rng, data_dim=2, hidden=8)
    assert model.sample(3, rng).shape == (3, 2) and len(model.D.params()) == 6
