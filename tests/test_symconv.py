import numpy as np
import pytest
import sympy as sp

from lib import conv, symconv


def sym_image(name, h, w):
    return sp.ImmutableMatrix(h, w, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))


def numeric(expr, subs):
    return np.array(sp.Matrix(expr).subs(subs), dtype=float)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (1, 2)])
def test_correlate_matches_lib(stride, pad, rng):
    xs = [sym_image("x", 4, 5), sym_image("y", 4, 5)]
    ws = [sym_image("w", 3, 3), sym_image("v", 3, 3)]
    x, w = rng.normal(size=(1, 2, 4, 5)), rng.normal(size=(1, 2, 3, 3))
    subs = {s: val for m, arr in zip(xs + ws, list(x[0]) + list(w[0])) for s, val in zip(m, arr.ravel())}
    want = numeric(symconv.correlate(xs, ws, 0.5, stride, pad), subs)
    np.testing.assert_allclose(conv.conv2d_forward(x, w, np.array([0.5]), stride, pad)[0][0, 0], want, rtol=1e-12)
    cols = numeric(symconv.im2col(xs, 3, stride, pad), subs)
    np.testing.assert_allclose(conv.im2col(x, 3, 3, stride, pad), cols)


def test_matrices_compute_the_correlation():
    x, w = sym_image("x", 3, 4), sym_image("w", 2, 2)
    t = symconv.toeplitz_matrix(w, 3, 4)
    assert sp.expand(t * symconv.vec(x) - symconv.vec(symconv.correlate(x, w))) == sp.zeros(6, 1)
    c = symconv.circulant_matrix(w, 3, 4)
    assert c.shape == (12, 12) and all(sum(c.row(i)) == sum(w) for i in range(12))


def test_flip_dilate_shift_pool():
    k = sym_image("k", 2, 3)
    assert symconv.rot180(symconv.rot180(k)) == k
    d = symconv.dilate(k, 2)
    assert d.shape == (3, 5) and d[2, 4] == k[1, 2] and d[1, 1] == 0
    assert symconv.shift(k, 1, 1)[1, 1] == k[0, 0] and symconv.shift(k, 1, 1)[0, 0] == 0
    x = sp.ImmutableMatrix([[1, 2], [4, 3]])
    assert symconv.max_pool(x, 2)[0, 0] == 4
    assert symconv.convolve_full(sp.ImmutableMatrix([[1, 2]]), sp.ImmutableMatrix([[1, 1]])) == sp.Matrix([[1, 3, 2]])
    with pytest.raises(ValueError, match="stride >= 1"):
        symconv.dilate(k, 0)
    with pytest.raises(ValueError, match="non-negative pad"):
        symconv.zero_pad(k, -1)
    with pytest.raises(ValueError, match="as many kernel channels"):
        symconv.correlate([k, k], [k])
    with pytest.raises(ValueError, match="does not fit"):
        symconv.correlate(k, sym_image("w", 3, 3))


def test_receptive_field_routes_agree():
    ks, ss = [3, 5, 2], [2, 1, 2]
    assert symconv.rf_bottom_up(ks, ss) == symconv.rf_top_down(ks, ss) == 1 + 2 + 4 * 2 + 1 * 2
