"""Recurrent layers over batched sequences: RNN, LSTM, GRU with full backpropagation through time (chapter 5).

Shapes: x (N, T, D) holds N sequences of T steps with D features; hidden states are (N, H).
Row vectors throughout, as in the rest of the book: a step computes x_t @ wx + h_{t-1} @ wh + b.
The input projection x @ wx + b does not depend on the recurrence, so it is one matrix product
over all T steps; only h_{t-1} @ wh stays inside the time loop.  The backward passes collect the
pre-activation gradients of every step and form dwx, dwh and dx as single products at the end.

Gate layouts (columns of wx, wh, b): LSTM [i, f, o, g] (4H), GRU [z, r, n] (3H).
"""
import numpy as np
from scipy.special import expit

from lib import init
from lib.nn import Module, Sequential


# ----- checks -----------------------------------------------------------------------------------


def _check_seq(name, x, wx, wh, b, h0, gates):
    x = np.asarray(x, dtype=float)
    if wx.ndim != 2 or wh.ndim != 2:
        raise ValueError(f"{name} expects 2-D wx (D, {gates}H) and wh (H, {gates}H), got {wx.shape} and {wh.shape}")
    hidden = wh.shape[0]
    if wh.shape != (hidden, gates * hidden) or wx.shape[1] != gates * hidden or b.shape != (gates * hidden,):
        raise ValueError(f"{name} expects wh (H, {gates}H), wx (D, {gates}H), b ({gates}H,) with one H, "
                         f"got wx {wx.shape}, wh {wh.shape}, b {b.shape}")
    if x.ndim != 3 or x.shape[2] != wx.shape[0]:
        raise ValueError(f"{name} expects x of shape (N, T, D) = (N, T, {wx.shape[0]}), got {x.shape}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} needs at least one time step, got x of shape {x.shape}")
    _check_state(name, "h0", h0, x.shape[0], hidden)
    return x, hidden


def _check_state(name, what, h, n, hidden):
    if np.shape(h) != (n, hidden):
        raise ValueError(f"{name} expects {what} of shape (N, H) = ({n}, {hidden}) to match x and wh, "
                         f"got {np.shape(h)}")


def _check_dout(name, dh, shape):
    if np.shape(dh) != shape:
        raise ValueError(f"{name} expects dh of shape (N, T, H) = {shape}, got {np.shape(dh)}")


def _weight_grads(x, hprev, da, wx, wh):
    """dx, dwx, dwh, db from the pre-activation gradients da (N, T, G) of every step."""
    n, t, g = da.shape
    flat = da.reshape(n * t, g)
    dx = (flat @ wx.T).reshape(n, t, wx.shape[0])
    dwx = x.reshape(n * t, -1).T @ flat
    dwh = hprev.reshape(n * t, -1).T @ flat
    return dx, dwx, dwh, flat.sum(axis=0)


# ----- plain (Elman) RNN: h_t = tanh(x_t wx + h_{t-1} wh + b) ---------------------------------


def rnn_forward(x, h0, wx, wh, b):
    """h_t = tanh(x_t @ wx + h_{t-1} @ wh + b) for t = 1..T.

    x: (N, T, D); h0: (N, H); wx: (D, H); wh: (H, H); b: (H,).
    Returns h (N, T, H), every hidden state, and the cache for rnn_backward.  Chapter 5.
    """
    x, hidden = _check_seq("rnn", x, wx, wh, b, h0, 1)
    n, steps, _ = x.shape
    xw = x @ wx + b
    h = np.empty((n, steps, hidden))
    prev = np.asarray(h0, dtype=float)
    for t in range(steps):
        prev = np.tanh(xw[:, t] + prev @ wh)
        h[:, t] = prev
    return h, (x, h0, wx, wh, h)


