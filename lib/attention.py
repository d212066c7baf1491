"""Attention and the transformer block as forward/backward pairs (chapter 6).

Token embeddings and the sequence cross-entropy are chapter 5's (lib.recurrent).

Shapes: a sequence batch is (N, T, D): N sequences, T positions, D features (the model width).
Queries are (..., T_q, d_k), keys (..., T_k, d_k), values (..., T_k, d_v); the leading axes
(batch, heads) are shared.  A mask is boolean, True where a query may look at a key, of shape
(T_q, T_k) or the full score shape (..., T_q, T_k); a masked key gets weight exactly 0 and
passes back gradient exactly 0.  The softmax and its backward are lib.activations'.
"""
import numpy as np

from lib import init
from lib.activations import relu, softmax, softmax_backward
from lib.nn import Module
from lib.recurrent import embedding_backward, embedding_forward, sequence_cross_entropy  # chapter 5's


# ----- scoring functions: attention as a weighted mean (section 6.1) ---------------------------


def _items_and_context(y, c, name):
    y, c = np.asarray(y, dtype=float), np.asarray(c, dtype=float)
    if y.ndim != 3 or c.ndim != 2 or c.shape[0] != y.shape[0]:
        raise ValueError(f"{name} expects items y (N, n, d) and a context c (N, d_c), got {y.shape} and {c.shape}")
    return y, c


def dot_score(y, c):
    """s(y_i, c) = <y_i, c>.  y: (N, n, d); c: (N, d).  Returns (N, n)."""
    y, c = _items_and_context(y, c, "dot_score")
    if y.shape[2] != c.shape[1]:
        raise ValueError(f"dot_score expects items and context of one width, got {y.shape} and {c.shape}")
    return np.einsum("nid,nd->ni", y, c)


def scaled_dot_score(y, c):
    """s(y_i, c) = <y_i, c> / sqrt(d): the scaling of section 6.3."""
    return dot_score(y, c) / np.sqrt(np.shape(y)[-1])


def bilinear_score(y, c, w):
    """s(y_i, c) = y_i^T W c.  y: (N, n, d); c: (N, d_c); w: (d, d_c).  Returns (N, n)."""
    y, c = _items_and_context(y, c, "bilinear_score")
    if np.shape(w) != (y.shape[2], c.shape[1]):
        raise ValueError(f"bilinear_score expects W of shape {(y.shape[2], c.shape[1])}, got {np.shape(w)}")
    return np.einsum("nid,de,ne->ni", y, w, c)


def additive_score(y, c, w, u, v):
    """s(y_i, c) = v^T tanh(W y_i + U c).  w: (H, d); u: (H, d_c); v: (H,).  Returns (N, n)."""
    y, c = _items_and_context(y, c, "additive_score")
    h = np.shape(v)[0] if np.ndim(v) == 1 else -1
    if np.shape(w) != (h, y.shape[2]) or np.shape(u) != (h, c.shape[1]):
        raise ValueError(f"additive_score expects v (H,), W (H, {y.shape[2]}), U (H, {c.shape[1]}), "
                         f"got {np.shape(v)}, {np.shape(w)}, {np.shape(u)}")
    return np.tanh(y @ w.T + (c @ u.T)[:, None, :]) @ v


