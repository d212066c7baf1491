import numpy as np
import pytest

from lib import conv, losses, nn, optim
from lib.gradcheck import check_layer, check_model, directional_check, rel_error

# (N, C, H, W), (F, KH, KW), stride, pad: stride 1/2, pad 0/1/2, C 1/3, rectangular kernels, odd sizes
CONV_CASES = [
    ((2, 1, 5, 5), (2, 3, 3), 1, 0),
    ((2, 3, 7, 6), (4, 3, 2), 1, 1),
    ((1, 3, 6, 7), (2, 2, 3), 2, 0),
    ((2, 1, 5, 4), (3, 3, 3), 2, 1),
    ((1, 3, 4, 5), (2, 1, 2), 1, 2),
    ((2, 3, 9, 7), (2, 5, 3), 2, 2),
]


def _conv_args(rng, xs, ws, stride, pad):
    x = rng.normal(size=xs)
    w = rng.normal(size=(ws[0], xs[1], ws[1], ws[2]))
    return [x, w, rng.normal(size=ws[0]), stride, pad]


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CASES)
def test_conv2d_matches_naive_loop_and_finite_differences(xs, ws, stride, pad, rng):
    args = _conv_args(rng, xs, ws, stride, pad)
    out, _ = conv.conv2d_forward(*args)
    np.testing.assert_allclose(out, conv.conv2d_naive(*args), rtol=1e-12, atol=1e-12)
    assert out.shape[2:] == (conv.conv_output_size(xs[2], ws[1], stride, pad),
                             conv.conv_output_size(xs[3], ws[2], stride, pad))
    assert check_layer(conv.conv2d_forward, conv.conv2d_backward, args, rng) < 1e-7  # dx, dw, db


def test_conv2d_naive_is_the_definition(rng):
    x, w, b = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(1, 2, 2, 2)), np.array([0.5])
    out = conv.conv2d_naive(x, w, b, stride=2)
    assert out[0, 0, 1, 0] == pytest.approx(np.sum(x[0, :, 2:4, 0:2] * w[0]) + 0.5)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_conv2d_directional_check_at_lenet_sizes(i, rng):
    for xs, ws, pad in [((16, 1, 28, 28), (6, 1, 5, 5), 0), ((16, 6, 12, 12), (16, 6, 5, 5), 2)]:
        args = [rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0]), 1, pad]
        assert directional_check(conv.conv2d_forward, conv.conv2d_backward, args, rng, wrt=i) < 1e-8


def test_conv_output_size():
    assert conv.conv_output_size(28, 5) == 24
    assert conv.conv_output_size(7, 3, stride=2, pad=1) == 4
    assert conv.conv_output_size(8, 3, stride=2) == 3  # floor: the last column is not reached
    with pytest.raises(ValueError, match=r"kernel of size 6 does not fit an input of size 3 padded by 1"):
        conv.conv_output_size(3, 6, pad=1)


def test_im2col_layout_on_a_tiny_example():
    x = np.arange(2 * 1 * 3 * 3, dtype=float).reshape(2, 1, 3, 3)
    cols = conv.im2col(x, 2, 2)
    assert cols.shape == (1 * 2 * 2, 2 * 2 * 2)
    np.testing.assert_array_equal(cols[:, 0], [0, 1, 3, 4])        # sample 0, top-left patch
    np.testing.assert_array_equal(cols[:, 3], [4, 5, 7, 8])        # sample 0, bottom-right patch
    np.testing.assert_array_equal(cols[:, 4], [9, 10, 12, 13])     # sample 1, top-left patch
    np.testing.assert_array_equal(cols[0], [0, 1, 3, 4, 9, 10, 12, 13])  # kernel entry (0, 0) everywhere
    padded = conv.im2col(x, 3, 3, stride=2, pad=1)
    assert padded.shape == (9, 2 * 2 * 2)
    np.testing.assert_array_equal(padded[:, 0], [0, 0, 0, 0, 0, 1, 0, 3, 4])


