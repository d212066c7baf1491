"""lib.recurrent: RNN, LSTM, GRU with BPTT, bidirectional and stacked layers, clipping, embeddings, TCN."""
import numpy as np
import pytest

from lib import losses, nn, optim
from lib import recurrent as R
from lib.gradcheck import check_layer, check_model, directional_check, rel_error

N, T, D, H = 3, 5, 4, 3


def seq_args(rng, gates, n=N, t=T, d=D, h=H, scale=0.5):
    return [rng.standard_normal((n, t, d)), rng.standard_normal((n, h)),
            scale * rng.standard_normal((d, gates * h)), scale * rng.standard_normal((h, gates * h)),
            0.1 * rng.standard_normal(gates * h)]


def lstm_args(rng, **kw):
    x, h0, wx, wh, b = seq_args(rng, 4, **kw)
    return [x, h0, rng.standard_normal(h0.shape), wx, wh, b]


PAIRS = {
    "rnn": (R.rnn_forward, R.rnn_backward, lambda rng, **kw: seq_args(rng, 1, **kw)),
    "lstm": (R.lstm_forward, R.lstm_backward, lstm_args),
    "gru": (R.gru_forward, R.gru_backward, lambda rng, **kw: seq_args(rng, 3, **kw)),
}


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_bptt_matches_finite_differences_over_several_steps(rng, kind):
    fwd, bwd, make = PAIRS[kind]
    assert check_layer(fwd, bwd, make(rng), rng) < 1e-7


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_directional_check_at_a_realistic_size(rng, kind):
    fwd, bwd, make = PAIRS[kind]
    args = make(rng, n=8, t=30, d=16, h=20, scale=0.2)
    for wrt in range(len(args)):
        assert directional_check(fwd, bwd, args, rng, wrt=wrt) < 1e-7


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_step_by_step_equals_the_sequence(rng, kind):
    fwd, _, make = PAIRS[kind]
    args = make(rng)
    h_seq, _ = fwd(*args)
    x, state = args[0], list(args[1:-3])
    step = {"rnn": R.rnn_step_forward, "gru": R.gru_step_forward, "lstm": R.lstm_step_forward}[kind]
    for t in range(T):
        out, _ = step(x[:, t], *state, *args[-3:])
        state = [out[:, :H], out[:, H:]] if kind == "lstm" else [out]
        np.testing.assert_allclose(state[0], h_seq[:, t], rtol=1e-13, atol=1e-15)


def test_lstm_step_pair_checks_both_outputs(rng):
    x, h, c, wx, wh, b = lstm_args(rng)
    args = [x[:, 0], h, c, wx, wh, b]
    assert check_layer(R.lstm_step_forward, R.lstm_step_backward, args, rng) < 1e-7
    for kind in ("rnn", "gru"):
        fwd = getattr(R, f"{kind}_step_forward")
        bwd = getattr(R, f"{kind}_step_backward")
        a = PAIRS[kind][2](rng)
        assert check_layer(fwd, bwd, [a[0][:, 0], *a[1:]], rng) < 1e-7


def test_state_grads_are_the_carried_gradients(rng):
    # the gradient at h_0-side equals dh0; at the last step it equals the upstream dh
    for kind, grads in [("rnn", R.rnn_state_grads), ("gru", R.gru_state_grads)]:
        fwd, bwd, make = PAIRS[kind]
        _, cache = fwd(*make(rng))
        dh = np.zeros((N, T, H))
        dh[:, -1] = rng.standard_normal((N, H))
        states = grads(dh, cache)
        np.testing.assert_array_equal(states[:, -1], dh[:, -1])
        assert states.shape == (N, T, H)
    _, cache = R.lstm_forward(*lstm_args(rng))
    dstate, dcell = R.lstm_state_grads(dh, cache)
    assert dstate.shape == dcell.shape == (N, T, H)
    np.testing.assert_array_equal(R.lstm_cells(cache).shape, (N, T, H))


