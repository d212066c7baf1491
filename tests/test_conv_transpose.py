import numpy as np
import pytest

from lib import conv, linear, nn
from lib.gradcheck import check_layer, directional_check, rel_error

# (N, C_in, H, W), (C_out, KH, KW), stride, pad, out_pad
CASES = [
    ((2, 3, 4, 4), (2, 3, 3), 1, 0, 0),
    ((1, 2, 3, 5), (3, 3, 2), 2, 0, 1),
    ((2, 1, 4, 3), (2, 4, 4), 2, 1, 0),
    ((1, 3, 3, 3), (1, 3, 3), 3, 1, 2),
]


@pytest.mark.parametrize("xs, ws, stride, pad, out_pad", CASES)
def test_transposed_conv_is_conv_backward_wrt_input(xs, ws, stride, pad, out_pad, rng):
    x = rng.normal(size=xs)
    w = rng.normal(size=(xs[1], ws[0], ws[1], ws[2]))
    out, _ = conv.conv_transpose2d_forward(x, w, np.zeros(ws[0]), stride, pad, out_pad)
    # the convolution that maps an image of out's size to x's size, with the same kernels
    _, cache = conv.conv2d_forward(np.zeros((xs[0], ws[0]) + out.shape[2:]), w, np.zeros(xs[1]), stride, pad)
    dx, _, _ = conv.conv2d_backward(x, cache)
    np.testing.assert_allclose(out, dx, rtol=1e-12, atol=1e-12)
    assert out.shape[2] == conv.conv_transpose_output_size(xs[2], ws[1], stride, pad, out_pad)


@pytest.mark.parametrize("xs, ws, stride, pad, out_pad", CASES)
def test_transposed_conv_finite_differences(xs, ws, stride, pad, out_pad, rng):
    args = [rng.normal(size=xs), rng.normal(size=(xs[1],) + ws), rng.normal(size=ws[0]), stride, pad, out_pad]
    assert check_layer(conv.conv_transpose2d_forward, conv.conv_transpose2d_backward, args, rng) < 1e-7


def test_transposed_conv_directional_at_realistic_size(rng):
    args = [rng.normal(size=(4, 16, 8, 8)), rng.normal(size=(16, 8, 4, 4)), rng.normal(size=8), 2, 1, 0]
    for i in range(3):
        assert directional_check(conv.conv_transpose2d_forward, conv.conv_transpose2d_backward, args, rng,
                                 wrt=i) < 1e-8


def test_transposed_conv_is_the_adjoint(rng):
    """<conv(y), x> = <y, conv_transpose(x)> for a bias-free convolution with the same kernels."""
    w = rng.normal(size=(3, 2, 3, 3))
    y, x = rng.normal(size=(2, 2, 7, 7)), rng.normal(size=(2, 3, 4, 4))
    cy, _ = conv.conv2d_forward(y, w, np.zeros(3), stride=2, pad=1)
    tx, _ = conv.conv_transpose2d_forward(x, w, np.zeros(2), stride=2, pad=1)
    assert np.sum(cy * x) == pytest.approx(np.sum(y * tx), rel=1e-12)


def test_transposed_conv_single_pixel_stamps_the_kernel(rng):
    w = rng.normal(size=(1, 1, 3, 3))
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 0] = 2.0
    out, _ = conv.conv_transpose2d_forward(x, w, np.array([0.5]), stride=2)
    assert out.shape == (1, 1, 5, 5)
    np.testing.assert_allclose(out[0, 0, 2:5, 0:3], 2 * w[0, 0] + 0.5)
    assert np.all(out[0, 0, :2] == 0.5)


