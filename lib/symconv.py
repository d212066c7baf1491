"""The convolution's definitions written out in SymPy, for chapter 3's executable derivations.

These build the symbolic counterparts of ``lib.conv``: the defining sum of a (multi-channel,
padded, strided) cross-correlation, the signal-processing convolution, the patch matrix, and the
doubly block Toeplitz and circulant matrices.  They state definitions, so they are kept as plain
loops over indices; chapter 3 checks each against ``lib.conv`` (which is fast and written
differently) and against the others.  Images are SymPy matrices (one per channel); indices are
0-based here as in NumPy, whatever the names of the symbols.
"""
import sympy as sp


def _channels(xs):
    return [xs] if isinstance(xs, sp.MatrixBase) else list(xs)


def zero_pad(m, pad):
    """The matrix m surrounded by `pad` rings of zeros."""
    if pad < 0:
        raise ValueError(f"zero_pad expects a non-negative pad, got {pad}")
    out = sp.zeros(m.rows + 2 * pad, m.cols + 2 * pad)
    out[pad:pad + m.rows, pad:pad + m.cols] = m
    return sp.ImmutableMatrix(out)


def rot180(k):
    """The kernel turned by 180 degrees (flipped in both directions)."""
    return sp.ImmutableMatrix(k[::-1, ::-1])


def dilate(m, stride):
    """m with stride - 1 zeros inserted between neighbouring entries (the gradient of a strided layer)."""
    if stride < 1:
        raise ValueError(f"dilate expects a stride >= 1, got {stride}")
    rows, cols = (m.rows - 1) * stride + 1, (m.cols - 1) * stride + 1
    return sp.ImmutableMatrix(rows, cols, lambda i, j: m[i // stride, j // stride]
                              if i % stride == 0 and j % stride == 0 else 0)


def correlate(xs, ws, bias=0, stride=1, pad=0):
    """One output channel of a convolution layer: z_ij = b + sum_{c,u,v} w_c[u, v] x_c[i S + u, j S + v].

    xs, ws: a matrix (one channel) or lists of C_in matrices (image and kernel per channel); the
    image is zero-padded by `pad` first.  Returns the output feature map as a matrix.
    """
    xs, ws = [zero_pad(m, pad) for m in _channels(xs)], _channels(ws)
    if len(xs) != len(ws):
        raise ValueError(f"correlate expects as many kernel channels as image channels, got {len(ws)} and {len(xs)}")
    kh, kw = ws[0].shape
    if kh > xs[0].rows or kw > xs[0].cols:
        raise ValueError(f"correlate: a {kh}x{kw} kernel does not fit the padded {xs[0].shape} image")
    rows, cols = (xs[0].rows - kh) // stride + 1, (xs[0].cols - kw) // stride + 1
    return sp.ImmutableMatrix(rows, cols, lambda i, j: bias + sum(
        wc[u, v] * xc[i * stride + u, j * stride + v] for xc, wc in zip(xs, ws) for u in range(kh) for v in range(kw)))


def convolve_full(x, k):
    """The convolution of signal processing, full output: (x * k)_ij = sum_{m,n} x_mn k_{i-m, j-n}."""
    rows, cols = x.rows + k.rows - 1, x.cols + k.cols - 1
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sum(
        x[m, n] * k[i - m, j - n] for m in range(x.rows) for n in range(x.cols)
        if 0 <= i - m < k.rows and 0 <= j - n < k.cols))


def im2col(xs, k, stride=1, pad=0):
    """The patch matrix: one column per window (row by row), one row per kernel entry in lib's (c, u, v) order."""
    xs = [zero_pad(m, pad) for m in _channels(xs)]
    ho, wo = (xs[0].rows - k) // stride + 1, (xs[0].cols - k) // stride + 1
    return sp.ImmutableMatrix([[xc[i * stride + u, j * stride + v] for i in range(ho) for j in range(wo)]
                               for xc in xs for u in range(k) for v in range(k)])


def vec(m):
    """The matrix read row by row into a column."""
    return sp.ImmutableMatrix(m.reshape(m.rows * m.cols, 1))


def toeplitz_blocks(w, height, width):
    """The blocks of the doubly block Toeplitz matrix T with vec(correlate(x, w)) = T vec(x), x height x width.

    Block (i, r) maps input row r to output row i: the Toeplitz matrix of kernel row r - i
    (zero when r - i is not a kernel row).  Returns the nested list of blocks.
    """
    kh, kw = w.shape
    wo = width - kw + 1
    def block(d):
        if not 0 <= d < kh:
            return sp.zeros(wo, width)
        return sp.Matrix(wo, width, lambda j, c: w[d, c - j] if 0 <= c - j < kw else 0)
    return [[block(r - i) for r in range(height)] for i in range(height - kh + 1)]


def toeplitz_matrix(w, height, width):
    """The doubly block Toeplitz matrix of ``toeplitz_blocks``, as one explicit matrix."""
    return sp.ImmutableMatrix(sp.BlockMatrix(toeplitz_blocks(w, height, width)).as_explicit())


def circulant_matrix(w, height, width):
    """C with C vec(x) = vec(z), z_ij = sum_uv w_uv x_{(i+u) mod height, (j+v) mod width} (wrap-around padding)."""
    c = sp.zeros(height * width, height * width)
    for i in range(height):
        for j in range(width):
            for u in range(w.rows):
                for v in range(w.cols):
                    c[i * width + j, ((i + u) % height) * width + (j + v) % width] += w[u, v]
    return sp.ImmutableMatrix(c)


def shift(m, rows=0, cols=0):
    """m moved down by `rows` and right by `cols` (non-negative), zero-filled: the symbolic shift_images."""
    out = sp.zeros(m.rows, m.cols)
    out[rows:, cols:] = m[:m.rows - rows, :m.cols - cols]
    return sp.ImmutableMatrix(out)


def max_pool(m, size):
    """Non-overlapping max pooling of a matrix (size x size windows)."""
    return sp.ImmutableMatrix(m.rows // size, m.cols // size, lambda i, j: sp.Max(
        *[m[i * size + u, j * size + v] for u in range(size) for v in range(size)]))


def rf_bottom_up(ks, ss):
    """Receptive field of a stack, layer by layer from the input: r_l = r_{l-1} + (k_l - 1) s_1 ... s_{l-1}."""
    r, jump = sp.Integer(1), sp.Integer(1)
    for k, s in zip(ks, ss):
        r, jump = r + (k - 1) * jump, jump * s
    return r


def rf_top_down(ks, ss):
    """Receptive field walking down from one output unit: R units at layer l cover s_l (R - 1) + k_l below."""
    r = sp.Integer(1)
    for k, s in reversed(list(zip(ks, ss))):
        r = s * (r - 1) + k
    return r