def _rnn_bptt(dh, cache):
    x, h0, wx, wh, h = cache
    _check_dout("rnn backward", dh, h.shape)
    da = np.empty_like(h)
    dstate = np.empty_like(h)
    carry = np.zeros_like(h0, dtype=float)
    for t in range(h.shape[1] - 1, -1, -1):
        dstate[:, t] = dh[:, t] + carry          # dL/dh_t: from the output at t and from step t+1
        da[:, t] = dstate[:, t] * (1.0 - h[:, t] ** 2)
        carry = da[:, t] @ wh.T
    hprev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    dx, dwx, dwh, db = _weight_grads(x, hprev, da, wx, wh)
    return (dx, carry, dwx, dwh, db), dstate


def rnn_backward(dh, cache):
    """Backpropagation through time.  dh: dL/dh (N, T, H) for every step's output.

    Returns dx (N, T, D), dh0 (N, H), dwx (D, H), dwh (H, H), db (H,).
    """
    return _rnn_bptt(dh, cache)[0]


def rnn_state_grads(dh, cache):
    """The total dL/dh_t (N, T, H) that BPTT carries through every hidden state (chapter 5 measures its norm)."""
    return _rnn_bptt(dh, cache)[1]


def rnn_step_forward(x, h, wx, wh, b):
    """One step h' = tanh(x @ wx + h @ wh + b); x (N, D), h (N, H).  Returns h' and the cache."""
    out, cache = rnn_forward(np.asarray(x, dtype=float)[:, None], h, wx, wh, b)
    return out[:, 0], cache


def rnn_step_backward(dout, cache):
    """Given dL/dh' (N, H), return dx (N, D), dh (N, H), dwx, dwh, db."""
    dx, dh0, dwx, dwh, db = rnn_backward(np.asarray(dout)[:, None], cache)
    return dx[:, 0], dh0, dwx, dwh, db


# ----- LSTM -------------------------------------------------------------------------------------


def lstm_forward(x, h0, c0, wx, wh, b):
    """Long short-term memory over a sequence (Hochreiter & Schmidhuber 1997, with a forget gate).

    a = x_t @ wx + h_{t-1} @ wh + b split into [i, f, o, g];
    i, f, o = sigma(.), g = tanh(.);  c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t).
    x: (N, T, D); h0, c0: (N, H); wx: (D, 4H); wh: (H, 4H); b: (4H,).
    Returns h (N, T, H) and the cache for lstm_backward (which also holds every c_t).  Chapter 5.
    """
    x, hidden = _check_seq("lstm", x, wx, wh, b, h0, 4)
    _check_state("lstm", "c0", c0, x.shape[0], hidden)
    n, steps, _ = x.shape
    xw = x @ wx + b
    gates = np.empty((n, steps, 4 * hidden))
    c = np.empty((n, steps, hidden))
    tc = np.empty((n, steps, hidden))
    h = np.empty((n, steps, hidden))
    hp, cp = np.asarray(h0, dtype=float), np.asarray(c0, dtype=float)
    s3 = 3 * hidden
    for t in range(steps):
        a = xw[:, t] + hp @ wh
        act = gates[:, t]
        act[:, :s3] = expit(a[:, :s3])
        act[:, s3:] = np.tanh(a[:, s3:])
        cp = act[:, hidden:2 * hidden] * cp + act[:, :hidden] * act[:, s3:]
        c[:, t] = cp
        tc[:, t] = np.tanh(cp)
        hp = act[:, 2 * hidden:s3] * tc[:, t]
        h[:, t] = hp
    return h, (x, h0, c0, wx, wh, gates, c, tc, h)