def test_im2col_times_kernel_is_the_convolution(rng):
    x, w, b = rng.normal(size=(3, 2, 6, 5)), rng.normal(size=(4, 2, 3, 2)), rng.normal(size=4)
    cols = conv.im2col(x, 3, 2, stride=2, pad=1)
    out = (w.reshape(4, -1) @ cols + b[:, None]).reshape(4, 3, 3, 3).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, stride=2, pad=1), rtol=1e-12, atol=1e-12)


POOLS = [(conv.maxpool_forward, conv.maxpool_backward),
         (conv.avgpool_forward, conv.avgpool_backward),
         (conv.sumpool_forward, conv.sumpool_backward)]


@pytest.mark.parametrize("forward, backward", POOLS)
@pytest.mark.parametrize("shape, size, stride", [((2, 3, 4, 6), 2, None), ((2, 2, 7, 5), 3, 2), ((1, 2, 5, 5), 2, 1)])
def test_pooling_gradients(forward, backward, shape, size, stride, rng):
    x = rng.normal(size=shape)
    assert check_layer(lambda a: forward(a, size, stride), backward, [x], rng) < 1e-7


def test_pooling_values(rng):
    x = rng.normal(size=(2, 3, 6, 4))
    windows = x.reshape(2, 3, 3, 2, 2, 2)
    np.testing.assert_array_equal(conv.maxpool_forward(x)[0], windows.max(axis=(3, 5)))
    np.testing.assert_allclose(conv.avgpool_forward(x)[0], windows.mean(axis=(3, 5)), rtol=1e-12)
    np.testing.assert_allclose(conv.sumpool_forward(x)[0], windows.sum(axis=(3, 5)), rtol=1e-12)
    out, _ = conv.maxpool_forward(x, size=3, stride=1)
    assert out[1, 2, 1, 0] == x[1, 2, 1:4, 0:3].max()


