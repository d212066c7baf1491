"""Time one GCN layer, forward and backward, with lib's sparse and dense adjacency and PyTorch's CPU
sparse matrix product, in one process.

Run it with `make bench` (which builds benchmarks/.venv from benchmarks/requirements.txt).
The graph: N nodes with mean degree 10 (lib.graph.random_graph), propagation matrix
D^-1/2 (A + I) D^-1/2, features 64 -> 64, float64.  The three sides are first asserted to agree
on the output and on dx, dw, db; then each runs REPEATS times, interleaved, and the medians are
printed with the ratios to lib sparse, and the ratios of the fastest runs, which a busy machine
disturbs less.  Single-threaded by default (--threads sets NumPy's BLAS and torch alike).
"""
import argparse
import platform
import warnings

import timing  # noqa: I001  (first: it sets the thread pools' size before NumPy and torch start them)
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from lib import graph

BLAS = [p for p in threadpool_info() if p["user_api"] == "blas"]  # before torch brings its own pools

import torch  # noqa: E402  (after the BLAS probe, on purpose)
from timing import median_times  # noqa: E402



def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--degree", type=float, default=10.0, help="mean degree of the random graph")
    parser.add_argument("--features", type=int, default=64, help="D = M, input and output features")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per side (median reported)")
    parser.add_argument("--threads", type=int, default=timing.THREADS, help="threads for both NumPy's BLAS and torch")
    args = parser.parse_args()
    threadpool_limits(args.threads, user_api="blas")
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    n, d = args.nodes, args.features
    a_sparse = graph.renormalized_adjacency(graph.random_graph(n, args.degree, rng))
    a_dense = a_sparse.toarray()
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, d)) / np.sqrt(d), rng.standard_normal(d)
    dout = rng.standard_normal((n, d))

    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    a_t = torch.sparse_csr_tensor(torch.from_numpy(a_sparse.indptr.astype(np.int64)),
                                  torch.from_numpy(a_sparse.indices.astype(np.int64)),
                                  torch.from_numpy(a_sparse.data), size=(n, n), check_invariants=True)
    xt, wt, bt = (torch.from_numpy(v.copy()).requires_grad_() for v in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def lib_side(a):
        def run():
            out, cache = graph.gcn_forward(x, a, w, b)
            return (out,) + graph.gcn_backward(dout, cache)
        return run

    def torch_side():
        out = torch.sparse.mm(a_t, xt) @ wt + bt
        return (out,) + torch.autograd.grad(out, (xt, wt, bt), dout_t)

    sides = {"lib sparse": lib_side(a_sparse), "lib dense": lib_side(a_dense), "torch sparse": torch_side}
    ref = sides["lib sparse"]()
    for name, fn in sides.items():
        got = [r.detach().numpy() if isinstance(r, torch.Tensor) else r for r in fn()]
        for label, g, want in zip(("out", "dx", "dw", "db"), got, ref):
            np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-10 * np.abs(want).max(), err_msg=f"{name} {label}")

    blas = BLAS[0] if BLAS else {"internal_api": "?", "version": "?"}
    print(f"numpy {np.__version__} ({blas['internal_api']} {blas['version']}), scipy sparse, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"GCN layer fwd+bwd, N = {n}, mean degree {args.degree:g} ({a_sparse.nnz} nonzeros with self-loops), "
          f"{d} -> {d} features, float64; threads: {args.threads}; median of {args.repeats} runs, "
          "outputs and gradients checked equal first")
    (medians, minima) = median_times(list(sides.values()), args.repeats, warmup=1)
    print("| side | ms (median) | / lib sparse | / lib sparse, minima |")
    print("| --- | ---: | ---: | ---: |")
    for name, t, m in zip(sides, medians, minima):
        print(f"| {name:<12} | {t * 1e3:10.2f} | {t / medians[0]:7.2f} | {m / minima[0]:7.2f} |", flush=True)


if __name__ == "__main__":
    main()
