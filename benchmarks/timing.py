"""The timing loop and the thread setting every benchmark shares (bench_conv, bench_gcn, bench_lstm).

Import this module before NumPy and PyTorch: it sets the thread count of their pools (OpenMP,
OpenBLAS, MKL) through the environment before they start.  One thread by default: on a 2-core
machine two-thread runs of NumPy's and PyTorch's pools spin against each other and their medians
swing from run to run, while one-thread runs repeat within a few per cent.  `--threads N` on
the command line sets N for both sides (the secondary two-thread table uses --threads 2);
set_threads() then applies it to the pools that threadpoolctl and torch control at run time.
"""
import os
import sys
import time


def _threads(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


THREADS = _threads(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import numpy as np  # noqa: E402  (after the environment, on purpose)


def set_threads(n=THREADS):
    """n threads for NumPy's BLAS (threadpoolctl) and for torch, if it is imported."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return n


def median_times(fns, repeats, warmup=2):
    """Median and minimum seconds of each function; runs are interleaved so machine noise hits every side alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times], [float(np.min(t)) for t in times]
