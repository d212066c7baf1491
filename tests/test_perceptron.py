"""The perceptron of chapter 1: its criterion's subgradient, its rule as SGD, and Novikoff's bound."""
import numpy as np
import pytest

from lib import data
from lib import perceptron as P
from lib.gradcheck import check_layer

TRUTH = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


def test_mp_gates_with_fixed_thresholds():
    np.testing.assert_array_equal(P.mp_neuron(TRUTH, [1, 1], 2), [0, 0, 0, 1])  # AND
    np.testing.assert_array_equal(P.mp_neuron(TRUTH, [1, 1], 1), [0, 1, 1, 1])  # OR
    np.testing.assert_array_equal(P.mp_neuron(TRUTH, [-1, -1], -1), [1, 1, 1, 0])  # NAND
    np.testing.assert_array_equal(P.mp_neuron(np.array([[0], [1]]), [-1], 0), [1, 0])  # NOT


def test_score_is_the_augmented_dot_product(rng):
    x, w, b = rng.normal(size=(6, 3)), rng.normal(size=3), 0.7
    np.testing.assert_allclose(P.perceptron_score(x, w, b), P.augment(x) @ np.append(w, b), atol=1e-14)
    np.testing.assert_array_equal(P.perceptron_predict(x, w, b), np.where(x @ w + b >= 0, 1.0, -1.0))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        P.perceptron_score(np.zeros((2, 4)), w, b)


def test_perceptron_loss_gradient_matches_finite_differences(rng):
    x, y = rng.normal(size=(20, 3)), np.where(rng.normal(size=20) > 0, 1.0, -1.0)
    w, b = rng.normal(size=3), np.array(0.2)
    assert np.min(np.abs(x @ w + b)) > 1e-3  # off the kink, where the criterion is differentiable
    loss, dw, db = P.perceptron_loss(x, y, w, b)
    assert loss > 0 and np.any(dw != 0)

    def fwd(w, b):
        return np.array(P.perceptron_loss(x, y, w, b)[0]), (w, b)

    def bwd(dout, cache):
        _, dw, db = P.perceptron_loss(x, y, *cache)
        return dout * dw, dout * np.array(db)

    assert check_layer(fwd, bwd, [w, b], rng) < 1e-7


def test_perceptron_loss_value_and_kink_subgradient():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([1.0, -1.0])
    w, b = np.array([1.0, 0.0]), -1.0  # z = (0, 2): the first point sits on the boundary, the second is wrong
    loss, dw, db = P.perceptron_loss(x, y, w, b)
    assert loss == pytest.approx(2.0 / 2)
    np.testing.assert_allclose(dw, (-(1.0) * x[0] + 1.0 * x[1]) / 2)
    assert db == pytest.approx((-1.0 + 1.0) / 2)


def test_rule_is_sgd_on_the_criterion(rng):
    x, y, _ = data.linearly_separable(40, rng, margin=0.2)
    history = []
    w, b, mistakes, converged = P.perceptron_train(x, y, rng, lr=0.5, history=history)
    assert converged and len(history) == mistakes > 0
    prev_w, prev_b = np.zeros(2), 0.0
    for _, i, w_k, b_k in history:
        _, dw, db = P.perceptron_loss(x[i : i + 1], y[i : i + 1], prev_w, prev_b)
        np.testing.assert_allclose(w_k, prev_w - 0.5 * dw, atol=1e-12)
        assert b_k == pytest.approx(prev_b - 0.5 * db)
        prev_w, prev_b = w_k, b_k
    np.testing.assert_array_equal(w, prev_w)


