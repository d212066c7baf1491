import numpy as np
import pytest

from lib import blocks, conv, losses, nn
from lib.gradcheck import check_layer, check_model


def as_layer(module):
    """forward/backward pair of a module, for check_layer (gradient with respect to the input)."""
    return (lambda x: (module.forward(x), None)), (lambda d, _: module.backward(d))


def test_count_params(rng):
    assert blocks.count_params(conv.Conv2D(3, 4, 5, rng)) == 4 * 3 * 25 + 4
    assert blocks.count_params(nn.Sequential(nn.Linear(3, 2, rng), nn.Activation("relu"))) == 8
    with pytest.raises(ValueError, match="lib.nn.Module"):
        blocks.count_params(np.zeros(3))


def test_residual_backward_and_parameters(rng):
    block = blocks.Residual(conv.Conv2D(3, 3, 3, rng, pad=1), nn.Activation("tanh"), conv.Conv2D(3, 3, 3, rng, pad=1))
    x = rng.normal(size=(2, 3, 5, 5))
    assert check_layer(*as_layer(block), [x], rng) < 1e-7
    head = nn.Sequential(block, conv.Flatten(), nn.Linear(75, 4, rng))
    assert check_model(head, losses.softmax_cross_entropy, x, np.array([0, 3])) < 1e-6
    assert set(block.params()) == {"0.0.w", "0.0.b", "0.2.w", "0.2.b"}
    # with a zero branch the block is the identity, and so is its Jacobian
    for p in block.params().values():
        p[...] = 0
    np.testing.assert_array_equal(block.forward(x), x)
    np.testing.assert_array_equal(block.backward(x), x)


def test_residual_errors(rng):
    with pytest.raises(ValueError, match="at least one layer"):
        blocks.Residual()
    with pytest.raises(ValueError, match="same shape"):
        blocks.Residual(conv.Conv2D(3, 4, 3, rng, pad=1)).forward(np.zeros((1, 3, 5, 5)))


def test_concat_backward(rng):
    block = blocks.Concat(blocks.Identity(), nn.Sequential(conv.Conv2D(2, 3, 3, rng, pad=1), nn.Activation("tanh")),
                          [conv.Conv2D(2, 1, 1, rng)])
    x = rng.normal(size=(2, 2, 4, 4))
    out = block.forward(x)
    assert out.shape == (2, 6, 4, 4)
    np.testing.assert_array_equal(out[:, :2], x)
    assert check_layer(*as_layer(block), [x], rng) < 1e-7
    with pytest.raises(ValueError, match="channels in dout"):
        block.backward(np.zeros((2, 5, 4, 4)))
    with pytest.raises(ValueError, match="spatial shape"):
        blocks.Concat(blocks.Identity(), conv.MaxPool2D(2)).forward(x)
    with pytest.raises(ValueError, match="at least one branch"):
        blocks.Concat()


def test_inception_shapes_gradients_and_model(rng):
    block = blocks.inception(4, 2, (3, 4), (2, 3), 2, rng)
    for p in block.params().values():   # non-zero biases keep the ReLUs off their kink
        p[...] = rng.normal(size=p.shape) * 0.5
    x = rng.uniform(0.1, 1.0, size=(2, 4, 5, 5))
    out = block.forward(x)
    assert out.shape == (2, 2 + 4 + 3 + 2, 5, 5)
    assert check_layer(*as_layer(block), [x], rng) < 1e-6
    model = nn.Sequential(block, conv.GlobalAvgPool2D(), nn.Linear(11, 3, rng))
    assert check_model(model, losses.softmax_cross_entropy, x, np.array([2, 0])) < 1e-6
    assert blocks.count_params(block) == (4 * 2 + 2) + (4 * 3 + 3 + 3 * 4 * 9 + 4) + (4 * 2 + 2 + 2 * 3 * 25 + 3) + (4 * 2 + 2)
    with pytest.raises(ValueError, match=r"c3 = \(reduce, out\)"):
        blocks.inception(4, 2, 3, (2, 3), 2, rng)


def test_inception_pool_branch_ignores_padding(rng):
    """The -inf padding never wins the max, even when every real value is very negative."""
    pad_pool = nn.Sequential(blocks.PadSame(1, -np.inf), conv.MaxPool2D(3, stride=1))
    x = -1e300 * rng.uniform(1, 2, size=(1, 1, 4, 4))
    out = pad_pool.forward(x)
    assert out.shape == x.shape and np.all(np.isfinite(out))
    assert out[0, 0, 0, 0] == x[0, 0, :2, :2].max()
    dx = pad_pool.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.sum() == out.size
    with pytest.raises(ValueError, match="non-negative integer pad"):
        blocks.PadSame(-1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        blocks.PadSame(1).forward(np.zeros((2, 2)))


def test_dense_layer_grows_channels(rng):
    c, growth = 3, 2
    layers = [blocks.dense_layer(c + i * growth, growth, rng) for i in range(3)]
    x = rng.normal(size=(2, c, 4, 4))
    out = nn.Sequential(*layers).forward(x)
    assert out.shape[1] == c + 3 * growth
    np.testing.assert_array_equal(out[:, :c], x)   # the input is carried through unchanged
    for p in nn.Sequential(*layers).params().values():
        p[...] = rng.normal(size=p.shape)
    assert check_layer(*as_layer(nn.Sequential(*layers)), [x], rng) < 1e-6


def test_small_cnn_and_receptive_field(rng):
    body, model = blocks.small_cnn(rng, classes=5, c1=4, c2=6)
    assert model.forward(np.zeros((3, 1, 8, 8))).shape == (3, 5)
    assert model.layers[:len(body.layers)] == body.layers
    _, flat = blocks.small_cnn(rng, c1=2, c2=3, pool=False)
    assert flat.forward(np.zeros((1, 1, 8, 8))).shape == (1, 10)
    assert blocks.receptive_field_extent([conv.Conv2D(1, 2, 3, rng), conv.Conv2D(2, 1, 3, rng)]) == (5, 5)
    assert blocks.receptive_field_extent([conv.Conv2D(1, 1, 3, rng, stride=2), conv.Conv2D(1, 1, 3, rng)]) == (7, 7)
