import numpy as np
import pytest

from lib import losses as L
from lib.gradcheck import numerical_gradient, rel_error

REGRESSION = [L.mse_loss, L.huber_loss, L.tukey_loss, L.sigmoid_cross_entropy]
CLASSIFICATION = [L.softmax_cross_entropy, L.hinge_loss]


def _check(loss_fn, pred, y):
    _, grad = loss_fn(pred, y)
    num = numerical_gradient(lambda p: loss_fn(p, y)[0], pred.copy())
    return rel_error(grad, num)


@pytest.mark.parametrize("loss_fn", REGRESSION)
def test_regression_loss_gradients(loss_fn, rng):
    pred = rng.normal(size=(6, 3)) * 3
    y = rng.uniform(0, 1, size=(6, 3)) if loss_fn is L.sigmoid_cross_entropy else rng.normal(size=(6, 3))
    assert _check(loss_fn, pred, y) < 1e-7


@pytest.mark.parametrize("loss_fn", CLASSIFICATION)
def test_classification_loss_gradients(loss_fn, rng):
    scores = rng.normal(size=(7, 4))
    y = rng.integers(0, 4, size=7)
    assert _check(loss_fn, scores, y) < 1e-7


def test_nll_gradient(rng):
    p = rng.uniform(0.1, 1.0, size=(5, 3))
    y = rng.integers(0, 3, size=5)
    assert _check(L.nll_loss, p, y) < 1e-7


def test_known_values():
    assert L.mse_loss(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))[0] == pytest.approx((0.5 + 4.5) / 2)
    assert L.huber_loss(np.array([3.0]), np.array([0.0]), delta=1.0)[0] == pytest.approx(2.5)
    assert L.tukey_loss(np.array([100.0]), np.array([0.0]), c=3.0)[0] == pytest.approx(1.5)
    loss, _ = L.softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))
    assert loss == pytest.approx(np.log(4))
    loss, _ = L.hinge_loss(np.array([[3.0, 2.5, 0.0]]), np.array([0]))
    assert loss == pytest.approx(0.5)


def test_cross_entropy_with_huge_logits_is_finite():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    y = np.array([2, 1])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, dz = L.softmax_cross_entropy(z, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dz))
    assert loss == pytest.approx(1e4)  # sample 0 is 2e4 off, sample 1 is right


def test_sigmoid_cross_entropy_extremes():
    loss, dz = L.sigmoid_cross_entropy(np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
    assert loss == pytest.approx(1000.0) and np.all(np.isfinite(dz))


def test_log_of_zero_probability_is_finite():
    loss, dp = L.nll_loss(np.array([[0.0, 1.0]]), np.array([0]))
    assert np.isfinite(loss) and loss > 700 and np.all(np.isfinite(dp))
    assert np.isfinite(L.safe_log(0.0))
    assert L.entropy(np.array([0.0, 1.0])) == 0.0


@pytest.mark.parametrize("loss_fn", CLASSIFICATION + [L.nll_loss])
def test_labels_outside_class_range(loss_fn):
    with pytest.raises(ValueError, match="label 3 is outside the class range 0..2"):
        loss_fn(np.full((2, 3), 1 / 3), np.array([0, 3]))
    with pytest.raises(ValueError, match="label -1 is outside"):
        loss_fn(np.full((2, 3), 1 / 3), np.array([-1, 0]))


def test_labels_must_be_integers_with_one_per_row():
    with pytest.raises(ValueError, match="integer class labels"):
        L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\)"):
        L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))


@pytest.mark.parametrize("loss_fn", REGRESSION)
def test_regression_shape_mismatch_is_an_error(loss_fn):
    with pytest.raises(ValueError, match=r"same shape, got \(4, 1\) and \(4,\)"):
        loss_fn(np.zeros((4, 1)), np.zeros(4))