def _lstm_bptt(dh, cache):
    x, h0, c0, wx, wh, gates, c, tc, h = cache
    _check_dout("lstm backward", dh, h.shape)
    hidden = h.shape[2]
    s2, s3 = 2 * hidden, 3 * hidden
    da = np.empty_like(gates)
    dstate = np.empty_like(h)
    dcell = np.empty_like(c)
    carry_h = np.zeros_like(h0, dtype=float)
    carry_c = np.zeros_like(c0, dtype=float)
    for t in range(h.shape[1] - 1, -1, -1):
        act = gates[:, t]
        i, f, o, g = act[:, :hidden], act[:, hidden:s2], act[:, s2:s3], act[:, s3:]
        dht = dh[:, t] + carry_h
        dstate[:, t] = dht
        dc = carry_c + dht * o * (1.0 - tc[:, t] ** 2)
        dcell[:, t] = dc
        cprev = c[:, t - 1] if t > 0 else c0
        d = da[:, t]
        d[:, :hidden] = dc * g * i * (1.0 - i)
        d[:, hidden:s2] = dc * cprev * f * (1.0 - f)
        d[:, s2:s3] = dht * tc[:, t] * o * (1.0 - o)
        d[:, s3:] = dc * i * (1.0 - g ** 2)
        carry_c = dc * f                          # the cell path: only a product with f per step
        carry_h = d @ wh.T
    hprev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    dx, dwx, dwh, db = _weight_grads(x, hprev, da, wx, wh)
    return (dx, carry_h, carry_c, dwx, dwh, db), dstate, dcell


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.  dh: dL/dh (N, T, H).

    Returns dx (N, T, D), dh0 (N, H), dc0 (N, H), dwx (D, 4H), dwh (H, 4H), db (4H,).
    """
    return _lstm_bptt(dh, cache)[0]


def lstm_state_grads(dh, cache):
    """The total dL/dh_t and dL/dc_t (each (N, T, H)) that BPTT carries through the LSTM."""
    _, dstate, dcell = _lstm_bptt(dh, cache)
    return dstate, dcell


def lstm_cells(cache):
    """The cell states c_t (N, T, H) that lstm_forward computed."""
    return cache[6]


def lstm_step_forward(x, h, c, wx, wh, b):
    """One LSTM step from (h, c) with x (N, D); returns (h', c') stacked as (N, 2H) and the cache.

    Stacking h' and c' makes the step an ordinary forward/backward pair; split with [:, :H], [:, H:].
    """
    out, cache = lstm_forward(np.asarray(x, dtype=float)[:, None], h, c, wx, wh, b)
    return np.concatenate([out[:, 0], cache[6][:, 0]], axis=1), cache


def lstm_step_backward(dout, cache):
    """Given dL/d[h', c'] (N, 2H), return dx (N, D), dh (N, H), dc (N, H), dwx, dwh, db."""
    hidden = cache[4].shape[0]
    dout = np.asarray(dout, dtype=float)
    if dout.ndim != 2 or dout.shape[1] != 2 * hidden:
        raise ValueError(f"lstm step backward expects dout of shape (N, 2H) = (N, {2 * hidden}), got {dout.shape}")
    dx, dh0, dc0, dwx, dwh, db = _lstm_step_with_cell_grad(dout[:, :hidden], dout[:, hidden:], cache)
    return dx[:, 0], dh0, dc0, dwx, dwh, db


def _lstm_step_with_cell_grad(dh, dc, cache):
    x, h0, c0, wx, wh, gates, c, tc, h = cache
    hidden = h.shape[2]
    act = gates[:, 0]
    i, f, o, g = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
    dct = dc + dh * o * (1.0 - tc[:, 0] ** 2)
    da = np.concatenate([dct * g * i * (1.0 - i), dct * c0 * f * (1.0 - f),
                         dh * tc[:, 0] * o * (1.0 - o), dct * i * (1.0 - g ** 2)], axis=1)
    dx, dwx, dwh, db = _weight_grads(x, h0[:, None], da[:, None], wx, wh)
    return dx, da @ wh.T, dct * f, dwx, dwh, db


# ----- GRU --------------------------------------------------------------------------------------


def gru_forward(x, h0, wx, wh, b):
    """Gated recurrent unit over a sequence (Cho et al. 2014).

    z = sigma(x_t wx_z + h_{t-1} wh_z + b_z) (update), r = sigma(x_t wx_r + h_{t-1} wh_r + b_r) (reset),
    n = tanh(x_t wx_n + (r * h_{t-1}) wh_n + b_n),  h_t = z * h_{t-1} + (1 - z) * n.
    x: (N, T, D); h0: (N, H); wx: (D, 3H); wh: (H, 3H); b: (3H,).
    Returns h (N, T, H) and the cache for gru_backward.  Chapter 5.
    """
    x, hidden = _check_seq("gru", x, wx, wh, b, h0, 3)
    n, steps, _ = x.shape
    s2 = 2 * hidden
    xw = x @ wx + b
    gates = np.empty((n, steps, 3 * hidden))
    rh = np.empty((n, steps, hidden))
    h = np.empty((n, steps, hidden))
    hp = np.asarray(h0, dtype=float)
    for t in range(steps):
        act = gates[:, t]
        act[:, :s2] = expit(xw[:, t, :s2] + hp @ wh[:, :s2])
        rh[:, t] = act[:, hidden:s2] * hp
        act[:, s2:] = np.tanh(xw[:, t, s2:] + rh[:, t] @ wh[:, s2:])
        z, cand = act[:, :hidden], act[:, s2:]
        hp = z * hp + (1.0 - z) * cand
        h[:, t] = hp
    return h, (x, h0, wx, wh, gates, rh, h)


def _gru_bptt(dh, cache):
    x, h0, wx, wh, gates, rh, h = cache
    _check_dout("gru backward", dh, h.shape)
    hidden = h.shape[2]
    s2 = 2 * hidden
    da = np.empty_like(gates)
    dstate = np.empty_like(h)
    carry = np.zeros_like(h0, dtype=float)
    whn_t, whzr_t = wh[:, s2:].T, wh[:, :s2].T
    for t in range(h.shape[1] - 1, -1, -1):
        act = gates[:, t]
        z, r, cand = act[:, :hidden], act[:, hidden:s2], act[:, s2:]
        hprev = h[:, t - 1] if t > 0 else h0
        dht = dh[:, t] + carry
        dstate[:, t] = dht
        d = da[:, t]
        d[:, s2:] = dht * (1.0 - z) * (1.0 - cand ** 2)
        drh = d[:, s2:] @ whn_t
        d[:, :hidden] = dht * (hprev - cand) * z * (1.0 - z)
        d[:, hidden:s2] = drh * hprev * r * (1.0 - r)
        carry = dht * z + drh * r + d[:, :s2] @ whzr_t
    hprev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    n, steps, _ = h.shape
    flat = da.reshape(n * steps, 3 * hidden)
    dx = (flat @ wx.T).reshape(x.shape)
    dwx = x.reshape(n * steps, -1).T @ flat
    dwh = np.empty_like(wh)
    dwh[:, :s2] = hprev.reshape(n * steps, hidden).T @ flat[:, :s2]
    dwh[:, s2:] = rh.reshape(n * steps, hidden).T @ flat[:, s2:]   # the candidate sees r * h, not h
    return (dx, carry, dwx, dwh, flat.sum(axis=0)), dstate


def gru_backward(dh, cache):
    """Backpropagation through time for gru_forward.  dh: dL/dh (N, T, H).

    Returns dx (N, T, D), dh0 (N, H), dwx (D, 3H), dwh (H, 3H), db (3H,).
    """
    return _gru_bptt(dh, cache)[0]


def gru_state_grads(dh, cache):
    """The total dL/dh_t (N, T, H) that BPTT carries through the GRU."""
    return _gru_bptt(dh, cache)[1]


def gru_step_forward(x, h, wx, wh, b):
    """One GRU step; x (N, D), h (N, H).  Returns h' (N, H) and the cache."""
    out, cache = gru_forward(np.asarray(x, dtype=float)[:, None], h, wx, wh, b)
    return out[:, 0], cache