def attention_pool(y, scores):
    """z = sum_i alpha_i y_i with alpha = softmax(scores).  y: (N, n, d); scores: (N, n).

    Returns z (N, d) and the weights alpha (N, n)."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 3 or np.shape(scores) != y.shape[:2]:
        raise ValueError(f"attention_pool expects y (N, n, d) and scores (N, n), got {y.shape} and {np.shape(scores)}")
    alpha = softmax(scores)
    return np.einsum("ni,nid->nd", alpha, y), alpha


# ----- scaled dot-product attention (sections 6.2-6.4) -----------------------------------------


def _check_mask(mask, shape, name):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"{name} expects a boolean mask (True = may attend), got dtype {mask.dtype}")
    if mask.shape != shape[-2:] and mask.shape != shape:
        raise ValueError(f"{name} expects a mask of shape {shape[-2:]} (T_q, T_k) or {shape}, got {mask.shape}")
    if not np.all(mask.any(axis=-1)):
        raise ValueError(f"{name}: every query needs at least one key it may attend to, "
                         "but the mask has a row that is all False")
    return mask


def causal_mask(t):
    """The look-ahead mask (T, T): position i may attend to positions j <= i only."""
    if not (isinstance(t, (int, np.integer)) and t > 0):
        raise ValueError(f"causal_mask expects a positive length, got {t!r}")
    return np.tril(np.ones((t, t), dtype=bool))


def attention_forward(q, k, v, mask=None, scale=None):
    """out = softmax(q k^T * scale, masked) v, with scale = 1/sqrt(d_k) by default.

    q: (..., T_q, d_k); k: (..., T_k, d_k); v: (..., T_k, d_v); mask: bool (T_q, T_k) or
    (..., T_q, T_k).  Returns out (..., T_q, d_v) and the cache (the weights are cache[0]).
    """
    q, k, v = (np.asarray(a, dtype=float) for a in (q, k, v))
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"attention expects q, k, v with the same number (>= 2) of axes, "
                         f"got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"attention expects q, k, v with the same leading (batch) axes, "
                         f"got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"attention expects queries and keys of one width d_k, got q {q.shape} and k {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention expects one value per key (T_k), got k {k.shape} and v {v.shape}")
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"attention expects a positive finite scale, got {scale}")
    z = (q @ np.swapaxes(k, -1, -2)) * scale
    mask = _check_mask(mask, z.shape, "attention")
    if mask is not None:
        z = np.where(mask, z, -np.inf)  # exp(-inf) = 0 exactly: a masked key gets no weight at all
    a = softmax(z)
    return a @ v, (a, q, k, v, scale)


def attention_backward(dout, cache):
    """Given dout (..., T_q, d_v), return dq, dk, dv.

    With A the weights and Z the scores: dV = A^T dout, dA = dout V^T, dZ = A * (dA - rowsum(dA * A))
    (the softmax Jacobian), dq = dZ k * scale, dk = dZ^T q * scale.  dZ is 0 wherever A is 0.
    """
    a, q, k, v, scale = cache
    want = a.shape[:-1] + (v.shape[-1],)
    if np.shape(dout) != want:
        raise ValueError(f"attention_backward expects dout of shape {want}, got {np.shape(dout)}")
    dv = np.swapaxes(a, -1, -2) @ dout
    dz = softmax_backward(dout @ np.swapaxes(v, -1, -2), a) * scale
    return dz @ k, np.swapaxes(dz, -1, -2) @ q, dv


# ----- multi-head attention (section 6.5) ------------------------------------------------------


def split_heads(x, heads):
    """(N, T, D) -> (N, heads, T, D / heads)."""
    n, t, d = x.shape
    return x.reshape(n, t, heads, d // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    """(N, heads, T, d) -> (N, T, heads * d), the inverse of split_heads."""
    n, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, h * d)


def multihead_forward(xq, xkv, wq, wk, wv, wo, heads, mask=None):
    """Multi-head attention: out = concat_h softmax(Q_h K_h^T / sqrt(d_k)) V_h  W_o.

    Q = xq W_q, K = xkv W_k, V = xkv W_v, each split into `heads` blocks of d_k = D / heads columns.
    xq: (N, T_q, D) queries' inputs; xkv: (N, T_k, D) keys' and values' inputs (xq itself for
    self-attention, the encoder's output for cross-attention); w*: (D, D); mask as in
    attention_forward.  Returns out (N, T_q, D) and the cache; the weights are cache[3][0]
    of shape (N, heads, T_q, T_k).
    """
    xq, xkv = np.asarray(xq, dtype=float), np.asarray(xkv, dtype=float)
    if xq.ndim != 3 or xkv.ndim != 3 or xq.shape[0] != xkv.shape[0] or xq.shape[2] != xkv.shape[2]:
        raise ValueError(f"multihead attention expects xq (N, T_q, D) and xkv (N, T_k, D), "
                         f"got {xq.shape} and {xkv.shape}")
    d = xq.shape[2]
    for name, w in (("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo)):
        if np.shape(w) != (d, d):
            raise ValueError(f"multihead attention expects {name} of shape ({d}, {d}), got {np.shape(w)}")
    if not (isinstance(heads, (int, np.integer)) and heads > 0 and d % heads == 0):
        raise ValueError(f"multihead attention needs a number of heads that divides D = {d}, got {heads!r}")
    q, k, v = (split_heads(x @ w, heads) for x, w in ((xq, wq), (xkv, wk), (xkv, wv)))
    if mask is not None and np.ndim(mask) == 3:  # (N, T_q, T_k): the same for every head
        mask = np.asarray(mask)[:, None]
        if mask.shape[0] != xq.shape[0]:
            raise ValueError(f"multihead attention expects a mask (T_q, T_k) or (N, T_q, T_k), got {mask.shape}")
        mask = np.broadcast_to(mask, (mask.shape[0], heads) + mask.shape[2:])
    o, att = attention_forward(q, k, v, mask)
    merged = merge_heads(o)
    return merged @ wo, (xq, xkv, wq, wk, wv, wo, att, merged, heads)


def multihead_backward(dout, cache):
    """Given dout (N, T_q, D), return dxq, dxkv, dwq, dwk, dwv, dwo.

    For self-attention (xkv = xq) the gradient with respect to the input is dxq + dxkv.
    """
    xq, xkv, wq, wk, wv, wo, att, merged, heads = cache
    if np.shape(dout) != merged.shape:
        raise ValueError(f"multihead_backward expects dout of shape {merged.shape}, got {np.shape(dout)}")
    d = xq.shape[2]
    dwo = merged.reshape(-1, d).T @ dout.reshape(-1, d)
    dq, dk, dv = (merge_heads(g) for g in attention_backward(split_heads(dout @ wo.T, heads), att))
    flat_q, flat_kv = xq.reshape(-1, d), xkv.reshape(-1, d)
    dwq = flat_q.T @ dq.reshape(-1, d)
    dwk = flat_kv.T @ dk.reshape(-1, d)
    dwv = flat_kv.T @ dv.reshape(-1, d)
    dxq = dq @ wq.T
    dxkv = dk @ wk.T + dv @ wv.T
    return dxq, dxkv, dwq, dwk, dwv, dwo


# ----- positional encoding, layer normalisation, patches (sections 6.7, 6.8, 6.11) ---------------


def positional_encoding(t, d, base=10000.0):
    """Sinusoidal encoding (T, D): PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = base^(-2i/D)."""
    if not (isinstance(t, (int, np.integer)) and t > 0 and isinstance(d, (int, np.integer)) and d > 0 and d % 2 == 0):
        raise ValueError(f"positional_encoding expects a positive length and an even positive width, got {t!r}, {d!r}")
    if not base > 1:
        raise ValueError(f"positional_encoding expects base > 1, got {base}")
    angle = np.arange(t)[:, None] * base ** (-np.arange(0, d, 2) / d)[None, :]
    pe = np.empty((t, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """out = gamma (x - mu) / sqrt(var + eps) + beta, mean and variance over the last axis (features).

    Unlike batch normalisation each position is normalised on its own, so the result does not
    depend on the rest of the batch.  x: (..., D); gamma, beta: (D,).  Returns out and the cache.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"layernorm expects x of shape (..., D) with D >= 2, got {x.shape}")
    d = x.shape[-1]
    if np.shape(gamma) != (d,) or np.shape(beta) != (d,):
        raise ValueError(f"layernorm expects gamma and beta of shape ({d},), got {np.shape(gamma)} and {np.shape(beta)}")
    if not eps > 0:
        raise ValueError(f"layernorm needs eps > 0, got {eps}")
    xc = x - x.mean(axis=-1, keepdims=True)
    # divide by the largest |x - mu| first so that squaring cannot overflow (x of 1e200 stays finite)
    top = np.max(np.abs(xc), axis=-1, keepdims=True)
    top = np.where(top > 0, top, 1.0)
    r = xc / top
    root = np.sqrt(np.mean(r * r, axis=-1, keepdims=True) + eps / top / top)  # = std / top
    xhat = r / root
    inv_std = 1.0 / (top * root)
    return gamma * xhat + beta, (xhat, np.asarray(gamma, dtype=float), inv_std)


