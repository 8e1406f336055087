"""Per-call cost of a small ``partial_fit`` and a one-row ``predict``, for
comparing two commits: run it once per worktree, alternating, with that
worktree on ``PYTHONPATH``::

    for i in 1 2 3; do
        OMP_NUM_THREADS=1 PYTHONPATH=/tmp/bench_cpu/before python bench/ab/call_costs.py before
        OMP_NUM_THREADS=1 PYTHONPATH=/tmp/bench_cpu/after python bench/ab/call_costs.py after
    done

The tabular shape (20 features, 4 classes, (64,) hidden, float32): after 100
warm calls, the best of 15 rounds of 200 ``partial_fit`` calls of 32 rows,
then of 15 rounds of 1,000 one-row ``predict`` calls, in microseconds a call.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification

from fastbp import MLPClassifier


def best_per_call(fn, calls, rounds=15):
    """The best over ``rounds`` of the mean time of ``calls`` calls, in µs."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def main(label, rounds=15, warm=100):
    """Print and return ``(partial_fit µs, predict µs)`` a call."""
    warnings.simplefilter("ignore")
    X, y = make_classification(2000, 20, n_classes=4, n_informative=8, random_state=0)
    X = X.astype(np.float32)
    Xb, yb = X[:32], y[:32]
    model = MLPClassifier(hidden_layer_sizes=(64,), random_state=0, batch_size=32)
    model.partial_fit(Xb, yb, classes=np.unique(y))
    for _ in range(warm):
        model.partial_fit(Xb, yb)
    fit_us = best_per_call(lambda: model.partial_fit(Xb, yb), 200, rounds)
    predict_us = best_per_call(lambda: model.predict(Xb[:1]), 1000, rounds)
    print(f"{label} partial_fit {fit_us:.1f} us, predict (1 row) {predict_us:.2f} us")
    return fit_us, predict_us


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fastbp")