def gru_step_backward(dout, cache):
    """Given dL/dh' (N, H), return dx (N, D), dh (N, H), dwx, dwh, db."""
    dx, dh0, dwx, dwh, db = gru_backward(np.asarray(dout)[:, None], cache)
    return dx[:, 0], dh0, dwx, dwh, db


# ----- gradient clipping ------------------------------------------------------------------------


def global_norm(grads):
    """sqrt(sum of every squared entry) over a dict (or list) of gradient arrays."""
    values = grads.values() if isinstance(grads, dict) else grads
    return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in values)))


def clip_grad_norm(grads, max_norm):
    """Rescale every gradient in place by min(1, max_norm / ||g||) (Pascanu et al. 2013).

    The direction is kept; only the length is capped.  Returns the norm before clipping.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm needs max_norm > 0, got {max_norm}")
    total = global_norm(grads)
    if total > max_norm:
        scale = max_norm / total
        for g in (grads.values() if isinstance(grads, dict) else grads):
            g *= scale
    return total


# ----- modules ----------------------------------------------------------------------------------


def orthogonal(shape, rng):
    """A (H, H) orthogonal matrix (QR of a Gaussian), tiled over gate blocks: spectral radius 1 per block."""
    hidden, cols = shape
    blocks = []
    for _ in range(cols // hidden):
        q, r = np.linalg.qr(rng.standard_normal((hidden, hidden)))
        blocks.append(q * np.sign(np.diag(r)))
    return np.concatenate(blocks, axis=1)


class _Recurrent(Module):
    gates = 1

    def __init__(self, d_in, hidden, rng, init_name="xavier", recurrent_init="orthogonal"):
        if d_in < 1 or hidden < 1:
            raise ValueError(f"{type(self).__name__} needs d_in >= 1 and hidden >= 1, got {d_in}, {hidden}")
        g = self.gates * hidden
        self.hidden = hidden
        self.wx = init.get(init_name)((d_in, g), rng)
        self.wh = orthogonal((hidden, g), rng) if recurrent_init == "orthogonal" else init.get(recurrent_init)((hidden, g), rng)
        self.b = np.zeros(g)

    def params(self):
        return {"wx": self.wx, "wh": self.wh, "b": self.b}

    def grads(self):
        return getattr(self, "_grads", {})

    def _h0(self, x, h0):
        return np.zeros((np.shape(x)[0], self.hidden)) if h0 is None else h0


class RNN(_Recurrent):
    """A tanh RNN layer: forward(x (N, T, D), h0=None) -> h (N, T, H).  After backward, dh0 holds dL/dh0."""

    def forward(self, x, h0=None):
        out, self.cache = rnn_forward(x, self._h0(x, h0), self.wx, self.wh, self.b)
        return out

    def backward(self, dh):
        dx, self.dh0, dwx, dwh, db = rnn_backward(dh, self.cache)
        self._grads = {"wx": dwx, "wh": dwh, "b": db}
        return dx


class LSTM(_Recurrent):
    """An LSTM layer: forward(x, h0=None, c0=None) -> h (N, T, H).  forget_bias starts f near 1 (remember)."""
    gates = 4

    def __init__(self, d_in, hidden, rng, forget_bias=1.0, **kw):
        super().__init__(d_in, hidden, rng, **kw)
        self.b[hidden:2 * hidden] = forget_bias

    def forward(self, x, h0=None, c0=None):
        h0 = self._h0(x, h0)
        c0 = np.zeros_like(h0, dtype=float) if c0 is None else c0
        out, self.cache = lstm_forward(x, h0, c0, self.wx, self.wh, self.b)
        return out

    def backward(self, dh):
        dx, self.dh0, self.dc0, dwx, dwh, db = lstm_backward(dh, self.cache)
        self._grads = {"wx": dwx, "wh": dwh, "b": db}
        return dx


class GRU(_Recurrent):
    """A GRU layer: forward(x, h0=None) -> h (N, T, H)."""
    gates = 3

    def forward(self, x, h0=None):
        out, self.cache = gru_forward(x, self._h0(x, h0), self.wx, self.wh, self.b)
        return out

    def backward(self, dh):
        dx, self.dh0, dwx, dwh, db = gru_backward(dh, self.cache)
        self._grads = {"wx": dwx, "wh": dwh, "b": db}
        return dx


CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def cell(kind):
    if kind not in CELLS:
        raise ValueError(f"unknown recurrent cell {kind!r}; known: {', '.join(sorted(CELLS))}")
    return CELLS[kind]


class Bidirectional(Module):
    """Run one layer forward in time and another on the reversed sequence; concatenate (N, T, H_f + H_b)."""

    def __init__(self, forward_layer, backward_layer):
        self.fwd, self.bwd = forward_layer, backward_layer

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim != 3:
            raise ValueError(f"Bidirectional expects x of shape (N, T, D), got {x.shape}")
        hf = self.fwd.forward(x)
        hb = self.bwd.forward(x[:, ::-1])[:, ::-1]   # h_b[t] has read x_T .. x_t
        self.split = hf.shape[2]
        return np.concatenate([hf, hb], axis=2)

    def backward(self, dout):
        dx = self.fwd.backward(dout[:, :, :self.split])
        return dx + self.bwd.backward(np.ascontiguousarray(dout[:, ::-1, self.split:]))[:, ::-1]

    def params(self):
        return {**{f"fwd.{k}": v for k, v in self.fwd.params().items()},
                **{f"bwd.{k}": v for k, v in self.bwd.params().items()}}

    def grads(self):
        return {**{f"fwd.{k}": v for k, v in self.fwd.grads().items()},
                **{f"bwd.{k}": v for k, v in self.bwd.grads().items()}}


def stacked(kind, d_in, hidden, layers, rng, bidirectional=False, **kw):
    """layers recurrent layers of one kind, each reading the hidden sequence of the one below (Sequential)."""
    if layers < 1:
        raise ValueError(f"stacked needs layers >= 1, got {layers}")
    make = cell(kind)
    mods, width = [], d_in
    for _ in range(layers):
        if bidirectional:
            mods.append(Bidirectional(make(width, hidden, rng, **kw), make(width, hidden, rng, **kw)))
            width = 2 * hidden
        else:
            mods.append(make(width, hidden, rng, **kw))
            width = hidden
    return Sequential(*mods)


class LastStep(Module):
    """Many-to-one: keep h[:, -1] (N, H); the backward pass puts dout there and zeros elsewhere."""

    def forward(self, h):
        h = np.asarray(h)
        if h.ndim != 3:
            raise ValueError(f"LastStep expects h of shape (N, T, H), got {h.shape}")
        self.shape = h.shape
        return h[:, -1]

    def backward(self, dout):
        dh = np.zeros(self.shape)
        dh[:, -1] = dout
        return dh


class TimeLinear(Module):
    """out[:, t] = h[:, t] @ w + b for every step: (N, T, H) -> (N, T, M), the same w at each step."""

    def __init__(self, d_in, d_out, rng, init_name="xavier"):
        self.w = init.get(init_name)((d_in, d_out), rng)
        self.b = np.zeros(d_out)

    def params(self):
        return {"w": self.w, "b": self.b}

    def grads(self):
        return getattr(self, "_grads", {})

    def forward(self, h):
        h = np.asarray(h, dtype=float)
        if h.ndim != 3 or h.shape[2] != self.w.shape[0]:
            raise ValueError(f"TimeLinear expects h of shape (N, T, {self.w.shape[0]}), got {h.shape}")
        self.h = h
        return h @ self.w + self.b

    def backward(self, dout):
        flat = dout.reshape(-1, self.w.shape[1])
        self._grads = {"w": self.h.reshape(-1, self.w.shape[0]).T @ flat, "b": flat.sum(axis=0)}
        return dout @ self.w.T


def embedding_forward(idx, w):
    """out = w[idx]: row idx of the (V, E) table for every token; idx (N, T) integers -> (N, T, E).

    The same as one_hot(idx) @ w without building the one-hot vectors.  Chapter 5.
    """
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"embedding expects integer token ids, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
        raise ValueError(f"embedding expects token ids in [0, {w.shape[0]}), got range [{idx.min()}, {idx.max()}]")
    return w[idx], (idx, w.shape)


def embedding_backward(dout, cache):
    """dw (V, E): each token's row collects the gradients of every place the token occurs."""
    idx, shape = cache
    dw = np.zeros(shape)
    np.add.at(dw, idx.ravel(), dout.reshape(-1, shape[1]))
    return dw