def test_learning_rate_only_scales_the_weights():
    x, y, _ = data.linearly_separable(60, np.random.default_rng(3), margin=0.1)
    w1, b1, m1, _ = P.perceptron_train(x, y, np.random.default_rng(7), lr=1.0)
    w2, b2, m2, _ = P.perceptron_train(x, y, np.random.default_rng(7), lr=0.01)
    assert m1 == m2
    np.testing.assert_allclose(w2, 0.01 * w1, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_mistakes_never_exceed_novikoff_bound(seed):
    rng = np.random.default_rng(seed)
    x, y, w_true = data.linearly_separable(80, rng, margin=0.05 + 0.1 * seed, dim=2 + seed % 3)
    bound = P.mistake_bound(P.augment(x), y, w_true)
    *_, mistakes, converged = P.perceptron_train(x, y, rng, max_epochs=int(bound) + 2)
    assert converged and 0 < mistakes <= bound


def test_signed_distance_projects_onto_the_hyperplane(rng):
    x, w, b = rng.normal(size=(5, 3)), rng.normal(size=3), -0.4
    d = P.signed_distance(x, w, b)
    foot = x - d[:, None] * w / np.linalg.norm(w)
    np.testing.assert_allclose(foot @ w + b, 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="w != 0"):
        P.signed_distance(x, np.zeros(3))


def test_mistake_bound_rejects_a_non_separator():
    x = P.augment(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    y = np.array([1.0, -1.0])
    assert P.mistake_bound(x, y, np.array([1.0, 0.0, 0.0])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive margin"):
        P.mistake_bound(x, y, np.array([0.0, 1.0, 0.0]))


def test_xor_cancels_every_separator(rng):
    x = P.augment(TRUTH.astype(float))
    y = np.array([-1.0, 1.0, 1.0, -1.0])
    np.testing.assert_allclose((y[:, None] * x).sum(axis=0), 0.0)
    history = []
    *_, converged = P.perceptron_train(TRUTH, y, rng, max_epochs=200, history=history)
    assert not converged and {e for e, *_ in history} == set(range(200))


def test_lp_margin_tells_separable_from_not(rng):
    x, y, _ = data.linearly_separable(60, rng, margin=0.2)
    delta, w, b = P.lp_margin(x, y)
    assert delta > 0.05  # every point at least margin/2 = 0.1 from a unit-normal line, |b| <= 0.2
    assert np.all(y * P.perceptron_score(x, w, b) >= delta - 1e-9)
    xor_delta, w0, b0 = P.lp_margin(TRUTH, np.array([-1.0, 1.0, 1.0, -1.0]))
    assert abs(xor_delta) < 1e-12
    and_delta, *_ = P.lp_margin(TRUTH, np.array([-1.0, -1.0, -1.0, 1.0]))
    assert and_delta == pytest.approx(1 / 3)  # w = (2/3, 2/3), b = -1 gives y z >= 1/3 on all four
    with pytest.raises(ValueError, match=r"x \(N, D\) and t \(N,\)"):
        P.lp_margin(TRUTH, np.ones(3))


def test_cover_fraction_counts_dichotomies():
    assert P.cover_fraction(3, 3) == 1.0  # n <= d: every labelling is separable
    assert P.cover_fraction(10, 5) == pytest.approx(0.5)  # n = 2d: exactly half
    # three points in general position in the plane (d = 2, through the origin): 6 of 8 labellings
    assert P.cover_fraction(3, 2) == pytest.approx(6 / 8)
    assert P.cover_fraction(270, 65) < 1e-15
    with pytest.raises(ValueError, match="positive integers"):
        P.cover_fraction(0, 3)


def test_cover_fraction_matches_a_brute_force_count(rng):
    # 6 random points in the plane (general position almost surely), a line with a bias: count the
    # separable labellings with the linear program and compare with C(6, 2 + 1) / 2^6 = 32/64
    import itertools

    x = rng.normal(size=(6, 2))
    count = sum(P.lp_margin(x, np.array(t))[0] > 1e-9 for t in itertools.product([-1.0, 1.0], repeat=6))
    assert count / 2**6 == pytest.approx(P.cover_fraction(6, 3))


def test_perceptron_halfplanes_counts_mistakes_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib.plots import perceptron_halfplanes

    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.5]])
    t = np.array([1.0, -1.0, -1.0])
    fig, ax = plt.subplots()
    assert perceptron_halfplanes(ax, [1.0, 0.0], 0.0, x, t) == 1  # only (0.5, 0.5) is on the wrong side
    assert isinstance(fig, matplotlib.figure.Figure) and len(ax.images) == 1
    plt.close(fig)


def test_novikoff_certificates_are_nonnegative_and_catch_a_wrong_separator(rng):
    x, t, w_true = data.linearly_separable(80, rng, margin=0.1, dim=3)
    history = []
    P.perceptron_train(x, t, rng, lr=0.3, history=history)
    cert = P.novikoff_certificates(x, t, w_true, history, 0.3)
    assert set(cert) == {"xi", "nu", "rho", "alpha", "beta", "omega"}
    assert all(len(v) == len(history) for v in cert.values())
    assert min(v.min() for v in cert.values()) >= -1e-12
    # the same run measured with the wrong learning rate breaks the progress lemma (alpha)
    assert P.novikoff_certificates(x, t, w_true, history, 3.0)["alpha"].min() < 0
    with pytest.raises(ValueError, match="separator"):
        P.novikoff_certificates(x, -t, w_true, history, 0.3)