def layernorm_backward(dout, cache):
    """Given dout (..., D), return dx, dgamma, dbeta.

    With g = gamma dout per position: dx = (g - mean(g) - xhat mean(g xhat)) / std, the means
    over the D features of that position (the batch-norm formula along the other axis).
    """
    xhat, gamma, inv_std = cache
    if np.shape(dout) != xhat.shape:
        raise ValueError(f"layernorm_backward expects dout of shape {xhat.shape}, got {np.shape(dout)}")
    g = dout * gamma
    dx = inv_std * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    axes = tuple(range(dout.ndim - 1))
    return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


def image_to_patches(images, p):
    """Vision-transformer tokens: (N, H, W) images -> (N, (H/p)(W/p), p*p), patches in reading order."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 3 or not (isinstance(p, (int, np.integer)) and p > 0):
        raise ValueError(f"image_to_patches expects images (N, H, W) and a positive patch size, got "
                         f"{images.shape} and {p!r}")
    n, h, w = images.shape
    if h % p or w % p:
        raise ValueError(f"image_to_patches needs the patch size {p} to divide H = {h} and W = {w}")
    return images.reshape(n, h // p, p, w // p, p).transpose(0, 1, 3, 2, 4).reshape(n, (h // p) * (w // p), p * p)


# ----- the transformer block (section 6.7) -------------------------------------------------------

BLOCK_PARAMS = ("ln1_g", "ln1_b", "wq", "wk", "wv", "wo", "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")


def block_params(d, hidden, rng):
    """Initial parameters of a block of width D with an H-unit feed-forward layer (Glorot / He)."""
    xavier = init.get("xavier")
    return {"ln1_g": np.ones(d), "ln1_b": np.zeros(d),
            "wq": xavier((d, d), rng), "wk": xavier((d, d), rng), "wv": xavier((d, d), rng),
            "wo": xavier((d, d), rng), "ln2_g": np.ones(d), "ln2_b": np.zeros(d),
            "w1": init.get("he")((d, hidden), rng), "b1": np.zeros(hidden),
            "w2": xavier((hidden, d), rng), "b2": np.zeros(d)}


def block_forward(x, p, heads, mask=None):
    """A pre-norm residual transformer block on x (N, T, D):

        h = x + MHA(LN_1(x)),   out = h + relu(LN_2(h) W_1 + b_1) W_2 + b_2.

    p: the parameters named in BLOCK_PARAMS.  Returns out (N, T, D) and the cache.
    """
    missing = [k for k in BLOCK_PARAMS if k not in p]
    if missing:
        raise ValueError(f"block_forward is missing the parameters {missing}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"block_forward expects x of shape (N, T, D), got {x.shape}")
    a1, c_ln1 = layernorm_forward(x, p["ln1_g"], p["ln1_b"])
    att, c_att = multihead_forward(a1, a1, p["wq"], p["wk"], p["wv"], p["wo"], heads, mask)
    h = x + att
    a2, c_ln2 = layernorm_forward(h, p["ln2_g"], p["ln2_b"])
    if np.shape(p["w1"]) != (x.shape[2], np.shape(p["b1"])[0]) or np.shape(p["w2"]) != (np.shape(p["b1"])[0], x.shape[2]):
        raise ValueError(f"block_forward expects w1 (D, H), b1 (H,), w2 (H, D), got {np.shape(p['w1'])}, "
                         f"{np.shape(p['b1'])}, {np.shape(p['w2'])}")
    z1 = a2 @ p["w1"] + p["b1"]
    r1 = relu(z1)
    out = h + r1 @ p["w2"] + p["b2"]
    return out, (c_ln1, c_att, c_ln2, a2, z1, r1, p)


def block_backward(dout, cache):
    """Given dout (N, T, D), return dx and a dict of parameter gradients (the names of BLOCK_PARAMS).

    Each residual connection adds its branch's gradient to the identity path's.
    """
    c_ln1, c_att, c_ln2, a2, z1, r1, p = cache
    if np.shape(dout) != a2.shape:
        raise ValueError(f"block_backward expects dout of shape {a2.shape}, got {np.shape(dout)}")
    d, hid = a2.shape[2], z1.shape[2]
    g = {"b2": dout.sum(axis=(0, 1)), "w2": r1.reshape(-1, hid).T @ dout.reshape(-1, d)}
    dz1 = (dout @ p["w2"].T) * (z1 > 0)
    g["b1"], g["w1"] = dz1.sum(axis=(0, 1)), a2.reshape(-1, d).T @ dz1.reshape(-1, hid)
    da2, g["ln2_g"], g["ln2_b"] = layernorm_backward(dz1 @ p["w1"].T, c_ln2)
    dh = dout + da2
    dxq, dxkv, g["wq"], g["wk"], g["wv"], g["wo"] = multihead_backward(dh, c_att)
    dx1, g["ln1_g"], g["ln1_b"] = layernorm_backward(dxq + dxkv, c_ln1)
    return dh + dx1, g


class TransformerBlock(Module):
    """block_forward / block_backward as a module; the attention weights of the last call are `weights`."""

    def __init__(self, d, heads, hidden, rng, mask=None):
        if not (isinstance(heads, (int, np.integer)) and heads > 0 and d % heads == 0):
            raise ValueError(f"TransformerBlock needs a number of heads that divides D = {d}, got {heads!r}")
        self.p, self.heads, self.mask = block_params(d, hidden, rng), heads, mask

    def params(self):
        return self.p

    def grads(self):
        return getattr(self, "_grads", {})

    def forward(self, x):
        out, self.cache = block_forward(x, self.p, self.heads, self.mask)
        self.weights = self.cache[1][6][0]
        return out

    def backward(self, dout):
        dx, self._grads = block_backward(dout, self.cache)
        return dx


class SequenceTransformer(Module):
    """Token ids (N, T) -> logits (N, T, C): embedding + sinusoidal positions, blocks, a final
    layer norm and a linear read-out at every position (an encoder used as a sequence labeller)."""

    def __init__(self, vocab, classes, t, d, heads, hidden, layers, rng, mask=None):
        self.embed = init.get("xavier_normal")((vocab, d), rng)
        self.pe = positional_encoding(t, d)
        self.blocks = [TransformerBlock(d, heads, hidden, rng, mask) for _ in range(layers)]
        self.ln_g, self.ln_b = np.ones(d), np.zeros(d)
        self.w_out, self.b_out = init.get("xavier")((d, classes), rng), np.zeros(classes)

    def params(self):
        out = {"embed": self.embed, "ln_g": self.ln_g, "ln_b": self.ln_b, "w_out": self.w_out, "b_out": self.b_out}
        for i, b in enumerate(self.blocks):
            out.update({f"{i}.{k}": v for k, v in b.params().items()})
        return out

    def grads(self):
        out = dict(getattr(self, "_grads", {}))
        for i, b in enumerate(self.blocks):
            out.update({f"{i}.{k}": v for k, v in b.grads().items()})
        return out

    def forward(self, ids):
        x, self._c_emb = embedding_forward(ids, self.embed)
        if x.shape[1] > len(self.pe):
            raise ValueError(f"SequenceTransformer was built for length {len(self.pe)}, got {x.shape[1]}")
        x = x + self.pe[: x.shape[1]]
        for b in self.blocks:
            x = b.forward(x)
        a, self._c_ln = layernorm_forward(x, self.ln_g, self.ln_b)
        self._a = a
        return a @ self.w_out + self.b_out

    def backward(self, dlogits):
        d = self._a.shape[2]
        g = {"w_out": self._a.reshape(-1, d).T @ dlogits.reshape(-1, dlogits.shape[2]),
             "b_out": dlogits.sum(axis=(0, 1))}
        dx, g["ln_g"], g["ln_b"] = layernorm_backward(dlogits @ self.w_out.T, self._c_ln)
        for b in reversed(self.blocks):
            dx = b.backward(dx)
        g["embed"] = embedding_backward(dx, self._c_emb)
        self._grads = g
        return None

    def attention_maps(self):
        """The weights of each block's last forward call: a list of (N, heads, T, T) arrays."""
        return [b.weights for b in self.blocks]


