"""Time lib.conv against PyTorch's CPU kernels on the same inputs, in one process.

Run it with `make bench` (which builds benchmarks/.venv from benchmarks/requirements.txt).
Every case first asserts that lib and torch agree on outputs and gradients, so both sides
do the same work; then each side runs REPEATS times, interleaved, and the medians are printed
with the ratio lib / torch (below 1 means lib is faster), and the ratio of the fastest runs,
which a busy machine disturbs less.  Single-threaded by default (benchmarks/timing.py sets
the pools before NumPy and torch start them); --threads sets NumPy's BLAS and torch alike.
"""
import argparse
import platform

import timing  # noqa: I001  (first: it sets the thread pools' size before NumPy and torch start them)
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from lib import conv

# read before torch is imported: torch brings its own OpenMP/BLAS pools
BLAS = [p for p in threadpool_info() if p["user_api"] == "blas"]

import torch  # noqa: E402  (after the BLAS probe, on purpose)
from timing import median_times  # noqa: E402
import torch.nn.functional as F  # noqa: E402

timing.set_threads()

# name, x shape (N, C, H, W), w shape (F, C, KH, KW), pad
CASES = [
    ("a: 64x1x28x28, 6 5x5", (64, 1, 28, 28), (6, 1, 5, 5), 0),
    ("b: 64x6x12x12, 16 5x5", (64, 6, 12, 12), (16, 6, 5, 5), 0),
    ("c: 128x16x16x16, 32 3x3 p1", (128, 16, 16, 16), (32, 16, 3, 3), 1),
]
TOL = {np.float64: dict(rtol=1e-9, atol=1e-9), np.float32: dict(rtol=2e-4, atol=2e-4)}



def agree(name, ours, theirs, dtype):
    for i, (a, t) in enumerate(zip(ours, theirs)):
        t = t.detach().numpy()
        assert a.dtype == t.dtype == dtype, f"{name}[{i}]: dtypes {a.dtype} vs {t.dtype}"
        scale = max(1.0, float(np.abs(t).max()))  # float32 sums of many terms: compare relative to the largest entry
        tol = TOL[dtype]
        np.testing.assert_allclose(a, t, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=name)


def bench_case(label, xs, ws, pad, dtype, repeats, rng):
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) * np.sqrt(2 / np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    out, _ = conv.conv2d_forward(x, w, b, 1, pad)
    dout = rng.standard_normal(out.shape).astype(dtype)
    pool_in = rng.standard_normal(out.shape).astype(dtype)  # the max-pool cases pool a conv-sized activation
    pool_dout = rng.standard_normal(conv.maxpool_forward(pool_in)[0].shape).astype(dtype)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t, pt, pool_dout_t = torch.from_numpy(dout), torch.from_numpy(pool_in).requires_grad_(), torch.from_numpy(pool_dout)

    def lib_fwd():
        return conv.conv2d_forward(x, w, b, 1, pad)[0]

    def torch_fwd():
        with torch.no_grad():
            return F.conv2d(xt, wt, bt, stride=1, padding=pad)

    def lib_fwd_bwd():
        out, cache = conv.conv2d_forward(x, w, b, 1, pad)
        return (out,) + conv.conv2d_backward(dout, cache)

    def torch_fwd_bwd():
        out = F.conv2d(xt, wt, bt, stride=1, padding=pad)
        return (out,) + torch.autograd.grad(out, (xt, wt, bt), dout_t)

    def lib_pool():
        out, cache = conv.maxpool_forward(pool_in, 2)
        return out, conv.maxpool_backward(pool_dout, cache)

    def torch_pool():
        out = F.max_pool2d(pt, 2)
        return (out,) + torch.autograd.grad(out, (pt,), pool_dout_t)

    rows = []
    for op, ours, theirs in [("conv2d fwd", lib_fwd, torch_fwd), ("conv2d fwd+bwd", lib_fwd_bwd, torch_fwd_bwd),
                             ("maxpool2 fwd+bwd", lib_pool, torch_pool)]:
        a, t = ours(), theirs()
        agree(f"{label} {op}", a if isinstance(a, tuple) else (a,), t if isinstance(t, tuple) else (t,), dtype)
        (t_lib, t_torch), (m_lib, m_torch) = median_times([ours, theirs], repeats)
        rows.append((label, op, np.dtype(dtype).name, t_lib, t_torch, m_lib, m_torch))
        print(f"| {label:<27} | {op:<16} | {np.dtype(dtype).name:<7} | {t_lib * 1e3:8.2f} | {t_torch * 1e3:8.2f} "
              f"| {t_lib / t_torch:5.2f} | {m_lib / m_torch:5.2f} |", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per side and case (median reported)")
    parser.add_argument("--cases", default="abc", help="which cases to run, e.g. 'ac'")
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated, e.g. float32")
    parser.add_argument("--threads", type=int, default=timing.THREADS,
                        help="threads for both NumPy's BLAS and torch (default 1)")
    args = parser.parse_args()
    threadpool_limits(args.threads, user_api="blas")
    torch.set_num_threads(args.threads)
    blas_threads = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas" and "torch" not in p["filepath"]]
    print(f"numpy {np.__version__} ({BLAS[0]['internal_api']} {BLAS[0]['version']}), torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"threads: numpy BLAS {blas_threads[0]}, torch {torch.get_num_threads()}; median of {args.repeats} runs, "
          f"outputs and gradients checked equal first")
    print("| case | op | dtype | lib ms | torch ms | lib/torch | lib/torch of minima |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    rng = np.random.default_rng(0)
    for dtype in [getattr(np, name) for name in args.dtypes.split(",")]:
        for label, xs, ws, pad in CASES:
            if label[0] in args.cases:
                bench_case(label, xs, ws, pad, dtype, args.repeats, rng)


if __name__ == "__main__":
    main()
