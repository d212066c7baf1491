"""Tests for lib.attention: finite differences (masks included), named errors, extreme inputs."""
import numpy as np
import pytest

from lib import attention as A
from lib import optim
from lib.activations import softmax
from lib.gradcheck import check_layer, directional_check


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def qkv(rng, lead=(2,), tq=3, tk=4, dk=5, dv=2):
    return (rng.standard_normal(lead + (tq, dk)), rng.standard_normal(lead + (tk, dk)),
            rng.standard_normal(lead + (tk, dv)))


def test_attention_matches_softmax_formula(rng):
    q, k, v = qkv(rng)
    out, cache = A.attention_forward(q, k, v)
    want = softmax(q @ k.transpose(0, 2, 1) / np.sqrt(5)) @ v
    np.testing.assert_allclose(out, want, rtol=1e-13)
    np.testing.assert_allclose(cache[0].sum(axis=-1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("masked", [False, True])
def test_attention_gradients(rng, masked):
    q, k, v = qkv(rng, tq=4, tk=4)
    mask = A.causal_mask(4) if masked else None
    err = check_layer(lambda q, k, v: A.attention_forward(q, k, v, mask), A.attention_backward, [q, k, v], rng)
    assert err < 1e-8


def test_attention_gradients_with_scale_and_four_axes(rng):
    q, k, v = qkv(rng, lead=(2, 3))
    mask = rng.random((2, 3, 3, 4)) < 0.6
    mask[..., 0] = True
    err = check_layer(lambda q, k, v: A.attention_forward(q, k, v, mask, scale=0.7), A.attention_backward,
                      [q, k, v], rng)
    assert err < 1e-8


def test_masked_positions_get_exactly_zero_weight_and_gradient(rng):
    q, k, v = qkv(rng, tq=5, tk=5)
    mask = A.causal_mask(5)
    out, cache = A.attention_forward(q, k, v, mask)
    weights = cache[0]
    assert np.all(weights[:, ~mask] == 0.0) and np.all(weights[:, mask] > 0)
    dq, dk, dv = A.attention_backward(rng.standard_normal(out.shape), cache)
    # key and value 5 are seen only by query 5: a gradient on the other queries gives them nothing
    dout = rng.standard_normal(out.shape)
    dout[:, 4] = 0.0
    _, dk, dv = A.attention_backward(dout, cache)
    assert np.all(dk[:, 4] == 0.0) and np.all(dv[:, 4] == 0.0)
    # changing a masked key or value changes nothing that the mask hides
    k2, v2 = k.copy(), v.copy()
    k2[:, 4] += 100.0
    v2[:, 4] -= 100.0
    out2, _ = A.attention_forward(q, k2, v2, mask)
    assert np.array_equal(out2[:, :4], out[:, :4])


def test_attention_extreme_inputs_finite(rng):
    q, k, v = qkv(rng)
    for s in (1e-300, 1e100):
        out, cache = A.attention_forward(q * s, k * s, v)
        grads = A.attention_backward(np.ones_like(out), cache)
        assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
    out, cache = A.attention_forward(q * 1e100, k * 1e100, v, A.causal_mask(4)[:3])
    assert np.all(np.isfinite(out)) and np.all(cache[0][:, 0, 1:] == 0.0)


def test_attention_errors(rng):
    q, k, v = qkv(rng)
    with pytest.raises(ValueError, match="one width d_k"):
        A.attention_forward(q, k[..., :4], v)
    with pytest.raises(ValueError, match="one value per key"):
        A.attention_forward(q, k, v[:, :3])
    with pytest.raises(ValueError, match="leading"):
        A.attention_forward(q, k[:1], v[:1])
    with pytest.raises(ValueError, match="number"):
        A.attention_forward(q[0, 0], k, v)
    with pytest.raises(ValueError, match="mask of shape"):
        A.attention_forward(q, k, v, np.ones((4, 3), bool))
    with pytest.raises(ValueError, match="boolean mask"):
        A.attention_forward(q, k, v, np.ones((3, 4)))
    with pytest.raises(ValueError, match="all False"):
        A.attention_forward(q, k, v, np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="scale"):
        A.attention_forward(q, k, v, scale=0.0)
    out, cache = A.attention_forward(q, k, v)
    with pytest.raises(ValueError, match="dout of shape"):
        A.attention_backward(out[..., :1], cache)


def test_multihead_gradients_self_and_cross(rng):
    n, t, s, d = 2, 4, 3, 6
    w = [rng.standard_normal((d, d)) * 0.5 for _ in range(4)]
    x, mem = rng.standard_normal((n, t, d)), rng.standard_normal((n, s, d))
    err = check_layer(lambda xq, xkv, *w: A.multihead_forward(xq, xkv, *w, heads=3, mask=A.causal_mask(4)[:, :3]),
                      A.multihead_backward, [x, mem, *w], rng)
    assert err < 1e-7
    masks = np.broadcast_to(A.causal_mask(t), (n, t, t))

    def self_attention(x, *w):
        out, cache = A.multihead_forward(x, x, *w, heads=2, mask=masks)
        return out, cache

    def self_backward(dout, cache):
        dxq, dxkv, *dw = A.multihead_backward(dout, cache)
        return (dxq + dxkv, *dw)

    assert check_layer(self_attention, self_backward, [x, *w], rng) < 1e-7


def test_multihead_one_head_is_attention(rng):
    x = rng.standard_normal((2, 3, 4))
    wq, wk, wv = (rng.standard_normal((4, 4)) for _ in range(3))
    out, _ = A.multihead_forward(x, x, wq, wk, wv, np.eye(4), heads=1)
    want, _ = A.attention_forward(x @ wq, x @ wk, x @ wv)
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_multihead_errors(rng):
    x = rng.standard_normal((2, 3, 4))
    w = [np.eye(4)] * 4
    with pytest.raises(ValueError, match="divides"):
        A.multihead_forward(x, x, *w, heads=3)
    with pytest.raises(ValueError, match="wk of shape"):
        A.multihead_forward(x, x, w[0], np.eye(3), w[2], w[3], heads=2)
    with pytest.raises(ValueError, match="xkv"):
        A.multihead_forward(x, x[:, :, :3], *w, heads=2)
    with pytest.raises(ValueError, match="mask"):
        A.multihead_forward(x, x, *w, heads=2, mask=np.ones((3, 3, 3), bool))


def test_multihead_directional_at_benchmark_width(rng):
    x = rng.standard_normal((4, 16, 32))
    w = [rng.standard_normal((32, 32)) / 6 for _ in range(4)]
    for i in range(6):
        gap = directional_check(lambda *a: A.multihead_forward(*a, heads=4), A.multihead_backward,
                                [x, x.copy(), *w], rng, wrt=i)
        assert gap < 1e-7


def test_layernorm(rng):
    x = rng.standard_normal((3, 4, 5)) * 3 + 2
    g, b = rng.standard_normal(5), rng.standard_normal(5)
    out, _ = A.layernorm_forward(x, np.ones(5), np.zeros(5))
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-14)
    np.testing.assert_allclose(out.var(axis=-1), 1.0, rtol=1e-4)  # eps = 1e-5 shrinks it a little
    assert check_layer(A.layernorm_forward, A.layernorm_backward, [x, g, b], rng) < 1e-7
    big, cache = A.layernorm_forward(np.array([[1e299, -1e299, 0.0]]), np.ones(3), np.zeros(3))
    np.testing.assert_allclose(big, [[np.sqrt(1.5), -np.sqrt(1.5), 0.0]], rtol=1e-12)
    assert np.all(np.isfinite(big)) and np.all(np.isfinite(A.layernorm_backward(np.ones((1, 3)), cache)[0]))
    const, cache = A.layernorm_forward(np.full((2, 3), 7.0), np.ones(3), np.zeros(3))
    assert np.all(const == 0) and np.all(np.isfinite(A.layernorm_backward(np.ones((2, 3)), cache)[0]))
    with pytest.raises(ValueError, match="gamma and beta"):
        A.layernorm_forward(x, np.ones(4), np.zeros(5))
    with pytest.raises(ValueError, match="D >= 2"):
        A.layernorm_forward(np.ones((3, 1)), np.ones(1), np.zeros(1))
    with pytest.raises(ValueError, match="dout of shape"):
        A.layernorm_backward(np.ones((1, 2)), cache)


def test_positional_encoding_relative_position(rng):
    pe = A.positional_encoding(20, 8)
    assert pe.shape == (20, 8) and np.all(np.abs(pe) <= 1)
    w = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    k = 3
    for i, wi in enumerate(w):  # PE[p + k] is a rotation of PE[p] that depends on k only
        rot = np.array([[np.cos(k * wi), -np.sin(k * wi)], [np.sin(k * wi), np.cos(k * wi)]])
        np.testing.assert_allclose(pe[k:, 2 * i:2 * i + 2], pe[:-k, 2 * i:2 * i + 2] @ rot, atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        A.positional_encoding(5, 3)
    with pytest.raises(ValueError, match="base"):
        A.positional_encoding(5, 4, base=1.0)


def test_block_gradients_with_and_without_mask(rng):
    for mask in (None, A.causal_mask(4)):
        p = A.block_params(6, 8, rng)
        for key in ("ln1_g", "ln2_g", "ln1_b", "ln2_b", "b1", "b2"):
            p[key] = p[key] + 0.3 * rng.standard_normal(p[key].shape)
        x = rng.standard_normal((2, 4, 6))

        def fwd(x, *vals):
            return A.block_forward(x, dict(zip(A.BLOCK_PARAMS, vals)), 2, mask)

        def bwd(dout, cache):
            dx, g = A.block_backward(dout, cache)
            return (dx, *[g[k] for k in A.BLOCK_PARAMS])

        assert check_layer(fwd, bwd, [x, *[p[k] for k in A.BLOCK_PARAMS]], rng) < 1e-6


def test_block_causal_mask_blocks_the_future(rng):
    blk = A.TransformerBlock(6, 2, 8, rng, mask=A.causal_mask(5))
    x = rng.standard_normal((1, 5, 6))
    out = blk(x)
    x2 = x.copy()
    x2[0, 3:] += 10.0
    assert np.array_equal(blk(x2)[0, :3], out[0, :3])
    with pytest.raises(ValueError, match="missing"):
        A.block_forward(x, {"wq": np.eye(6)}, 2)
    with pytest.raises(ValueError, match="divides"):
        A.TransformerBlock(6, 4, 8, rng)


def test_scores_and_pool(rng):
    y, c = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(A.dot_score(y, c)[1, 2], y[1, 2] @ c[1], rtol=1e-14)
    np.testing.assert_allclose(A.scaled_dot_score(y, c), A.dot_score(y, c) / np.sqrt(3), rtol=1e-14)
    w = rng.standard_normal((3, 3))
    np.testing.assert_allclose(A.bilinear_score(y, c, w)[0, 1], y[0, 1] @ w @ c[0], rtol=1e-13)
    wa, ua, va = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    np.testing.assert_allclose(A.additive_score(y, c, wa, ua, va)[1, 0], va @ np.tanh(wa @ y[1, 0] + ua @ c[1]),
                               rtol=1e-13)
    z, alpha = A.attention_pool(y, A.dot_score(y, c))
    np.testing.assert_allclose(z[0], alpha[0] @ y[0], rtol=1e-13)
    with pytest.raises(ValueError, match="one width"):
        A.dot_score(y, c[:, :2])
    with pytest.raises(ValueError, match="W of shape"):
        A.bilinear_score(y, c, w[:2])
    with pytest.raises(ValueError, match="additive_score"):
        A.additive_score(y, c, wa, ua[:3], va)
    with pytest.raises(ValueError, match="scores"):
        A.attention_pool(y, np.zeros((2, 4)))


def test_embedding_and_patches(rng):
    w = rng.standard_normal((5, 3))
    ids = np.array([[0, 4, 4], [1, 0, 2]])
    out, cache = A.embedding_forward(ids, w)
    dout = rng.standard_normal(out.shape)
    dw = A.embedding_backward(dout, cache)
    np.testing.assert_allclose(dw[4], dout[0, 1] + dout[0, 2], rtol=1e-14)
    assert np.all(dw[3] == 0)
    with pytest.raises(ValueError, match="token ids in"):
        A.embedding_forward(np.array([5]), w)
    with pytest.raises(ValueError, match="integer"):
        A.embedding_forward(np.array([0.5]), w)
    img = np.arange(2 * 4 * 6, dtype=float).reshape(2, 4, 6)
    p = A.image_to_patches(img, 2)
    assert p.shape == (2, 6, 4)
    np.testing.assert_array_equal(p[1, 4], img[1, 2:4, 2:4].ravel())
    with pytest.raises(ValueError, match="divide"):
        A.image_to_patches(img, 4)


def test_sequence_model_gradients_and_short_training(rng):
    m = A.SequenceTransformer(5, 5, 4, 6, 2, 8, 2, rng)
    x, y = A.reversal_task(3, 4, 5, rng)
    loss, dz = A.sequence_loss(m.forward(x), y)
    m.backward(dz)
    grads = {k: v.copy() for k, v in m.grads().items()}
    for key in ("embed", "0.wq", "1.w1", "ln_g", "w_out"):
        p, i = m.params()[key], (0,) * m.params()[key].ndim
        old = p[i]
        p[i] = old + 1e-6
        up = A.sequence_loss(m.forward(x), y)[0]
        p[i] = old - 1e-6
        down = A.sequence_loss(m.forward(x), y)[0]
        p[i] = old
        assert abs((up - down) / 2e-6 - grads[key][i]) <= 1e-7 * max(1.0, abs(grads[key][i]))
    r = np.random.default_rng(1)
    xs, ys = A.reversal_task(300, 4, 5, r)
    m = A.SequenceTransformer(5, 5, 4, 16, 2, 32, 1, r)
    hist = A.fit_sequences(m, optim.Adam(lr=1e-2), xs, ys, r, epochs=8, batch_size=50)
    assert hist[-1] < 0.1 * hist[0]  # measured: 1.7 -> 0.024 (chance level is log 5 = 1.6)
    with pytest.raises(ValueError, match="Generator"):
        A.reversal_task(3, 4, 5, 0)
    with pytest.raises(ValueError, match=r"logits \(N, T, C\)"):
        A.sequence_loss(np.zeros((2, 3, 4)), np.zeros((2, 2), int))


def test_attnplots_return_figures(rng):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from lib import attnplots

    w = softmax(rng.standard_normal((5, 5)))
    figs = [attnplots.weights_frame(w, 2, "t"), attnplots.attention_grid([w, w], ["a", "b"], "s"),
            attnplots.saturation([4, 16], {"a": np.ones((5, 2)), "b": np.ones((5, 2))},
                                 {"a": np.ones((5, 2)), "b": np.ones((5, 2))}),
            attnplots.patches_figure(np.zeros((8, 8)), np.zeros((16, 4)), 2)]
    assert all(isinstance(f, Figure) for f in figs)
