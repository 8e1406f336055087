"""Per-epoch cost of scikit-learn callbacks on a small network.

Usage::

    OPENBLAS_NUM_THREADS=1 python bench/callback_overhead.py

Fits MLPClassifier((64,), batch_size=200) for 60 epochs on the 10000x20
tabular data, without a callback, with ProgressBar and with
ScoringMonitor(scoring="accuracy"), three times each, and prints ms/epoch.
"""

import contextlib
import io
import time
import warnings

from sklearn.callback import ProgressBar, ScoringMonitor

from fastbp import MLPClassifier
from fastbp.datasets import make_tabular


def ms_per_epoch(X, y, callback):
    est = MLPClassifier((64,), batch_size=200, max_iter=60, n_iter_no_change=1000, tol=0,
                        random_state=0)
    if callback is not None:
        est.set_callbacks(callback)
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(X, y)
    return (time.perf_counter() - start) / 60 * 1e3


def main():
    X, y = make_tabular(10000, 20, 4, random_state=0)
    ms_per_epoch(X, y, None)
    ms_per_epoch(X, y, ProgressBar())
    for _ in range(3):
        print(f"none {ms_per_epoch(X, y, None):.3f} ms/epoch   "
              f"ProgressBar {ms_per_epoch(X, y, ProgressBar()):.3f}   "
              f"ScoringMonitor {ms_per_epoch(X, y, ScoringMonitor(scoring='accuracy')):.3f}")


if __name__ == "__main__":
    main()