def test_maxpool_gradient_goes_to_the_argmax_only():
    x = np.array([[[[1.0, 5.0, 2.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])   # second window: a four-way tie
    out, cache = conv.maxpool_forward(x)
    np.testing.assert_array_equal(out, [[[[5.0, 2.0]]]])
    dx = conv.maxpool_backward(np.array([[[[10.0, 7.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0, 10, 7, 0], [0, 0, 0, 0]]]])  # ties: the first maximum


def test_overlapping_maxpool_adds_gradients_of_shared_pixels():
    x = np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    out, cache = conv.maxpool_forward(x, size=2, stride=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 9.0))
    dx = conv.maxpool_backward(np.ones((1, 1, 2, 2)), cache)
    assert dx[0, 0, 1, 1] == 4 and dx.sum() == 4


def test_pooling_drops_what_no_window_reaches(rng):
    x = rng.normal(size=(1, 1, 5, 5))
    out, cache = conv.avgpool_forward(x)
    assert out.shape == (1, 1, 2, 2)
    dx = conv.avgpool_backward(np.ones(out.shape), cache)
    assert np.all(dx[..., 4, :] == 0) and np.all(dx[..., :, 4] == 0) and np.all(dx[..., :4, :4] == 0.25)


def _stochastic(x, seed, train=True, size=2, stride=None):
    return conv.stochastic_pool_forward(x, size, np.random.default_rng(seed), stride, train=train)


def test_stochastic_pool_routes_gradient_to_the_sampled_position(rng):
    x = np.abs(rng.normal(size=(2, 3, 4, 6)))
    out, cache = _stochastic(x, 3)
    again, _ = _stochastic(x, 3)
    np.testing.assert_array_equal(out, again)                  # a seeded Generator makes it deterministic
    dout = rng.normal(size=out.shape)
    dx = conv.stochastic_pool_backward(dout, cache)
    windows, dwin = x.reshape(2, 3, 2, 2, 3, 2), dx.reshape(2, 3, 2, 2, 3, 2)
    picked = windows == out[:, :, :, None, :, None]            # where each output came from
    assert np.all(picked.sum(axis=(3, 5)) == 1)
    np.testing.assert_array_equal(dwin, np.where(picked, dout[:, :, :, None, :, None], 0))
    assert check_layer(lambda a: _stochastic(a, 3), conv.stochastic_pool_backward, [x], rng) < 1e-7


def test_stochastic_pool_samples_in_proportion_to_activations():
    x = np.tile(np.array([[1.0, 0.0], [3.0, 4.0]]), (1, 1, 100, 100))  # 10,000 windows, p = 1/8, 0, 3/8, 4/8
    out, _ = _stochastic(x, 0)
    freq = [np.mean(out == v) for v in (1.0, 0.0, 3.0, 4.0)]
    np.testing.assert_allclose(freq, [1 / 8, 0, 3 / 8, 4 / 8], atol=0.015)  # ~3 binomial std devs
    zeros, cache = _stochastic(np.zeros((1, 1, 2, 2)), 0)
    assert zeros[0, 0, 0, 0] == 0 and conv.stochastic_pool_backward(np.ones((1, 1, 1, 1)), cache).sum() == 1


def test_stochastic_pool_test_time_is_the_expectation(rng):
    x = np.abs(rng.normal(size=(2, 2, 6, 6)))
    out, cache = _stochastic(x, 0, train=False, size=3, stride=3)
    w = x.reshape(2, 2, 2, 3, 2, 3)
    p = w / w.sum(axis=(3, 5), keepdims=True)
    np.testing.assert_allclose(out, (p * w).sum(axis=(3, 5)), rtol=1e-12)
    assert check_layer(lambda a: _stochastic(a, 0, train=False, size=2, stride=1),
                       conv.stochastic_pool_backward, [x], rng) < 1e-7
    zero, cache = _stochastic(np.zeros((1, 1, 2, 2)), 0, train=False)
    assert zero.sum() == 0 and conv.stochastic_pool_backward(np.ones((1, 1, 1, 1)), cache).sum() == 0


def test_float32_in_float32_out(rng):
    x = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    out, cache = conv.conv2d_forward(x, w, b, pad=1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv.conv2d_backward(np.ones_like(out), cache))
    np.testing.assert_allclose(out, conv.conv2d_naive(x.astype(float), w.astype(float), b.astype(float), pad=1),
                               rtol=1e-4, atol=1e-4)
    for forward, backward in POOLS:
        out, cache = forward(x)
        assert out.dtype == np.float32 and backward(np.ones_like(out), cache).dtype == np.float32
    out, cache = _stochastic(np.abs(x), 0)
    assert out.dtype == np.float32 and conv.stochastic_pool_backward(np.ones_like(out), cache).dtype == np.float32
    assert conv.conv2d_forward(x.astype(int), w.astype(int), b.astype(int))[0].dtype == np.float64


def _small_cnn(rng, pool, d):
    model = nn.Sequential(conv.Conv2D(2, 3, 3, rng, pad=1), nn.Activation("tanh"), pool,
                          conv.Conv2D(3, 2, (2, 3), rng, stride=2), nn.Activation("tanh"),
                          conv.Flatten(), nn.Linear(d, 3, rng))
    for name, p in model.params().items():
        if name.endswith("b"):
            p[...] = rng.normal(size=p.shape)
    return model


@pytest.mark.parametrize("pool", ["max", "avg", "stochastic"])
def test_modules_backpropagate_inside_sequential(pool, rng):
    layer = {"max": conv.MaxPool2D(2), "avg": conv.AvgPool2D(2, stride=1),
             "stochastic": conv.StochasticPool2D(2, np.random.default_rng(1))}[pool]
    if pool == "stochastic":                 # eval mode: the deterministic expectation, smooth in x
        model = nn.Sequential(conv.Conv2D(2, 3, 3, rng, pad=1), nn.Activation("sigmoid"), layer,
                              conv.Flatten(), nn.Linear(3 * 3 * 3, 3, rng)).eval()
    else:
        model = _small_cnn(rng, layer, d=2 * 1 * 1 if pool == "max" else 2 * 2 * 2)
    x, y = rng.normal(size=(4, 2, 6, 7)), rng.integers(0, 3, size=4)
    assert check_model(model, losses.softmax_cross_entropy, x, y) < 1e-6


def test_conv_module_shapes_init_and_training(rng):
    layer = conv.Conv2D(3, 8, 5, rng)
    assert layer.w.shape == (8, 3, 5, 5) and layer.b.shape == (8,) and not layer.b.any()
    big = conv.Conv2D(64, 64, 3, rng)
    assert big.w.var() == pytest.approx(2 / (64 * 9), rel=0.05)  # He: Var(w) = 2 / fan_in
    x = rng.normal(size=(40, 1, 6, 6))
    y = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(int)  # top half brighter?
    model = nn.Sequential(conv.Conv2D(1, 4, 3, rng, pad=1), nn.Activation("relu"), conv.MaxPool2D(2),
                          conv.Flatten(), nn.Linear(4 * 3 * 3, 2, rng))
    hist = nn.fit(model, losses.softmax_cross_entropy, optim.Adam(lr=0.01), x, y, rng, epochs=40, batch_size=10)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert nn.accuracy(model, x, y) > 0.9


def test_flatten_round_trip(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    f = conv.Flatten()
    assert f(x).shape == (2, 60)
    np.testing.assert_array_equal(f.backward(f(x)), x)


def test_conv2d_errors_name_expected_and_received(rng):
    x, w, b = np.zeros((8, 1, 28, 28)), np.zeros((6, 3, 5, 5)), np.zeros(6)
    with pytest.raises(ValueError, match=r"conv2d expects x of shape \(N, C, H, W\) with C=3 to match w, "
                                         r"got \(8, 1, 28, 28\)"):
        conv.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, C, H, W\), got \(28, 28\)"):
        conv.conv2d_forward(np.zeros((28, 28)), w, b)
    with pytest.raises(ValueError, match=r"expects w of shape \(F, C, KH, KW\), got \(6, 5, 5\)"):
        conv.conv2d_forward(x, np.zeros((6, 5, 5)), b)
    with pytest.raises(ValueError, match=r"expects b of shape \(F,\) with F=6 to match w, got \(5,\)"):
        conv.conv2d_forward(np.zeros((8, 3, 28, 28)), w, np.zeros(5))
    with pytest.raises(ValueError, match=r"a 5x5 window does not fit the 3x4 input padded by 0 \(padded 3x4\)"):
        conv.conv2d_forward(np.zeros((1, 3, 3, 4)), w, b)
    conv.conv2d_forward(np.zeros((1, 3, 3, 4)), w, b, pad=1)  # fits once padded
    with pytest.raises(ValueError, match=r"positive integer stride, got 0"):
        conv.conv2d_forward(np.zeros((1, 3, 8, 8)), w, b, stride=0)
    with pytest.raises(ValueError, match=r"non-negative integer pad, got -1"):
        conv.conv2d_forward(np.zeros((1, 3, 8, 8)), w, b, pad=-1)
    with pytest.raises(ValueError, match=r"non-negative integer pad, got -1"):
        conv.im2col(np.zeros((1, 3, 8, 8)), 3, 3, pad=-1)
    with pytest.raises(ValueError, match=r"im2col expects x of shape \(N, C, H, W\), got \(8, 8\)"):
        conv.im2col(np.zeros((8, 8)), 3, 3)
    out, cache = conv.conv2d_forward(np.zeros((2, 3, 8, 8)), w, b)
    with pytest.raises(ValueError, match=r"expects dout of shape \(2, 6, 4, 4\), got \(2, 6, 4\)"):
        conv.conv2d_backward(np.zeros((2, 6, 4)), cache)
    with pytest.raises(ValueError, match=r"positive integer stride"):
        conv.Conv2D(3, 6, 5, rng, stride=-1)


@pytest.mark.parametrize("forward", [conv.maxpool_forward, conv.avgpool_forward, conv.sumpool_forward,
                                     lambda x, size=2, stride=None: conv.stochastic_pool_forward(
                                         x, size, np.random.default_rng(0), stride)])
def test_pooling_errors_name_expected_and_received(forward):
    with pytest.raises(ValueError, match=r"pool expects x of shape \(N, C, H, W\), got \(4, 4\)"):
        forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"a 3x3 window does not fit the 2x5 input"):
        forward(np.zeros((1, 1, 2, 5)), size=3)
    with pytest.raises(ValueError, match=r"positive integer stride, got 0"):
        forward(np.zeros((1, 1, 4, 4)), size=2, stride=0)
    with pytest.raises(ValueError, match=r"positive integer window size, got 0"):
        forward(np.zeros((1, 1, 4, 4)), size=0)
    out, cache = forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"backward expects dout of shape \(1, 1, 2, 2\), got \(1, 1, 2\)"):
        {conv.maxpool_forward: conv.maxpool_backward, conv.avgpool_forward: conv.avgpool_backward,
         conv.sumpool_forward: conv.sumpool_backward}.get(forward, conv.stochastic_pool_backward)(
            np.zeros((1, 1, 2)), cache)


def test_stochastic_pool_rejects_negative_activations(rng):
    with pytest.raises(ValueError, match=r"non-negative activations \(e.g. after ReLU\), got min -1.0"):
        conv.stochastic_pool_forward(-np.ones((1, 1, 2, 2)), 2, rng)


def test_rel_error_of_float32_conv_is_small(rng):
    x, w, b = rng.normal(size=(4, 3, 10, 10)), rng.normal(size=(5, 3, 3, 3)), rng.normal(size=5)
    out64, _ = conv.conv2d_forward(x, w, b, stride=2, pad=1)
    out32, _ = conv.conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), stride=2, pad=1)
    assert rel_error(out32, out64) < 1e-6