def test_named_errors_for_wrong_shapes(rng):
    x, h0, wx, wh, b = seq_args(rng, 1)
    with pytest.raises(ValueError, match=r"x of shape \(N, T, D\)"):
        R.rnn_forward(x[:, 0], h0, wx, wh, b)
    with pytest.raises(ValueError, match=r"x of shape \(N, T, D\)"):
        R.rnn_forward(x[..., :2], h0, wx, wh, b)
    with pytest.raises(ValueError, match="h0 of shape"):
        R.rnn_forward(x, h0[:, :2], wx, wh, b)
    with pytest.raises(ValueError, match="h0 of shape"):
        R.rnn_forward(x, h0[:2], wx, wh, b)
    with pytest.raises(ValueError, match="at least one time step"):
        R.rnn_forward(x[:, :0], h0, wx, wh, b)
    lx, lh, lc, lwx, lwh, lb = lstm_args(rng)
    with pytest.raises(ValueError, match="c0 of shape"):
        R.lstm_forward(lx, lh, lc[:, :1], lwx, lwh, lb)
    with pytest.raises(ValueError, match=r"wh \(H, 4H\)"):
        R.lstm_forward(lx, lh, lc, lwx, wh, lb)
    gx, gh, gwx, gwh, gb = seq_args(rng, 3)
    with pytest.raises(ValueError, match=r"b \(3H,\)"):
        R.gru_forward(gx, gh, gwx, gwh, gb[:-1])
    _, cache = R.gru_forward(gx, gh, gwx, gwh, gb)
    with pytest.raises(ValueError, match="dh of shape"):
        R.gru_backward(np.zeros((N, T - 1, H)), cache)
    with pytest.raises(ValueError, match="unknown recurrent cell"):
        R.cell("transformer")
    with pytest.raises(ValueError, match="max_norm > 0"):
        R.clip_grad_norm({"w": np.ones(2)}, 0.0)
    with pytest.raises(ValueError, match="token ids in"):
        R.embedding_forward(np.array([[0, 7]]), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="integer token ids"):
        R.embedding_forward(np.array([[0.5]]), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="dilation"):
        R.causal_conv1d_forward(x, np.zeros((2, D, 1)), np.zeros(1), dilation=0)
    with pytest.raises(ValueError, match="LastStep expects"):
        R.LastStep().forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sequence_cross_entropy"):
        R.sequence_cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 4), dtype=int))


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_extreme_inputs_stay_finite(rng, kind):
    fwd, bwd, make = PAIRS[kind]
    args = make(rng)
    args[0] = args[0] * 1e300
    args[-3] = args[-3] * 1e3
    out, cache = fwd(*args)
    bound = max(1.0, np.abs(args[1]).max()) if kind == "gru" else 1.0   # a GRU mixes h0 with values in [-1, 1]
    assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= bound + 1e-12)
    for g in bwd(rng.standard_normal(out.shape), cache)[1:]:
        assert np.all(np.isfinite(g))
    tiny = make(rng)
    tiny[0] = tiny[0] * 1e-300
    out, cache = fwd(*tiny)
    assert all(np.all(np.isfinite(g)) for g in bwd(np.ones(out.shape), cache))


def test_clip_grad_norm_caps_the_length_and_keeps_the_direction(rng):
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    before = {k: v.copy() for k, v in grads.items()}
    norm = R.clip_grad_norm(grads, 0.5)
    assert norm == pytest.approx(np.sqrt(sum(np.sum(v ** 2) for v in before.values())), rel=1e-14)
    assert R.global_norm(grads) == pytest.approx(0.5, rel=1e-14)
    np.testing.assert_allclose(grads["a"] / before["a"], 0.5 / norm, rtol=1e-14)
    small = {"a": np.full(2, 0.1)}
    R.clip_grad_norm(small, 10.0)
    np.testing.assert_array_equal(small["a"], 0.1)


def test_modules_bidirectional_and_stacked_pass_a_model_check(rng):
    x = rng.standard_normal((3, 4, 2))
    y = rng.integers(0, 3, size=3)
    for bidirectional in (False, True):
        for kind in ("rnn", "lstm", "gru"):
            body = R.stacked(kind, 2, 3, 2, rng, bidirectional=bidirectional)
            model = nn.Sequential(*body.layers, R.LastStep(), nn.Linear(6 if bidirectional else 3, 3, rng))
            assert check_model(model, losses.softmax_cross_entropy, x, y) < 1e-6


