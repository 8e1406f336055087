"""Milliseconds per ``partial_fit`` call over the whole tabular set, in this
process: an epoch as ``bench.report`` times fastbp's (one call, one epoch),
with the call's Python around the compiled epoch.

Run it with each worktree first on the path, alternating, to compare two
commits::

    for i in 1 2 3; do for side in before after; do
        PYTHONPATH=/tmp/ab/$side NUMBA_CACHE_DIR=/tmp/ab/cache_$side \\
            python bench/ab/partial_fit_epochs.py 32 $side
    done; done

Arguments: batch size, a label to print, and the dtype (float32 unless
given). The BLAS pool is the
environment's (``OPENBLAS_NUM_THREADS``). 20 untimed calls first
(compilation, caches), then the median and best of 7 timings of 50 calls.
"""

import sys
import time
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402

from bench import peers, workloads  # noqa: E402
from fastbp import MLPClassifier  # noqa: E402


def main(batch_size: int, label: str, dtype: str = "float32") -> None:
    data = workloads.load_uncached(workloads.tabular(10000), dtype, standalone=True)
    est = MLPClassifier(**peers.estimator_params(peers.TrainSpec((64,), batch_size)))
    classes = np.unique(data.y_train)
    X, y = data.X_train, data.y_train
    for _ in range(20):
        est.partial_fit(X, y, classes=classes)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(50):
            est.partial_fit(X, y, classes=classes)
        times.append((time.perf_counter() - t0) / 50 * 1e3)
    times.sort()
    print(f"{label} median {times[3]:.3f} min {times[0]:.3f} ms per call")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "", *sys.argv[3:4])
