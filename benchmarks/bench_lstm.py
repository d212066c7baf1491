"""Time lib.recurrent's LSTM against PyTorch's CPU nn.LSTM, forward and forward+backward, in one process.

Run it with `make bench` (which builds benchmarks/.venv from benchmarks/requirements.txt), or
`benchmarks/.venv/bin/python benchmarks/bench_lstm.py [--threads 2]`.  One LSTM layer over a batch
of 32 sequences of 50 steps, 64 inputs, 128 hidden units, float64 (the sizes can be changed).
torch's weights are copied into lib's layout (torch orders the gates i, f, g, o; lib i, f, o, g;
torch's two biases add up), and both sides are first asserted to agree on the output sequence
and on every gradient (x, h0, c0, the weights, the bias) for the same upstream gradient.  Then
each side runs REPEATS times, interleaved, and the medians are printed with the ratio lib / torch
and the ratio of the fastest runs.  Single-threaded by default (benchmarks/timing.py).
"""
import argparse
import platform

import timing  # noqa: I001  (first: it sets the thread pools' size before NumPy and torch start them)
import numpy as np
from threadpoolctl import threadpool_info

from lib import recurrent

import torch  # noqa: E402

TORCH_TO_LIB = (0, 1, 3, 2)   # lib's gate blocks i, f, o, g are torch's blocks 0, 1, 3, 2


def to_lib(w):
    """(4H, K) torch weight (or (4H,) bias) -> lib's column layout (K, 4H) (or (4H,))."""
    blocks = np.split(np.asarray(w), 4, axis=0)
    return np.concatenate([blocks[k] for k in TORCH_TO_LIB], axis=0).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per side (median reported)")
    parser.add_argument("--threads", type=int, default=timing.THREADS, help="threads for NumPy's BLAS and torch")
    args = parser.parse_args()
    timing.set_threads(args.threads)
    torch.manual_seed(0)
    n, t, d, h = args.batch, args.steps, args.inputs, args.hidden

    rng = np.random.default_rng(0)
    layer = torch.nn.LSTM(d, h, batch_first=True, dtype=torch.float64)
    x = rng.standard_normal((n, t, d))
    h0, c0 = 0.5 * rng.standard_normal((n, h)), 0.5 * rng.standard_normal((n, h))
    dout = rng.standard_normal((n, t, h))
    wx = to_lib(layer.weight_ih_l0.detach().numpy())
    wh = to_lib(layer.weight_hh_l0.detach().numpy())
    b = to_lib((layer.bias_ih_l0 + layer.bias_hh_l0).detach().numpy())
    xt, h0t, c0t = (torch.from_numpy(v.copy()).requires_grad_() for v in (x, h0, c0))
    dout_t = torch.from_numpy(dout)
    weights = (layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0)

    def lib_fwd():
        return recurrent.lstm_forward(x, h0, c0, wx, wh, b)[0]

    def torch_fwd():
        with torch.no_grad():
            return layer(xt, (h0t[None], c0t[None]))[0]

    def lib_fwd_bwd():
        out, cache = recurrent.lstm_forward(x, h0, c0, wx, wh, b)
        return (out,) + recurrent.lstm_backward(dout, cache)

    def torch_fwd_bwd():
        out = layer(xt, (h0t[None], c0t[None]))[0]
        return (out,) + torch.autograd.grad(out, (xt, h0t, c0t) + weights, dout_t)

    ours, theirs = lib_fwd_bwd(), [v.detach().numpy() for v in torch_fwd_bwd()]
    pairs = [("h", ours[0], theirs[0]), ("dx", ours[1], theirs[1]), ("dh0", ours[2], theirs[2]),
             ("dc0", ours[3], theirs[3]), ("dwx", ours[4], to_lib(theirs[4])), ("dwh", ours[5], to_lib(theirs[5])),
             ("db", ours[6], to_lib(theirs[6]))]
    for name, a, w in pairs:
        np.testing.assert_allclose(a, w, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(w).max())), err_msg=name)

    blas = sorted((p for p in threadpool_info() if p["user_api"] == "blas" and "torch" not in p["filepath"]),
                  key=lambda p: "numpy" not in p["filepath"])   # NumPy's own BLAS first (SciPy brings another)
    print(f"numpy {np.__version__} ({blas[0]['internal_api']} {blas[0]['version']}), torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"threads: numpy BLAS {blas[0]['num_threads']}, torch {torch.get_num_threads()}; median of {args.repeats} "
          f"runs, outputs and gradients checked equal first")
    print("| case | op | dtype | lib ms | torch ms | lib/torch | lib/torch of minima |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    label = f"LSTM N={n} T={t} D={d} H={h}"
    for op, a, c in [("fwd", lib_fwd, torch_fwd), ("fwd+bwd", lib_fwd_bwd, torch_fwd_bwd)]:
        (t_lib, t_torch), (m_lib, m_torch) = timing.median_times([a, c], args.repeats)
        print(f"| {label} | {op:<7} | float64 | {t_lib * 1e3:8.2f} | {t_torch * 1e3:8.2f} | {t_lib / t_torch:5.2f} "
              f"| {m_lib / m_torch:5.2f} |", flush=True)


if __name__ == "__main__":
    main()
