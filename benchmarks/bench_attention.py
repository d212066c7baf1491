"""Time multi-head self-attention, forward and backward, in lib and in PyTorch's CPU
nn.MultiheadAttention, in one process.

Run it with benchmarks/.venv/bin/python benchmarks/bench_attention.py (make bench builds that
environment from benchmarks/requirements.txt).  The case: batch 32, length 64, model width 128,
4 heads, no biases, float64; lib.attention.multihead_forward + multihead_backward against
torch.nn.MultiheadAttention (need_weights=False, so it runs scaled_dot_product_attention) and
torch.autograd.grad.  Both sides are first asserted to agree on the output, dx and the four
weight gradients; then each runs REPEATS times, interleaved, and the medians and minima are
printed with their ratio to PyTorch.  Single-threaded by default (benchmarks/timing.py;
--threads sets NumPy's BLAS and torch alike).
"""
import argparse
import platform

import timing  # noqa: I001  (first: it sets the thread pools' size before NumPy and torch start them)
import numpy as np
from threadpoolctl import threadpool_info

from lib import attention

BLAS = [p for p in threadpool_info() if p["user_api"] == "blas"]  # before torch brings its own pools

import torch  # noqa: E402  (after the BLAS probe, on purpose)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per side (median reported)")
    parser.add_argument("--threads", type=int, default=timing.THREADS,
                        help="threads for both NumPy's BLAS and torch (default 1)")
    args = parser.parse_args()
    timing.set_threads(args.threads)

    rng = np.random.default_rng(0)
    n, t, d, h = args.batch, args.length, args.width, args.heads
    x = rng.standard_normal((n, t, d))
    dout = rng.standard_normal((n, t, d))
    mha = torch.nn.MultiheadAttention(d, h, bias=False, batch_first=True, dtype=torch.float64)
    w_in = mha.in_proj_weight.detach().numpy()
    wq, wk, wv = (w_in[i * d:(i + 1) * d].T.copy() for i in range(3))  # torch computes x W^T
    wo = mha.out_proj.weight.detach().numpy().T.copy()
    xt, dout_t = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(dout)

    def lib_side():
        out, cache = attention.multihead_forward(x, x, wq, wk, wv, wo, h)
        dxq, dxkv, dwq, dwk, dwv, dwo = attention.multihead_backward(dout, cache)
        return out, dxq + dxkv, dwq, dwk, dwv, dwo

    def torch_side():
        out = mha(xt, xt, xt, need_weights=False)[0]
        dx, dw_in, dwo_t = torch.autograd.grad(out, (xt, mha.in_proj_weight, mha.out_proj.weight), dout_t)
        dw_in = dw_in.numpy()
        return (out.detach().numpy(), dx.numpy(), *(dw_in[i * d:(i + 1) * d].T for i in range(3)), dwo_t.numpy().T)

    for label, got, want in zip(("out", "dx", "dwq", "dwk", "dwv", "dwo"), torch_side(), lib_side()):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max(), err_msg=label)

    blas = BLAS[0] if BLAS else {"internal_api": "?", "version": "?"}
    print(f"numpy {np.__version__} ({blas['internal_api']} {blas['version']}), torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"multi-head self-attention fwd+bwd, batch {n}, length {t}, width {d}, {h} heads, no biases, "
          f"float64; threads: {args.threads}; {args.repeats} runs each, outputs and gradients checked equal first")
    medians, minima = timing.median_times([lib_side, torch_side], args.repeats)
    print("| side | ms (median) | ms (min) | / torch (median) | / torch (min) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, t_med, t_min in zip(("lib", "torch MHA"), medians, minima):
        print(f"| {name} | {t_med * 1e3:.1f} | {t_min * 1e3:.1f} | {t_med / medians[1]:.2f} | "
              f"{t_min / minima[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