@pytest.mark.parametrize("shape, size, stride", [((2, 3, 6, 8), 2, None), ((2, 2, 7, 5), 3, None),
                                                 ((2, 2, 7, 6), 3, 2), ((1, 2, 5, 5), 2, 1)])
def test_maxpool_ties_match_a_loop_over_windows(shape, size, stride, rng):
    x = rng.integers(0, 3, size=shape).astype(float)  # many ties, as after a ReLU
    stride = stride or size
    out, cache = conv.maxpool_forward(x, size, stride)
    dout = rng.normal(size=out.shape)
    expected = np.zeros_like(x)
    for n, c, i, j in np.ndindex(out.shape):
        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        p, q = divmod(int(np.argmax(window)), size)  # np.argmax returns the first maximum
        assert out[n, c, i, j] == window.max()
        expected[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    np.testing.assert_allclose(conv.maxpool_backward(dout, cache), expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 2), (2, 1)])
def test_conv2d_split_into_many_chunks_gives_the_same_numbers(stride, pad, rng, monkeypatch):
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1)  # one sample per chunk: every chunk boundary is exercised
    args = [rng.normal(size=(5, 2, 7, 6)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3), stride, pad]
    out, _ = conv.conv2d_forward(*args)
    np.testing.assert_allclose(out, conv.conv2d_naive(*args), rtol=1e-12, atol=1e-12)
    assert check_layer(conv.conv2d_forward, conv.conv2d_backward, args, rng) < 1e-7


def test_interleaved_calls_keep_their_own_caches(rng):
    # the fast path reuses scratch buffers between calls; caches must never point into them
    xa, wa, ba = rng.normal(size=(3, 2, 8, 8)), rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)
    xb, wb, bb = rng.normal(size=(2, 4, 6, 6)), rng.normal(size=(2, 4, 2, 2)), rng.normal(size=2)
    out_a, cache_a = conv.conv2d_forward(xa, wa, ba, pad=1)
    expected = conv.conv2d_backward(np.ones_like(out_a), cache_a)
    out_a2, cache_a = conv.conv2d_forward(xa, wa, ba, pad=1)
    out_b, cache_b = conv.conv2d_forward(xb, wb, bb)
    conv.conv2d_backward(np.ones_like(out_b), cache_b)
    for got, want in zip(conv.conv2d_backward(np.ones_like(out_a), cache_a), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(out_a, out_a2)
