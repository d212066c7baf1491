import math

import numpy as np
import pytest

from lib import autodiff as ad
from lib import losses, nn
from lib.gradcheck import numerical_gradient, rel_error


def f_scalar(a, b, m):
    """A small expression that uses every operation, for Values (m=ad) or floats (m=math)."""
    return m.tanh(a * b) + m.exp(a) / (b**2 + 1.0) - 3.0 * m.log(b * b + a * a) + (a - b) ** 3


def test_gradients_match_finite_differences(rng):
    for a0, b0 in rng.normal(size=(20, 2)) * 1.5:
        a, b = ad.Value(a0), ad.Value(b0)
        ad.backward(f_scalar(a, b, ad))
        num = numerical_gradient(lambda v: f_scalar(v[0], v[1], math), np.array([a0, b0]))
        assert rel_error(np.array([a.grad, b.grad]), num) < 1e-8


def test_sigmoid_relu_and_reused_node():
    x = ad.Value(0.7)
    y = ad.sigmoid(x) * x + ad.relu(x) * ad.relu(-x + 2.0)  # x reaches y along several paths
    ad.backward(y)
    s = 1 / (1 + math.exp(-0.7))
    want = s * (1 - s) * 0.7 + s + (2.0 - 0.7) - 0.7
    assert x.grad == pytest.approx(want, rel=1e-14)


def test_backward_twice_gives_the_same_gradient():
    x = ad.Value(1.3)
    y = x * x * x
    ad.backward(y)
    first = x.grad
    ad.backward(y)
    assert x.grad == first == pytest.approx(3 * 1.3**2)


def test_forward_mode_agrees_and_costs_one_sweep_per_input(rng):
    xs = [ad.Value(v) for v in rng.normal(size=6)]
    y = sum((xi * xj).tanh() for xi in xs for xj in xs)
    edges = ad.backward(y)
    nodes, n_edges = ad.graph_size(y)
    assert edges == n_edges and nodes > len(xs)
    total = 0
    for xi in xs:
        d, visits = ad.forward_derivative(y, xi)
        assert d == pytest.approx(xi.grad, rel=1e-12)
        assert visits < edges  # a sweep skips the products that do not involve xi
        total += visits
    assert total > 2 * edges  # but six sweeps cost more than one reverse sweep


def test_gradient_helper():
    value, (da, db) = ad.gradient(lambda a, b: a * b + ad.exp(a), 0.5, 2.0)
    assert value == pytest.approx(1.0 + math.exp(0.5))
    assert (da, db) == (pytest.approx(2.0 + math.exp(0.5)), pytest.approx(0.5))
    with pytest.raises(ValueError, match="return a Value, got float"):
        ad.gradient(lambda a: 1.0, 0.5)


def test_tiny_mlp_of_scalar_nodes_matches_lib_nn(rng):
    net = nn.mlp([3, 4, 2], rng, activation="tanh")
    for p in net.params().values():
        p[...] = rng.normal(size=p.shape)
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    loss, dout = losses.softmax_cross_entropy(net.forward(x), y)
    net.backward(dout)
    w = {k: ad.lift(v) for k, v in net.params().items()}
    h = ad.apply(ad.tanh, ad.lift(x) @ w["0.w"] + w["0.b"])
    z = h @ w["2.w"] + w["2.b"]
    rows = [ad.log(sum(ad.exp(zk) for zk in z[n])) - z[n, y[n]] for n in range(len(y))]
    total = sum(rows) / len(y)
    ad.backward(total)
    assert total.data == pytest.approx(loss, rel=1e-13)
    for k, g in net.grads().items():
        assert rel_error(ad.grads(w[k]), g) < 1e-12


def test_deep_chain_has_no_recursion_limit():
    x = ad.Value(0.5)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    ad.backward(y)
    assert x.grad == 1.0


def test_extreme_inputs():
    big = ad.Value(800.0)
    s = ad.sigmoid(big)
    ad.backward(s)
    assert s.data == 1.0 and big.grad == pytest.approx(math.exp(-800.0), rel=1e-12)  # 0 in float64
    small = ad.Value(-700.0)
    ad.backward(ad.sigmoid(small))
    assert small.grad == pytest.approx(math.exp(-700.0), rel=1e-12)  # full relative accuracy in the tail
    t = ad.Value(40.0)
    ad.backward(ad.tanh(t))
    assert t.grad == 0.0
    assert ad.Value(709.0).exp().data == pytest.approx(math.exp(709.0))


def test_named_value_errors():
    with pytest.raises(ValueError, match="expects a real number, got 'a'"):
        ad.Value("a")
    with pytest.raises(ValueError, match="real number"):
        ad.Value(True)
    with pytest.raises(ValueError, match="real number"):
        ad.Value(1 + 2j)
    with pytest.raises(ValueError, match=r"log expects a positive value, got -1"):
        ad.log(ad.Value(-1.0))
    with pytest.raises(ValueError, match="exp overflows float64 for x = 710"):
        ad.exp(ad.Value(710.0))
    with pytest.raises(ValueError, match="constant int or float k"):
        ad.Value(2.0) ** ad.Value(2.0)
    with pytest.raises(ValueError, match="no derivative at 0"):
        ad.Value(0.0) ** -1
    with pytest.raises(ValueError, match="expects a Value, got float"):
        ad.backward(1.0)
    with pytest.raises(ValueError, match="not a node of the graph"):
        ad.forward_derivative(ad.Value(1.0) * 2.0, ad.Value(1.0))
