"""Milliseconds per epoch of a long tabular fit, in this process.

Run it with each worktree first on the path, alternating, to compare two
commits on back-to-back epochs (``epoch_bench.py`` fits a few epochs per
case; this one fits many, with warm caches)::

    for i in 1 2 3; do for side in before after; do
        PYTHONPATH=/tmp/bench_cpu/$side NUMBA_CACHE_DIR=/tmp/bench_cpu/cache_$side \\
            python bench/ab/fit_epochs.py 32 200 float64
    done; done

Arguments: batch size, epochs, and optionally the dtype (default
float32) and the number of rows of the tabular workload (default 10000;
200000 makes ``X`` larger than a core's L2 cache in both dtypes). One BLAS
thread; the first fit is untimed (compilation, caches).
"""

import sys
import time
import warnings

warnings.simplefilter("ignore")

from threadpoolctl import threadpool_limits  # noqa: E402

from bench import peers, workloads  # noqa: E402
from fastbp import MLPClassifier  # noqa: E402


def main(batch_size: int, epochs: int, dtype: str = "float32", rows: int = 10000) -> float:
    data = workloads.load_uncached(workloads.tabular(rows), dtype, standalone=True)
    with threadpool_limits(1):
        est = MLPClassifier(**peers.estimator_params(peers.TrainSpec((64,), batch_size)),
                            max_iter=epochs, tol=0, n_iter_no_change=10**6)
        est.fit(data.X_train, data.y_train)
        t0 = time.perf_counter()
        est.fit(data.X_train, data.y_train)
        return (time.perf_counter() - t0) / est.n_iter_ * 1e3


if __name__ == "__main__":
    if (len(sys.argv) not in (3, 4, 5) or sys.argv[3:4] not in ([], ["float32"], ["float64"])
            or not all(a.isdigit() for a in sys.argv[1:3] + sys.argv[4:])):
        sys.exit("usage: fit_epochs.py BATCH_SIZE EPOCHS [float32|float64 [ROWS]]")
    args = [int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:4], *map(int, sys.argv[4:])]
    print(f"{main(*args):.2f} ms/epoch")