class Embedding(Module):
    """A learned embedding table (V, E) as the first layer of a sequence model; backward returns None."""

    def __init__(self, vocab, dim, rng, std=0.1):
        self.w = rng.normal(0.0, std, size=(vocab, dim))

    def params(self):
        return {"w": self.w}

    def grads(self):
        return getattr(self, "_grads", {})

    def forward(self, idx):
        out, self.cache = embedding_forward(idx, self.w)
        return out

    def backward(self, dout):
        self._grads = {"w": embedding_backward(dout, self.cache)}
        return None


def sequence_cross_entropy(logits, y):
    """Mean softmax cross-entropy over every step: logits (N, T, C), labels y (N, T).

    Returns (loss, dlogits) with dlogits = (softmax - onehot) / (N T).
    """
    logits = np.asarray(logits, dtype=float)
    y = np.asarray(y)
    if logits.ndim != 3 or y.shape != logits.shape[:2]:
        raise ValueError(f"sequence_cross_entropy expects logits (N, T, C) and y (N, T), got {logits.shape} and {y.shape}")
    from lib.losses import softmax_cross_entropy
    n, t, c = logits.shape
    loss, dz = softmax_cross_entropy(logits.reshape(n * t, c), y.reshape(n * t))
    return loss, dz.reshape(n, t, c)