# ----- a sequence task and its training loop (section 6.10) --------------------------------------


def reversal_task(n, t, vocab, rng):
    """n random sequences of t tokens from 0..vocab-1, and their reversals (the targets)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"reversal_task expects a numpy.random.Generator, got {type(rng).__name__}")
    if not (n > 0 and t > 0 and vocab > 1):
        raise ValueError(f"reversal_task expects n > 0, t > 0, vocab > 1, got {n}, {t}, {vocab}")
    x = rng.integers(0, vocab, size=(n, t))
    return x, x[:, ::-1].copy()


sequence_loss = sequence_cross_entropy  # mean cross-entropy over every position (chapter 5)


def exact_match(logits, y):
    """Fraction of sequences whose every position's highest logit is the target."""
    return float(np.mean(np.all(np.argmax(logits, axis=-1) == y, axis=1)))


def fit_sequences(model, optimizer, x, y, rng, epochs, batch_size=64):
    """Minibatch training of a model from token ids (N, T) to logits (N, T, C); returns the mean
    training loss of each epoch."""
    history = []
    for _ in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss, dz = sequence_loss(model.forward(x[idx]), y[idx])
            model.backward(dz)
            optimizer.step(model.params(), model.grads())
            total += loss * len(idx)
        history.append(total / len(x))
    return history
