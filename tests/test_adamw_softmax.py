import numpy as np
import pytest

from lib import activations as A
from lib import optim
from lib.gradcheck import check_layer, rel_error


def test_softmax_backward_matches_finite_differences(rng):
    z = rng.normal(size=(6, 5)) * 3
    assert check_layer(A.softmax_forward, A.softmax_backward, [z], rng) < 1e-8


def test_softmax_backward_equals_jacobian_transpose(rng):
    z, u = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p = A.softmax(z)
    want = np.stack([(np.diag(pi) - np.outer(pi, pi)).T @ ui for pi, ui in zip(p, u)])
    assert rel_error(A.softmax_backward(u, p), want) < 1e-14


def test_softmax_backward_extreme_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-745.0, 745.0, 0.0]])
    dz = A.softmax_backward(np.ones_like(z), A.softmax(z))  # a constant upstream gradient: dz = 0
    assert np.all(np.isfinite(dz)) and np.max(np.abs(dz)) < 1e-15


def test_softmax_backward_named_errors(rng):
    p = A.softmax(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match=r"dout of the shape of p \(2, 3\), got \(3,\)"):
        A.softmax_backward(np.ones(3), p)
    with pytest.raises(ValueError, match="logits"):
        A.softmax_backward(np.ones((2, 3)), rng.normal(size=(2, 3)) + 5)


def test_adamw_decouples_the_decay():
    # A zero gradient: Adam's coupled L2 normalises lambda*w to a step of about lr whatever w is;
    # AdamW shrinks w by the factor (1 - lr*lambda), like SGD's weight decay.
    w0 = np.array([[1e-3, 1.0, 100.0]])
    coupled, decoupled = {"w": w0.copy()}, {"w": w0.copy()}
    optim.Adam(lr=0.01, weight_decay=0.1).step(coupled, {"w": np.zeros_like(w0)})
    optim.AdamW(lr=0.01, weight_decay=0.1).step(decoupled, {"w": np.zeros_like(w0)})
    np.testing.assert_allclose(decoupled["w"], w0 * (1 - 0.01 * 0.1), rtol=1e-15)
    np.testing.assert_allclose(w0 - coupled["w"], 0.01 * np.sign(w0), rtol=1e-4)


def test_adamw_without_decay_is_adam(rng):
    a, b = {"w": np.ones((2, 2)), "b": np.ones(2)}, {"w": np.ones((2, 2)), "b": np.ones(2)}
    opt_a, opt_b = optim.Adam(lr=0.05), optim.AdamW(lr=0.05, weight_decay=0.0)
    for _ in range(20):
        g = {"w": rng.normal(size=(2, 2)), "b": rng.normal(size=2)}
        opt_a.step(a, g)
        opt_b.step(b, g)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_adamw_minimises_and_keeps_biases(rng):
    target = np.array([[1.0, -2.0]])
    params = {"w": np.zeros((1, 2)), "b": np.full(2, 5.0)}
    opt = optim.AdamW(lr=0.05, weight_decay=0.01)
    for _ in range(2000):
        opt.step(params, {"w": params["w"] - target, "b": np.zeros(2)})
    # the fixed point of the decoupled update: m_hat/sqrt(s_hat) -> sign(g), g = w - target -> 0,
    # so w sits a little inside the target; biases are never decayed
    np.testing.assert_allclose(params["w"], target, atol=0.05)
    np.testing.assert_array_equal(params["b"], 5.0)
    with pytest.raises(ValueError, match="weight_decay >= 0"):
        optim.AdamW(weight_decay=-1.0)


def test_adamw_extreme_gradients_stay_finite():
    params = {"w": np.ones((2, 2))}
    opt = optim.AdamW(lr=0.01, weight_decay=0.1)
    with np.errstate(over="ignore"):  # g * g overflows to inf for 1e200: the step is then 0, not nan
        opt.step(params, {"w": np.full((2, 2), 1e200)})
    opt.step(params, {"w": np.zeros((2, 2))})
    assert np.all(np.isfinite(params["w"]))
    tiny = {"w": np.ones((1, 1))}
    optim.AdamW(lr=0.01, weight_decay=0.1).step(tiny, {"w": np.full((1, 1), 1e-300)})
    np.testing.assert_allclose(tiny["w"], 1 - 0.01 * (1e-300 / (1e-300 + 1e-8) + 0.1), rtol=1e-12)