def test_bidirectional_backward_half_reads_the_future(rng):
    layer = R.Bidirectional(R.RNN(2, 3, rng), R.RNN(2, 3, rng))
    x = rng.standard_normal((1, 5, 2))
    h = layer.forward(x)
    x2 = x.copy()
    x2[:, -1] += 1.0
    h2 = layer.forward(x2)
    np.testing.assert_array_equal(h[0, 0, :3], h2[0, 0, :3])    # the forward half cannot see the last input
    assert np.all(h[0, 0, 3:] != h2[0, 0, 3:])                  # the backward half can


def test_module_dh0_and_lstm_dc0_match_the_functions(rng):
    lstm = R.LSTM(D, H, rng)
    assert np.all(lstm.b[H:2 * H] == 1.0) and np.all(lstm.b[:H] == 0.0)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    out = lstm.forward(x, h0, c0)
    dout = rng.standard_normal(out.shape)
    lstm.backward(dout)
    _, cache = R.lstm_forward(x, h0, c0, lstm.wx, lstm.wh, lstm.b)
    dx, dh0, dc0, *_ = R.lstm_backward(dout, cache)
    np.testing.assert_array_equal(lstm.dh0, dh0)
    np.testing.assert_array_equal(lstm.dc0, dc0)
    w = R.orthogonal((H, 2 * H), rng)
    np.testing.assert_allclose(w[:, :H] @ w[:, :H].T, np.eye(H), atol=1e-12)


def test_embedding_time_linear_and_sequence_loss(rng):
    idx = rng.integers(0, 6, size=(3, 4))
    w = rng.standard_normal((6, 2))
    out, cache = R.embedding_forward(idx, w)
    np.testing.assert_array_equal(out, np.eye(6)[idx] @ w)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(R.embedding_backward(dout, cache),
                               np.einsum("ntv,nte->ve", np.eye(6)[idx], dout), rtol=1e-13)
    lin = R.TimeLinear(2, 5, rng)
    logits = lin.forward(out)
    y = rng.integers(0, 5, size=(3, 4))
    loss, dz = R.sequence_cross_entropy(logits, y)
    ref, _ = losses.softmax_cross_entropy(logits.reshape(12, 5), y.ravel())
    assert loss == pytest.approx(ref, rel=1e-14)

    def f(z):
        return R.sequence_cross_entropy(z, y)[0]

    from lib.gradcheck import numerical_gradient
    assert rel_error(dz, numerical_gradient(f, logits.copy())) < 1e-7
    model = nn.Sequential(R.TimeLinear(2, 5, rng))
    assert check_model(model, R.sequence_cross_entropy, out, y) < 1e-6


def test_causal_conv_gradients_causality_and_receptive_field(rng):
    x = rng.standard_normal((2, 9, 3))
    w = rng.standard_normal((3, 3, 2))
    b = rng.standard_normal(2)
    for d in (1, 2, 4):
        assert check_layer(lambda x, w, b: R.causal_conv1d_forward(x, w, b, d), R.causal_conv1d_backward,
                           [x, w, b], rng) < 1e-7
    out, _ = R.causal_conv1d_forward(x, w, b, 2)
    x2 = x.copy()
    x2[:, 5:] += 1.0
    out2, _ = R.causal_conv1d_forward(x2, w, b, 2)
    np.testing.assert_array_equal(out[:, :5], out2[:, :5])
    assert R.measured_receptive_field(2, [1, 2, 4, 8]) == 16
    assert R.measured_receptive_field(3, [1, 2]) == 7
    assert R.measured_receptive_field(3, [1, 1, 1]) == 7


def test_a_small_lstm_learns_to_recall_the_first_symbol():
    """A short training run: the loss must fall well below chance (log 3 = 1.10) within 150 steps."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(R.LSTM(3, 8, rng), R.LastStep(), nn.Linear(8, 3, rng))
    opt = optim.Adam(lr=0.03)
    for _ in range(150):
        y = rng.integers(0, 3, size=16)
        x = rng.standard_normal((16, 6, 3)) * 0.1
        x[:, 0] = np.eye(3)[y]
        loss, dz = losses.softmax_cross_entropy(model.forward(x), y)
        model.backward(dz)
        grads = model.grads()
        R.clip_grad_norm(grads, 5.0)
        opt.step(model.params(), grads)
    assert loss < 0.2
