"""Microseconds of a fresh model's ``fit`` spent outside the compiled epoch:
what every fit of a search pays in Python (cloning, validation, labels,
set-up), holding the GIL.

``MLPClassifier((64,), max_iter=1)`` cloned and fitted 200 times on 64 and
on 6667 rows of 20 float32 features (4 classes), inside
``threadpool_limits(1)``; the time inside ``train_epoch`` is subtracted;
best of 5. Run it from each worktree, alternating, to compare two commits::

    for i in 1 2 3; do for side in before after; do
        (cd /tmp/ab/$side && PYTHONPATH=/tmp/ab/$side python bench/ab/fit_overhead.py)
    done; done
"""

import time
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from fastbp import MLPClassifier  # noqa: E402
from fastbp.kernels import lean  # noqa: E402
from fastbp.kernels.codes import OUT_SOFTMAX  # noqa: E402


def main(fits: int = 200, repeats: int = 5) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6667, 20)).astype(np.float32)
    y = np.arange(6667) % 4
    softmax = lean.for_output(OUT_SOFTMAX)
    inside = [0.0]
    kernel = softmax.train_epoch

    def timed(*args):
        t = time.perf_counter()
        out = kernel(*args)
        inside[0] += time.perf_counter() - t
        return out

    softmax.train_epoch = timed
    proto = MLPClassifier((64,), max_iter=1, random_state=0)
    try:
        with threadpool_limits(1):
            for rows in (64, 6667):
                Xr, yr = X[:rows], y[:rows]
                for _ in range(20):
                    clone(proto).fit(Xr, yr)
                best = np.inf
                for _ in range(repeats):
                    inside[0] = 0.0
                    t = time.perf_counter()
                    for _ in range(fits):
                        clone(proto).fit(Xr, yr)
                    best = min(best, (time.perf_counter() - t - inside[0]) / fits)
                print(f"{rows} rows: {best * 1e6:.0f} us of a fit outside the compiled epoch")
    finally:
        softmax.train_epoch = kernel


if __name__ == "__main__":
    main()
