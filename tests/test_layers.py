import numpy as np
import pytest

from lib import init, linear, losses, nn, optim
from lib.gradcheck import check_layer, check_model, directional_check


def test_affine_gradients(rng):
    x, w, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    assert check_layer(linear.affine_forward, linear.affine_backward, [x, w, b], rng) < 1e-7


def test_affine_directional_check_at_realistic_size(rng):
    x, w, b = rng.normal(size=(64, 256)), rng.normal(size=(256, 128)), rng.normal(size=128)
    for i in range(3):
        assert directional_check(linear.affine_forward, linear.affine_backward, [x, w, b], rng, wrt=i) < 1e-7


def test_dropout_gradient_and_expectation(rng):
    x = rng.normal(size=(3, 4))

    def fwd(a):
        return linear.dropout_forward(a, 0.5, np.random.default_rng(7))  # the same mask every call

    assert check_layer(fwd, linear.dropout_backward, [x], rng) < 1e-7
    big = np.ones((2000, 100))
    out, _ = linear.dropout_forward(big, 0.3, rng)
    assert abs(out.mean() - 1.0) < 0.01  # inverted scaling keeps the mean
    same, mask = linear.dropout_forward(x, 0.5, rng, train=False)
    assert same is x and mask is None


def test_affine_rejects_wrong_input_shape(rng):
    w, b = rng.normal(size=(5, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, 5\), got \(4, 6\)"):
        linear.affine_forward(np.zeros((4, 6)), w, b)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, 5\), got \(5,\)"):
        linear.affine_forward(np.zeros(5), w, b)
    with pytest.raises(ValueError, match=r"b \(M,\)"):
        linear.affine_forward(np.zeros((4, 5)), w, np.zeros(4))


def test_linear_module_names_shapes(rng):
    layer = nn.Linear(3, 2, rng)
    with pytest.raises(ValueError, match=r"\(N, 3\), got \(10, 4\)"):
        layer(np.zeros((10, 4)))


def test_dropout_rejects_bad_probability(rng):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0, rng)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("loss_fn", [losses.softmax_cross_entropy, losses.hinge_loss])
def test_mlp_backward_matches_finite_differences(activation, loss_fn, rng):
    model = nn.mlp([4, 6, 5, 3], rng, activation=activation)
    for name, p in model.params().items():
        if name.endswith("b"):  # non-zero biases keep ReLU inputs off the kink at exactly 0
            p[...] = rng.normal(size=p.shape)
    x, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    assert check_model(model, loss_fn, x, y) < 1e-6


def test_mlp_regression_gradient(rng):
    model = nn.mlp([2, 5, 1], rng, activation="tanh")
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    assert check_model(model, losses.mse_loss, x, y) < 1e-7


def test_initialiser_variances(rng):
    w = init.xavier_uniform((400, 600), rng)
    assert w.var() == pytest.approx(2 / 1000, rel=0.02)
    w = init.he_normal((500, 300), rng)
    assert w.var() == pytest.approx(2 / 500, rel=0.02)
    assert init.fans((16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="unknown initialiser"):
        init.get("lecun")


def test_initialisers_use_the_given_generator():
    a = init.he_normal((3, 3), np.random.default_rng(5))
    b = init.he_normal((3, 3), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt", [optim.SGD(lr=0.1), optim.SGD(lr=0.05, momentum=0.9), optim.Adam(lr=0.1)])
def test_optimisers_minimise_a_quadratic(opt):
    target = np.array([[1.0, -2.0], [0.5, 3.0]])
    params = {"w": np.zeros((2, 2))}
    for _ in range(300):
        opt.step(params, {"w": params["w"] - target})
    np.testing.assert_allclose(params["w"], target, atol=1e-3)


def test_weight_decay_shrinks_weights_not_biases():
    opt = optim.SGD(lr=0.1, weight_decay=0.5)
    params = {"w": np.ones((2, 2)), "b": np.ones(2)}
    opt.step(params, {"w": np.zeros((2, 2)), "b": np.zeros(2)})
    np.testing.assert_allclose(params["w"], 1 - 0.1 * 0.5)  # w <- (1 - lr*lambda) w
    np.testing.assert_allclose(params["b"], 1.0)


def test_fit_learns_xor_and_early_stopping_restores_best(rng):
    from lib.data import xor

    x, y = xor(400, rng, noise=0.2)
    model = nn.mlp([2, 16, 2], rng, activation="tanh")
    hist = nn.fit(model, losses.softmax_cross_entropy, optim.Adam(lr=0.02), x[:300], y[:300], rng,
                  epochs=60, x_val=x[300:], y_val=y[300:], patience=5)
    assert nn.accuracy(model, x[300:], y[300:]) > 0.95
    best = min(hist["val_loss"])
    final, _ = losses.softmax_cross_entropy(model.forward(x[300:]), y[300:])
    assert final == pytest.approx(best)