# ----- temporal convolution (TCN) ---------------------------------------------------------------


def causal_conv1d_forward(x, w, b, dilation=1):
    """out[:, t] = sum_j x[:, t - j d] @ w[j] + b, with x before the start taken as 0.

    x: (N, T, C_in); w: (k, C_in, C_out); b: (C_out,).  The output at t sees no input after t.
    Returns out (N, T, C_out) and the cache.  Chapter 5 (temporal convolutional networks).
    """
    x = np.asarray(x, dtype=float)
    if w.ndim != 3 or b.shape != (w.shape[2],):
        raise ValueError(f"causal_conv1d expects w (k, C_in, C_out) and b (C_out,), got {w.shape} and {b.shape}")
    if x.ndim != 3 or x.shape[2] != w.shape[1]:
        raise ValueError(f"causal_conv1d expects x of shape (N, T, C_in) = (N, T, {w.shape[1]}), got {x.shape}")
    if int(dilation) != dilation or dilation < 1:
        raise ValueError(f"causal_conv1d needs an integer dilation >= 1, got {dilation}")
    k, steps = w.shape[0], x.shape[1]
    pad = (k - 1) * dilation
    xp = np.concatenate([np.zeros((x.shape[0], pad, x.shape[2])), x], axis=1)
    out = np.broadcast_to(b, (x.shape[0], steps, w.shape[2])).copy()
    for j in range(k):
        out += xp[:, pad - j * dilation:pad - j * dilation + steps] @ w[j]
    return out, (xp, w, dilation, steps)


