"""Convolution and pooling on NCHW image batches, as forward/backward pairs (chapter 3).

Shapes: x (N, C, H, W) images; w (F, C, KH, KW) kernels; b (F,) biases; out (N, F, HO, WO)
with HO = floor((H + 2 pad - KH) / stride) + 1 (``conv_output_size``).  Like every framework
we compute the cross-correlation out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q]
x_pad[n, c, i stride + p, j stride + q]; flipping the kernel would give the textbook convolution.

Float32 inputs give float32 results; anything else is computed in float64.
``conv2d_naive`` is the loop that states the definition; ``conv2d_forward`` computes the same
numbers as a matrix product with ``im2col``'s patch matrix, and its backward pass is two more
products plus a scatter-add (col2im) of the patch gradients back onto the image.  The notes
above ``conv2d_forward`` say how the fast version arranges that work.
"""
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from lib import init
from lib.nn import Module, WeightLayer


def _floating(a):
    a = np.asarray(a)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _check_stride_pad(name, stride, pad):
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride <= 0:
        raise ValueError(f"{name} expects a positive integer stride, got {stride!r}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"{name} expects a non-negative integer pad, got {pad!r}")


def conv_output_size(size, kernel, stride=1, pad=0):
    """floor((size + 2 pad - kernel) / stride) + 1: how many kernel positions fit along one axis.

    Raises ValueError if the kernel is larger than the padded input.  Chapter 3.
    """
    _check_stride_pad("conv_output_size", stride, pad)
    if kernel <= 0:
        raise ValueError(f"conv_output_size expects a positive kernel size, got {kernel}")
    if kernel > size + 2 * pad:
        raise ValueError(f"a kernel of size {kernel} does not fit an input of size {size} "
                         f"padded by {pad} on each side (padded size {size + 2 * pad})")
    return (size + 2 * pad - kernel) // stride + 1


def _output_hw(name, h, w, kh, kw, stride, pad):
    _check_stride_pad(name, stride, pad)
    if kh > h + 2 * pad or kw > w + 2 * pad:
        raise ValueError(f"{name}: a {kh}x{kw} window does not fit the {h}x{w} input padded by {pad} "
                         f"(padded {h + 2 * pad}x{w + 2 * pad})")
    return (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1


def _pad(x, pad):
    if pad == 0:
        return x
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    return xp


def _patches(xp, kh, kw, stride, ho, wo):
    """A read-only view (C, KH, KW, N, HO, WO) of the padded input: [c, p, q, n, i, j] = xp[n, c, i s + p, j s + q]."""
    sn, sc, sh, sw = xp.strides
    n, c = xp.shape[:2]
    return as_strided(xp, (c, kh, kw, n, ho, wo), (sc, sh, sw, sn, sh * stride, sw * stride), writeable=False)


def im2col(x, kh, kw, stride=1, pad=0):
    """The patch matrix cols (C*KH*KW, N*HO*WO): one column per output position, one row per kernel entry.

    Row c*KH*KW + p*KW + q and column n*HO*WO + i*WO + j hold x_pad[n, c, i*stride + p, j*stride + q],
    so w.reshape(F, -1) @ cols is the whole convolution as a single matrix product.  Chapter 3.
    """
    x = _floating(x)
    if x.ndim != 4:
        raise ValueError(f"im2col expects x of shape (N, C, H, W), got {x.shape}")
    n, c, h, w = x.shape
    ho, wo = _output_hw("im2col", h, w, kh, kw, stride, pad)
    # the reshape is the one copy: each pixel appears in up to KH*KW columns
    return _patches(_pad(x, pad), kh, kw, stride, ho, wo).reshape(c * kh * kw, n * ho * wo)


def _check_conv_args(x, w, b, stride, pad):
    if w.ndim != 4:
        raise ValueError(f"conv2d expects w of shape (F, C, KH, KW), got {w.shape}")
    f, c, kh, kw = w.shape
    if b.shape != (f,):
        raise ValueError(f"conv2d expects b of shape (F,) with F={f} to match w, got {b.shape}")
    if x.ndim != 4:
        raise ValueError(f"conv2d expects x of shape (N, C, H, W), got {x.shape}")
    if x.shape[1] != c:
        raise ValueError(f"conv2d expects x of shape (N, C, H, W) with C={c} to match w, got {x.shape}")
    return _output_hw("conv2d", x.shape[2], x.shape[3], kh, kw, stride, pad)


def conv2d_naive(x, w, b, stride=1, pad=0):
    """The definition as a loop over output positions: out[:, :, i, j] = <patch at (i, j), w> + b.

    x (N, C, H, W), w (F, C, KH, KW), b (F,).  Returns out (N, F, HO, WO), no cache: this is
    the reference the fast version is tested against.  Chapter 3.
    """
    x, w, b = _floating(x), _floating(w), _floating(b)
    ho, wo = _check_conv_args(x, w, b, stride, pad)
    xp = _pad(x, pad)
    kh, kw = w.shape[2:]
    out = np.empty((x.shape[0], w.shape[0], ho, wo), dtype=np.result_type(x, w, b))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]  # (N, C, KH, KW)
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


# How the fast version is laid out (the numbers are the same as im2col's; only the speed differs).
# 1. The batch goes a chunk of samples at a time, so each chunk's patch matrix (about 4 MB) stays
#    in the CPU's cache: one im2col of a whole batch is tens of megabytes, written, read back and
#    (being freshly allocated) page-faulted in on every call, which costs more than the matrix
#    products.  Much smaller chunks mean many small BLAS calls, each a point where BLAS threads
#    wait for one another.
# 2. A row of ones under the patches turns the bias into one more kernel entry: out = [W | b] @ cols,
#    and [dW | db] comes out of one product in the backward pass.
# 3. With stride 1 the patch matrix has one column for every pixel of the padded width WP, not only
#    the WO = WP - KW + 1 where the kernel fits: the KW - 1 extra columns per row read past the row
#    end into the next one (junk that is computed and then dropped).  In exchange each patch row is
#    one contiguous run of HO*WP pixels, so im2col copies long runs and col2im adds long runs,
#    instead of one short row of WO pixels at a time.
_CHUNK_BYTES = 1 << 22


_scratch = threading.local()


def _zeros(shape, dtype):
    # np.zeros of a large array is calloc: fresh pages from the kernel, each faulted in on first
    # write.  Zeroing recycled malloc memory ourselves is several times cheaper here.
    a = np.empty(shape, dtype=dtype)
    a.fill(0)
    return a


def _work(slot, shape, dtype):
    """A scratch array kept between calls (one per slot and thread), for buffers that live only
    inside one call: freshly allocated, multi-megabyte buffers are page-faulted in every time."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = getattr(_scratch, slot, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        setattr(_scratch, slot, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


class _Layout:
    """Sizes of one convolution: input (N, C, H, W), kernel (F, C, KH, KW), output (N, F, HO, WO).

    wl is the number of patch-matrix columns per output row: WP (padded width) for stride 1, else WO.
    """

    def __init__(self, x_shape, w_shape, stride, pad):
        (self.n, self.c, self.h, self.w), (self.f, _, self.kh, self.kw) = x_shape, w_shape
        self.stride, self.pad = stride, pad
        self.hp, self.wp = self.h + 2 * pad, self.w + 2 * pad
        self.ho, self.wo = (self.hp - self.kh) // stride + 1, (self.wp - self.kw) // stride + 1
        self.wl = self.wp if stride == 1 else self.wo
        self.k, self.positions = self.c * self.kh * self.kw, self.ho * self.wl

    def padded(self, x):
        """x zero-padded, plus for stride 1 a spare zero row so the last junk columns stay inside the array."""
        spare = int(self.stride == 1)
        if self.pad == 0 and not spare:
            return x
        xp = _zeros((self.n, self.c, self.hp + spare, self.wp), x.dtype)
        xp[:, :, self.pad:self.pad + self.h, self.pad:self.pad + self.w] = x
        return xp

    def patches(self, xp):
        """A view (C, KH, KW, N', HO, WL) of samples of xp: [c, p, q, n, i, j] = xp[n, c, i stride + p, j stride + q]."""
        sn, sc, sh, sw = xp.strides
        st = self.stride
        shape = (self.c, self.kh, self.kw, xp.shape[0], self.ho, self.wl)
        return as_strided(xp, shape, (sc, sh, sw, sn, sh * st if st > 1 else sw * self.wp, sw * st),
                          writeable=False)

    def chunks(self, xp):
        """Yield (n0, n1, cols) with cols (K + 1, (n1-n0) * positions): the patches of samples n0:n1 over a row of ones."""
        size = max(1, min(self.n, _CHUNK_BYTES // ((self.k + 1) * self.positions * xp.itemsize)))
        buf = _work("cols", (self.k + 1, size * self.positions), xp.dtype)
        buf[self.k] = 1.0
        for n0 in range(0, self.n, size):
            n1 = min(self.n, n0 + size)
            cols = buf[:, :(n1 - n0) * self.positions]
            patches = self.patches(xp[n0:n1])
            np.copyto(np.reshape(cols[:self.k], patches.shape, copy=False), patches)
            yield n0, n1, cols


def conv2d_forward(x, w, b, stride=1, pad=0):
    """out = w * x + b (cross-correlation), computed as [W | b] @ im2col(x) with W = w.reshape(F, -1).

    x (N, C, H, W), w (F, C, KH, KW), b (F,).  Returns out (N, F, HO, WO) and the cache.  Chapter 3.
    """
    x, w, b = _floating(x), _floating(w), _floating(b)
    _check_conv_args(x, w, b, stride, pad)
    dtype = np.result_type(x, w, b)
    lay = _Layout(x.shape, w.shape, stride, pad)
    xp = lay.padded(x.astype(dtype, copy=False))
    wb = np.concatenate([w.reshape(lay.f, -1), b[:, None]], axis=1).astype(dtype, copy=False)
    out = np.empty((lay.n, lay.f, lay.ho, lay.wo), dtype=dtype)
    for n0, n1, cols in lay.chunks(xp):
        # (F, chunk, HO, WL) -> NCHW, dropping junk columns; the chunk is still in cache
        out[n0:n1] = (wb @ cols).reshape(lay.f, n1 - n0, lay.ho, lay.wl)[..., :lay.wo].transpose(1, 0, 2, 3)
    return out, (xp, lay, wb)


def conv2d_backward(dout, cache):
    """Given dout = dL/dout (N, F, HO, WO), return dx (N, C, H, W), dw (F, C, KH, KW), db (F,).

    With D = dout as (F, N*HO*WO): [dW | db] = D @ cols^T and dcols = W^T @ D; each column of
    dcols is the gradient of one patch, and col2im adds it back where the patch came from.
    The patch matrix is rebuilt here chunk by chunk rather than kept from the forward pass.  Chapter 3.
    """
    xp, lay, wb = cache
    if dout.shape != (lay.n, lay.f, lay.ho, lay.wo):
        raise ValueError(f"conv2d backward expects dout of shape {(lay.n, lay.f, lay.ho, lay.wo)}, got {dout.shape}")
    k, st = lay.k, lay.stride
    wt = np.ascontiguousarray(wb[:, :k].T)   # W^T (K, F)
    dwb = np.zeros(wb.shape, dtype=wb.dtype)
    dxp = _zeros(xp.shape, wb.dtype)
    d_buf = dcols_buf = None
    for n0, n1, cols in lay.chunks(xp):
        m, width = n1 - n0, cols.shape[1]
        if d_buf is None:                    # sized by the first (largest) chunk, reused by the rest
            d_buf = _work("dout", (lay.f, width), wb.dtype)
            d_buf.fill(0)                    # junk columns stay 0: they get no gradient
            dcols_buf = _work("dcols", (k, width), wb.dtype)
        d, dcols = d_buf[:, :width], dcols_buf[:, :width]
        d4 = np.reshape(d, (lay.f, m, lay.ho, lay.wl), copy=False)
        d4[..., :lay.wo] = dout[n0:n1].transpose(1, 0, 2, 3)
        dwb += d @ cols.T
        np.matmul(wt, d, out=dcols)
        dc = np.reshape(dcols, (lay.c, lay.kh, lay.kw, m, lay.ho, lay.wl), copy=False)
        dx = dxp[n0:n1]
        if st == 1 and lay.wl == lay.wp:     # col2im over flat padded images: long contiguous runs
            flat = np.reshape(dx, (m, lay.c, -1), copy=False)
            for p in range(lay.kh):
                for q in range(lay.kw):
                    o = p * lay.wp + q
                    flat[:, :, o:o + lay.positions] += dc[:, p, q].reshape(lay.c, m, -1).transpose(1, 0, 2)
        else:                                # col2im: KH*KW vectorised adds, one per kernel offset
            for p in range(lay.kh):
                for q in range(lay.kw):
                    dx[:, :, p:p + st * (lay.ho - 1) + 1:st, q:q + st * (lay.wo - 1) + 1:st] += \
                        dc[:, p, q].transpose(1, 0, 2, 3)
    dx = dxp[:, :, lay.pad:lay.pad + lay.h, lay.pad:lay.pad + lay.w]
    return dx, dwb[:, :k].reshape(lay.f, lay.c, lay.kh, lay.kw), dwb[:, k].copy()


# ---------------------------------------------------------------------------------------------
# Pooling.  Each window of size x size pixels, placed every `stride` pixels, becomes one output.
# The windows are visited as size*size strided views, one per offset (p, q) inside the window:
# view[n, c, i, j] = x[n, c, i stride + p, j stride + q].  Rows or columns that no window
# reaches (when (H - size) is not a multiple of the stride) are dropped, as in every framework.


def _check_pool(name, x, size, stride):
    x = _floating(x)
    if x.ndim != 4:
        raise ValueError(f"{name} expects x of shape (N, C, H, W), got {x.shape}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"{name} expects a positive integer window size, got {size!r}")
    stride = size if stride is None else stride
    ho, wo = _output_hw(name, x.shape[2], x.shape[3], size, size, stride, 0)
    return x, stride, ho, wo


def _offset_view(a, p, q, stride, ho, wo):
    return a[:, :, p:p + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride]


def maxpool_forward(x, size=2, stride=None):
    """out = the maximum of each size x size window (stride defaults to size).

    x (N, C, H, W).  Returns out (N, C, HO, WO) and the cache (x and out themselves: the
    backward pass finds each window's argmax by comparing them).  Chapter 3.
    """
    x, stride, ho, wo = _check_pool("maxpool", x, size, stride)
    out = _offset_view(x, 0, 0, stride, ho, wo).copy()
    for k in range(1, size * size):
        np.maximum(out, _offset_view(x, k // size, k % size, stride, ho, wo), out=out)
    return out, (x, out, size, stride)


def maxpool_backward(dout, cache):
    """dx: each window's dout goes to its argmax (the first one on ties, as PyTorch); other pixels get 0.

    Locally the max is a selection of one input, so its derivative is 1 there and 0 elsewhere.
    """
    x, out, size, stride = cache
    if dout.shape != out.shape:
        raise ValueError(f"maxpool backward expects dout of shape {out.shape}, got {dout.shape}")
    ho, wo = out.shape[2:]
    offsets = [(k // size, k % size) for k in range(size * size)]
    hits = [_offset_view(x, p, q, stride, ho, wo) == out for p, q in offsets]
    if sum(np.count_nonzero(h) for h in hits) != out.size:  # a tie somewhere: keep each window's first maximum
        taken = hits[0].copy()
        for h in hits[1:]:
            h &= ~taken
            taken |= h
    tiled = stride == size and x.shape[2:] == (ho * size, wo * size)  # every pixel in exactly one window
    dx = np.empty_like(x) if tiled else np.zeros_like(x)
    for (p, q), h in zip(offsets, hits):
        view = _offset_view(dx, p, q, stride, ho, wo)
        if stride < size:                    # overlapping windows: a pixel can collect several gradients
            view += h * dout
        else:
            np.multiply(h, dout, out=view)
    return dx


def sumpool_forward(x, size=2, stride=None):
    """out = the sum of each size x size window.  x (N, C, H, W); returns out (N, C, HO, WO), cache.  Chapter 3."""
    x, stride, ho, wo = _check_pool("sumpool", x, size, stride)
    out = _offset_view(x, 0, 0, stride, ho, wo).copy()
    for k in range(1, size * size):
        out += _offset_view(x, k // size, k % size, stride, ho, wo)
    return out, (x.shape, x.dtype, size, stride)


def sumpool_backward(dout, cache):
    """dx: every pixel of a window receives that window's dout (overlapping windows add up)."""
    x_shape, dtype, size, stride = cache
    n, c, h, w = x_shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    if dout.shape != (n, c, ho, wo):
        raise ValueError(f"pool backward expects dout of shape {(n, c, ho, wo)}, got {dout.shape}")
    dx = np.zeros(x_shape, dtype=dtype)
    for k in range(size * size):
        _offset_view(dx, k // size, k % size, stride, ho, wo)[...] += dout
    return dx


def avgpool_forward(x, size=2, stride=None):
    """out = the mean of each size x size window: sum pooling divided by size^2.  Chapter 3."""
    x, stride, _, _ = _check_pool("avgpool", x, size, stride)
    out, cache = sumpool_forward(x, size, stride)
    out /= size * size
    return out, cache


def avgpool_backward(dout, cache):
    """dx: every pixel of a window receives dout / size^2."""
    return sumpool_backward(dout / (cache[2] ** 2), cache)


def stochastic_pool_forward(x, size, rng, stride=None, train=True):
    """Stochastic pooling (Zeiler & Fergus, 2013) of non-negative activations a (e.g. after ReLU).

    In each window p_k = a_k / sum_j a_j.  Training (train=True): out = a_k for one position k
    sampled with probability p_k (rng: numpy.random.Generator; an all-zero window outputs 0 from
    its last position).  Test time: the expectation out = sum_k p_k a_k = sum_k a_k^2 / sum_j a_j
    (0 for an all-zero window).  x (N, C, H, W); returns out (N, C, HO, WO) and the cache.  Chapter 3.
    """
    x, stride, ho, wo = _check_pool("stochastic_pool", x, size, stride)
    if x.size and x.min() < 0:
        raise ValueError(f"stochastic_pool expects non-negative activations (e.g. after ReLU), got min {x.min()}")
    views = [_offset_view(x, k // size, k % size, stride, ho, wo) for k in range(size * size)]
    total = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=x.dtype)
    for v in views:
        total += v
    if not train:
        sq = np.zeros_like(total)
        for v in views:
            sq += v * v
        safe = np.where(total > 0, total, 1)
        out = np.where(total > 0, sq / safe, 0)
        return out, (x, size, stride, None, out, safe)
    # inverse-CDF sampling: k = number of positions whose running sum stays <= u * total
    threshold = rng.random(total.shape) * total
    running = np.zeros_like(total)
    arg = np.zeros(total.shape, dtype=np.int16)
    for v in views:
        running += v
        arg += running <= threshold
    np.minimum(arg, size * size - 1, out=arg)
    out = np.zeros_like(total)
    for k, v in enumerate(views):
        np.copyto(out, v, where=arg == k)
    return out, (x, size, stride, arg, None, None)


def stochastic_pool_backward(dout, cache):
    """Training: dout goes to the sampled position (the sample is held fixed, as for max pooling).

    Test time: d/da_k (sum_j a_j^2 / S) = (2 a_k - out) / S with S = sum_j a_j; 0 on all-zero windows.
    """
    x, size, stride, arg, out, total = cache
    ho, wo = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    if dout.shape != (x.shape[0], x.shape[1], ho, wo):
        raise ValueError(f"stochastic_pool backward expects dout of shape {(x.shape[0], x.shape[1], ho, wo)}, "
                         f"got {dout.shape}")
    dx = np.zeros(x.shape, dtype=x.dtype)
    for k in range(size * size):
        view = _offset_view(dx, k // size, k % size, stride, ho, wo)
        if arg is not None:
            view += np.where(arg == k, dout, 0)
        else:
            a = _offset_view(x, k // size, k % size, stride, ho, wo)
            view += np.where(out > 0, dout * (2 * a - out) / total, 0)
    return dx


# ---------------------------------------------------------------------------------------------
# Modules for lib.nn.Sequential and lib.nn.fit.


class Conv2D(WeightLayer):
    """A convolution layer with He-initialised kernels w (F, C, KH, KW) and zero biases b (F,)."""

    def __init__(self, c_in, c_out, kernel, rng, stride=1, pad=0):
        kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
        _check_stride_pad("Conv2D", stride, pad)
        self.w = init.he_normal((c_out, c_in, kh, kw), rng)
        self.b = np.zeros(c_out)
        self.stride, self.pad = stride, pad

    def forward(self, x):
        out, self.cache = conv2d_forward(x, self.w, self.b, self.stride, self.pad)
        return out

    def backward(self, dout):
        dx, dw, db = conv2d_backward(dout, self.cache)
        self._grads = {"w": dw, "b": db}
        return dx


class _Pool(Module):
    def __init__(self, size=2, stride=None):
        self.size, self.stride = size, stride

    def forward(self, x):
        out, self.cache = self._forward(x, self.size, self.stride)
        return out

    def backward(self, dout):
        return self._backward(dout, self.cache)


class MaxPool2D(_Pool):
    """Max pooling over size x size windows (stride defaults to size)."""
    _forward, _backward = staticmethod(maxpool_forward), staticmethod(maxpool_backward)


class AvgPool2D(_Pool):
    """Average pooling over size x size windows (stride defaults to size)."""
    _forward, _backward = staticmethod(avgpool_forward), staticmethod(avgpool_backward)


class StochasticPool2D(Module):
    """Stochastic pooling: sampled in training mode, the probability-weighted average in eval mode."""

    def __init__(self, size, rng, stride=None):
        self.size, self.rng, self.stride = size, rng, stride

    def forward(self, x):
        out, self.cache = stochastic_pool_forward(x, self.size, self.rng, self.stride, train=self.training)
        return out

    def backward(self, dout):
        return stochastic_pool_backward(dout, self.cache)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W), so a Linear layer can follow the convolutions."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


# ---------------------------------------------------------------------------------------------
# The transposed convolution.  Its forward pass is the convolution's backward pass with respect
# to the input: every input pixel spreads a copy of the kernel, scaled by its value, onto the
# output, at a step of `stride` pixels.  It is computed here directly (one strided add per kernel
# offset), not by calling conv2d_backward, so that chapter 3 can compare the two code paths.


def conv_transpose_output_size(size, kernel, stride=1, pad=0, out_pad=0):
    """(size - 1) stride - 2 pad + kernel + out_pad: the inverse of ``conv_output_size``.

    out_pad (0 <= out_pad < stride) picks one of the stride input sizes that a strided
    convolution maps to the same output size.  Chapter 3.
    """
    _check_stride_pad("conv_transpose_output_size", stride, pad)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"conv_transpose_output_size expects a positive integer size, got {size!r}")
    if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or kernel <= 0:
        raise ValueError(f"conv_transpose_output_size expects a positive kernel size, got {kernel!r}")
    if isinstance(out_pad, bool) or not isinstance(out_pad, (int, np.integer)) or not 0 <= out_pad < stride:
        raise ValueError(f"conv_transpose_output_size expects an integer out_pad in [0, stride={stride}), "
                         f"got {out_pad!r}")
    full = (size - 1) * stride + kernel + out_pad
    if full - 2 * pad <= 0:
        raise ValueError(f"a pad of {pad} crops away the whole {full}-pixel output of the transposed "
                         f"convolution (size {size}, kernel {kernel}, stride {stride})")
    return full - 2 * pad


def _check_transpose_args(x, w, b, stride, pad, out_pad):
    if w.ndim != 4:
        raise ValueError(f"conv_transpose2d expects w of shape (C_in, C_out, KH, KW), got {w.shape}")
    c_in, c_out, kh, kw = w.shape
    if b.shape != (c_out,):
        raise ValueError(f"conv_transpose2d expects b of shape (C_out,) with C_out={c_out} to match w, "
                         f"got {b.shape}")
    if x.ndim != 4 or x.shape[1] != c_in:
        raise ValueError(f"conv_transpose2d expects x of shape (N, C_in, H, W) with C_in={c_in} to match w, "
                         f"got {x.shape}")
    return (conv_transpose_output_size(x.shape[2], kh, stride, pad, out_pad),
            conv_transpose_output_size(x.shape[3], kw, stride, pad, out_pad))


def conv_transpose2d_forward(x, w, b, stride=1, pad=0, out_pad=0):
    """The transposed convolution: out = crop_P(sum_{c,i,j} x[n, c, i, j] w[c, :, p, q] placed at (i S + p, j S + q)) + b.

    x (N, C_in, H, W), w (C_in, C_out, KH, KW) (the layout of the convolution it transposes, whose
    kernels are (F = C_in, C = C_out, KH, KW)), b (C_out,).  Output (N, C_out, HO, WO) with
    HO = (H - 1) S - 2 P + KH + out_pad.  Equals conv2d_backward's dx for a convolution with
    kernels w, stride S, padding P and upstream gradient x.  Returns out and the cache.  Chapter 3.
    """
    x, w, b = _floating(x), _floating(w), _floating(b)
    ho, wo = _check_transpose_args(x, w, b, stride, pad, out_pad)
    n, _, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    dtype = np.result_type(x, w, b)
    full = np.zeros((n, c_out, ho + 2 * pad, wo + 2 * pad), dtype=dtype)
    for p in range(kh):
        for q in range(kw):
            # every input pixel adds x * w[:, :, p, q] at output position (i S + p, j S + q)
            full[:, :, p:p + stride * (h - 1) + 1:stride, q:q + stride * (wd - 1) + 1:stride] += \
                np.einsum("nchw,co->nohw", x, w[:, :, p, q])
    out = full[:, :, pad:pad + ho, pad:pad + wo] + b[:, None, None]
    return out, (x, w, stride, pad)


def conv_transpose2d_backward(dout, cache):
    """Given dout (N, C_out, HO, WO), return dx (N, C_in, H, W), dw (C_in, C_out, KH, KW), db (C_out,).

    dx is the ordinary convolution of dout with the same kernels (stride S, padding P): the
    transpose of a transpose.  dw[c, o, p, q] = sum_{n,i,j} x[n, c, i, j] dout_pad[n, o, i S + p, j S + q].
    Chapter 3.
    """
    x, w, stride, pad = cache
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    ho = dout.shape[2] if dout.ndim == 4 else -1
    expected_h = (h - 1) * stride + kh - 2 * pad
    if (dout.ndim != 4 or dout.shape[:2] != (n, c_out) or not 0 <= ho - expected_h < stride
            or not 0 <= dout.shape[3] - ((wd - 1) * stride + kw - 2 * pad) < stride):
        raise ValueError(f"conv_transpose2d backward expects dout of shape ({n}, {c_out}, HO, WO) matching "
                         f"the forward output, got {dout.shape}")
    dx, _ = conv2d_forward(dout, w, np.zeros(c_in, dtype=w.dtype), stride, pad)
    dp = _pad(_floating(dout), pad)
    dw = np.empty_like(w, dtype=np.result_type(x, w, dout))
    for p in range(kh):
        for q in range(kw):
            dw[:, :, p, q] = np.einsum("nchw,nohw->co", x,
                                       dp[:, :, p:p + stride * (h - 1) + 1:stride, q:q + stride * (wd - 1) + 1:stride])
    return dx, dw, dout.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------------------------------------
# Global average pooling: one number per channel, the mean over all positions.


def global_avgpool_forward(x):
    """out[n, c] = mean of x[n, c] over its H x W positions.  x (N, C, H, W) -> out (N, C), cache.  Chapter 3."""
    x = _floating(x)
    if x.ndim != 4 or x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"global_avgpool expects x of shape (N, C, H, W) with H, W >= 1, got {x.shape}")
    # divide first: the mean of values near the float64 maximum stays finite even when their sum would not
    return (x / (x.shape[2] * x.shape[3])).sum(axis=(2, 3)), x.shape


def global_avgpool_backward(dout, cache):
    """dx[n, c, i, j] = dout[n, c] / (H W): every position shares its channel's gradient equally."""
    n, c, h, w = cache
    if dout.shape != (n, c):
        raise ValueError(f"global_avgpool backward expects dout of shape {(n, c)}, got {dout.shape}")
    return np.broadcast_to((dout / (h * w))[:, :, None, None], cache).copy()


def shift_images(x, rows=0, cols=0):
    """x (..., H, W) moved down by `rows` and right by `cols` pixels (negative: up / left), zero-filled.

    Unlike np.roll nothing wraps around: pixels pushed past the border are lost.  Chapter 3.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"shift_images expects images (..., H, W), got shape {x.shape}")
    h, w = x.shape[-2:]
    if abs(rows) >= h or abs(cols) >= w:
        raise ValueError(f"shift_images: a shift of ({rows}, {cols}) moves a {h}x{w} image out of view")
    out = np.zeros_like(x)
    src = (slice(max(-rows, 0), h - max(rows, 0)), slice(max(-cols, 0), w - max(cols, 0)))
    dst = (slice(max(rows, 0), h - max(-rows, 0)), slice(max(cols, 0), w - max(-cols, 0)))
    out[(..., *dst)] = x[(..., *src)]
    return out


class ConvTranspose2D(WeightLayer):
    """A transposed-convolution layer: w (C_in, C_out, KH, KW), He-initialised, b (C_out,) zeros."""

    def __init__(self, c_in, c_out, kernel, rng, stride=1, pad=0, out_pad=0):
        kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
        _check_stride_pad("ConvTranspose2D", stride, pad)
        self.w = init.he_normal((c_in, c_out, kh, kw), rng)
        self.b = np.zeros(c_out)
        self.stride, self.pad, self.out_pad = stride, pad, out_pad

    def forward(self, x):
        out, self.cache = conv_transpose2d_forward(x, self.w, self.b, self.stride, self.pad, self.out_pad)
        return out

    def backward(self, dout):
        dx, dw, db = conv_transpose2d_backward(dout, self.cache)
        self._grads = {"w": dw, "b": db}
        return dx


class GlobalAvgPool2D(Module):
    """(N, C, H, W) -> (N, C): the mean of each feature map, so a Linear layer can follow."""

    def forward(self, x):
        out, self.cache = global_avgpool_forward(x)
        return out

    def backward(self, dout):
        return global_avgpool_backward(dout, self.cache)
