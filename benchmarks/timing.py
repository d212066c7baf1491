"""The timing loop both benchmarks share (bench_conv.py, bench_gcn.py)."""
import time

import numpy as np


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