def causal_conv1d_backward(dout, cache):
    """Return dx (N, T, C_in), dw (k, C_in, C_out), db (C_out,)."""
    xp, w, dilation, steps = cache
    k = w.shape[0]
    pad = (k - 1) * dilation
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    flat = dout.reshape(-1, w.shape[2])
    for j in range(k):
        sl = slice(pad - j * dilation, pad - j * dilation + steps)
        dw[j] = xp[:, sl].reshape(-1, w.shape[1]).T @ flat
        dxp[:, sl] += dout @ w[j].T
    return dxp[:, pad:], dw, flat.sum(axis=0)


def measured_receptive_field(kernel, dilations, steps=64, channels=1):
    """How many input steps reach the last output of a stack of causal convolutions, measured by BPTT.

    Builds the stack with all-ones weights (no cancellation), backpropagates a one at the last
    output step and counts the input steps with a non-zero gradient.
    """
    x = np.zeros((1, steps, channels))
    caches, h = [], x
    for d in dilations:
        h, cache = causal_conv1d_forward(h, np.ones((kernel, channels, channels)), np.zeros(channels), d)
        caches.append(cache)
    dout = np.zeros_like(h)
    dout[:, -1] = 1.0
    for cache in reversed(caches):
        dout = causal_conv1d_backward(dout, cache)[0]
    return int(np.count_nonzero(np.abs(dout[0]).sum(axis=1)))