def test_transposed_conv_errors(rng):
    x, w, b = rng.normal(size=(1, 2, 3, 3)), rng.normal(size=(2, 4, 3, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="C_in=2"):
        conv.conv_transpose2d_forward(rng.normal(size=(1, 3, 3, 3)), w, b)
    with pytest.raises(ValueError, match=r"b of shape \(C_out,\)"):
        conv.conv_transpose2d_forward(x, w, np.zeros(2))
    with pytest.raises(ValueError, match="out_pad"):
        conv.conv_transpose2d_forward(x, w, b, stride=2, out_pad=2)
    with pytest.raises(ValueError, match="crops away"):
        conv.conv_transpose2d_forward(rng.normal(size=(1, 2, 1, 1)), w[:, :, :1, :1], b, pad=1)
    with pytest.raises(ValueError, match="positive integer stride"):
        conv.conv_transpose2d_forward(x, w, b, stride=0)
    _, cache = conv.conv_transpose2d_forward(x, w, b)
    with pytest.raises(ValueError, match="dout of shape"):
        conv.conv_transpose2d_backward(np.zeros((1, 4, 4, 4)), cache)


def test_transposed_conv_extreme_inputs(rng):
    w = rng.normal(size=(2, 2, 3, 3))
    for scale in (1e-300, 1e300):
        x = rng.normal(size=(1, 2, 3, 3)) * scale
        out, _ = conv.conv_transpose2d_forward(x, w * (1e-8 if scale > 1 else 1), np.zeros(2))
        assert np.all(np.isfinite(out))
    out, _ = conv.conv_transpose2d_forward(np.ones((1, 2, 1, 1)), w, np.zeros(2))  # 1x1 input: the kernel itself
    np.testing.assert_allclose(out[0], w.sum(axis=0))
    assert conv.conv_transpose2d_forward(np.ones((1, 2, 2, 2), dtype=np.int64), w, np.zeros(2))[0].dtype == np.float64


def test_conv_transpose_module_trains(rng):
    layer = conv.ConvTranspose2D(2, 3, 4, rng, stride=2, pad=1)
    out = layer.forward(rng.normal(size=(2, 2, 3, 3)))
    assert out.shape == (2, 3, 6, 6)
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == (2, 2, 3, 3) and set(layer.grads()) == {"w", "b"}
    np.testing.assert_allclose(layer.grads()["b"], np.full(3, 2 * 36.0))


def test_global_avgpool(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    out, cache = conv.global_avgpool_forward(x)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)))
    # the same as average pooling with one window covering the whole (square) map
    np.testing.assert_allclose(conv.global_avgpool_forward(x[:, :, :4, :4])[0],
                               conv.avgpool_forward(x[:, :, :4, :4], 4)[0][:, :, 0, 0], rtol=1e-13)
    assert check_layer(conv.global_avgpool_forward, conv.global_avgpool_backward, [x], rng) < 1e-8
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv.global_avgpool_forward(x[0])
    with pytest.raises(ValueError, match="dout of shape"):
        conv.global_avgpool_backward(np.zeros((2, 4)), cache)
    big = np.full((1, 1, 3, 3), 1e308)       # the sum overflows, the mean does not
    np.testing.assert_allclose(conv.global_avgpool_forward(big)[0], 1e308, rtol=1e-15)
    m = conv.GlobalAvgPool2D()
    assert m.forward(x).shape == (2, 3) and m.backward(np.ones((2, 3))).shape == x.shape


def test_one_by_one_conv_is_a_per_pixel_dense_layer(rng):
    layer = conv.Conv2D(5, 3, 1, rng)
    layer.b[...] = rng.normal(size=3)
    x = rng.normal(size=(2, 5, 4, 6))
    pixels = x.transpose(0, 2, 3, 1).reshape(-1, 5)          # one row per pixel
    dense, _ = linear.affine_forward(pixels, layer.w[:, :, 0, 0].T, layer.b)
    np.testing.assert_allclose(layer.forward(x), dense.reshape(2, 4, 6, 3).transpose(0, 3, 1, 2), rtol=1e-12)


def test_shift_images():
    x = np.arange(12.0).reshape(1, 3, 4)
    right = conv.shift_images(x, cols=1)
    np.testing.assert_array_equal(right[0, :, 1:], x[0, :, :-1])
    assert np.all(right[0, :, 0] == 0)
    np.testing.assert_array_equal(conv.shift_images(x, rows=-1)[0, :2], x[0, 1:])
    np.testing.assert_array_equal(conv.shift_images(x), x)
    with pytest.raises(ValueError, match="out of view"):
        conv.shift_images(x, cols=4)
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        conv.shift_images(np.zeros(3))
