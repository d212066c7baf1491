import numpy as np
import pytest

from lib import activations as A
from lib.gradcheck import check_layer, numerical_gradient, rel_error

SMOOTH = ["sigmoid", "tanh", "relu", "leaky_relu", "rbf", "softplus", "identity"]


@pytest.mark.parametrize("name", SMOOTH)
def test_derivative_matches_finite_differences(name, rng):
    f, df = A.get(name)
    x = rng.uniform(-3, 3, size=50)
    x = x[np.abs(x) > 1e-3]  # stay off the ReLU kink
    num = numerical_gradient(lambda a: f(a).sum(), x.copy())
    assert rel_error(df(x), num) < 1e-8


@pytest.mark.parametrize("name", SMOOTH)
def test_activation_layer_backward(name, rng):
    x = rng.uniform(-3, 3, size=(4, 5)) + 0.01
    err = check_layer(lambda a: A.activation_forward(a, name), A.activation_backward, [x], rng)
    assert err < 1e-7


def test_sigmoid_is_finite_at_extremes():
    x = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        s = A.sigmoid(x)
        g = A.sigmoid_grad(x)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(g))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5


def test_tanh_is_shifted_sigmoid(rng):
    x = rng.normal(size=100) * 5
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-14)


def test_softmax_and_log_softmax_are_stable():
    z = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    p = A.softmax(z)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0)
    lp = A.log_softmax(z)
    assert np.all(np.isfinite(lp)) and lp[0, 2] == pytest.approx(-2e4)


def test_sign_and_step_conventions():
    np.testing.assert_array_equal(A.sign([-2.0, 0.0, 3.0]), [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(A.step([-2.0, 0.0, 3.0]), [0.0, 1.0, 1.0])


def test_unknown_activation_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid"):
        A.get("swish")


def test_backward_rejects_wrong_dout_shape():
    _, cache = A.activation_forward(np.zeros((2, 3)), "tanh")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        A.activation_backward(np.zeros((3, 2)), cache)
