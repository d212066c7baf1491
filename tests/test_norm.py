import numpy as np
import pytest

from lib import losses, nn, optim
from lib.gradcheck import check_layer, check_model, directional_check, numerical_gradient, rel_error
from lib.norm import BatchNorm, batchnorm_backward, batchnorm_eval_backward, batchnorm_eval_forward, batchnorm_forward


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 3)])
def test_batchnorm_backward_matches_finite_differences(shape, rng):
    x = rng.normal(size=shape) * 3 + 1
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    assert check_layer(batchnorm_forward, batchnorm_backward, [x, gamma, beta], rng) < 1e-7


def test_batchnorm_directional_check_at_realistic_size(rng):
    x, gamma, beta = rng.normal(size=(128, 256)), rng.normal(size=256), rng.normal(size=256)
    for i in range(3):
        assert directional_check(batchnorm_forward, batchnorm_backward, [x, gamma, beta], rng, wrt=i) < 1e-7


def test_batchnorm_output_is_standardised(rng):
    x = rng.normal(size=(50, 4)) * [1, 10, 100, 1e-2] + [5, -3, 1e8, 0]  # a large offset, too
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=0), 1, rtol=1e-6)


def test_batchnorm_extreme_inputs(rng):
    x = rng.normal(size=(8, 3))
    a, _ = batchnorm_forward(x, np.ones(3), np.zeros(3), eps=1e-5)
    b, _ = batchnorm_forward(x * 1e100, np.ones(3), np.zeros(3), eps=1e-5)  # scale-invariant
    np.testing.assert_allclose(a, b, rtol=1e-4)
    const = np.tile([[2.0, -1e30, 0.0]], (5, 1))  # zero variance: out = beta, finite gradients
    out, cache = batchnorm_forward(const, np.full(3, 2.0), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out, np.tile([[1.0, 2.0, 3.0]], (5, 1)))
    dx, dg, db = batchnorm_backward(rng.normal(size=(5, 3)), cache)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dg))


def test_batchnorm_named_value_errors(rng):
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, D\) or \(N, C, H, W\), got \(3,\)"):
        batchnorm_forward(np.zeros(3), g, b)
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(4,\) for x \(5, 4\), got \(3,\)"):
        batchnorm_forward(np.zeros((5, 4)), g, b)
    with pytest.raises(ValueError, match=r"at least 2 values per feature .* got x \(1, 3\)"):
        batchnorm_forward(np.zeros((1, 3)), g, b)
    with pytest.raises(ValueError, match="eps > 0"):
        batchnorm_forward(np.zeros((4, 3)), g, b, eps=0.0)
    _, cache = batchnorm_forward(rng.normal(size=(4, 3)), g, b)
    with pytest.raises(ValueError, match=r"dout of shape \(4, 3\), got \(3, 4\)"):
        batchnorm_backward(np.zeros((3, 4)), cache)
    with pytest.raises(ValueError, match="positive number of features"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=0.0)
    with pytest.raises(ValueError, match="non-negative running variance"):
        batchnorm_eval_forward(np.zeros((2, 3)), g, b, np.zeros(3), -np.ones(3))


def test_eval_mode_backward_matches_finite_differences(rng):
    x = rng.normal(size=(5, 3))
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    g, b = rng.normal(size=3), rng.normal(size=3)

    def fwd(x, g, b):
        return batchnorm_eval_forward(x, g, b, mean, var)

    assert check_layer(fwd, batchnorm_eval_backward, [x, g, b], rng) < 1e-7


def test_module_running_statistics_and_eval_mode(rng):
    bn = BatchNorm(3, momentum=0.1)
    scale, shift = np.array([1.0, 2.0, 0.5]), np.array([3.0, -1.0, 0.0])
    for _ in range(300):
        bn.forward(rng.normal(size=(32, 3)) * scale + shift)
    np.testing.assert_allclose(bn.running_mean, shift, atol=0.1)
    np.testing.assert_allclose(bn.running_var, scale**2, rtol=0.15)
    bn.eval()
    x = rng.normal(size=(4, 3)) * scale + shift
    alone = np.vstack([bn.forward(x[i:i + 1]) for i in range(4)])  # eval: one sample at a time works
    np.testing.assert_allclose(bn.forward(x), alone, rtol=1e-14)


def test_sequential_with_batchnorm_trains_and_checks(rng):
    model = nn.Sequential(nn.Linear(4, 6, rng), BatchNorm(6), nn.Activation("tanh"), nn.Linear(6, 3, rng))
    model.layers[1].gamma[...] = rng.normal(size=6)
    model.layers[1].beta[...] = rng.normal(size=6)
    x, y = rng.normal(size=(10, 4)), rng.integers(0, 3, size=10)
    loss_fn = losses.softmax_cross_entropy
    model.backward(loss_fn(model.forward(x), y)[1])
    # batch statistics remove any shift, so the bias before batch norm gets exactly no gradient
    assert np.max(np.abs(model.grads()["0.b"])) < 1e-15
    for k, p in model.params().items():
        num = numerical_gradient(lambda _: loss_fn(model.forward(x), y)[0], p)
        assert (np.max(np.abs(num)) < 1e-9) if k == "0.b" else rel_error(model.grads()[k], num) < 1e-6
    assert set(model.params()) == {"0.w", "0.b", "1.gamma", "1.beta", "3.w", "3.b"}
    model.eval()
    assert check_model(model, losses.softmax_cross_entropy, x, y) < 1e-6
    before = losses.softmax_cross_entropy(model.train().forward(x), y)[0]
    opt = optim.SGD(lr=0.1)
    for _ in range(100):
        _, d = losses.softmax_cross_entropy(model.forward(x), y)
        model.backward(d)
        opt.step(model.params(), model.grads())
    assert losses.softmax_cross_entropy(model.forward(x), y)[0] < 0.5 * before
