"""Seconds a large search's warm-up spends, for comparing two commits: run
it once per worktree, twice (the first run compiles what the cache lacks;
quote the second), with that worktree on ``PYTHONPATH``::

    for label in after before after before; do
        OMP_NUM_THREADS=1 NUMBA_CACHE_DIR=/tmp/nb_$label \\
            PYTHONPATH=/tmp/bench_cpu/$label python bench/ab/warmup_expand.py $label
    done

The search is rev-272's: a ``RandomizedSearchCV`` of a scaler and an
``MLPClassifier`` over 30 hidden sizes, 4 solvers, 3 activations, 5
dropout rates, 3 normalisations, residual connections and early stopping
(``alpha`` drawn), 20 candidates. Prints how many configurations
``fastbp.warmup`` expands it to and in how many seconds, then the seconds
of ``fastbp.warmup(search, dtypes="float32")``.
"""

import importlib
import sys
import time
import warnings

from scipy.stats import uniform
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier

SIZES = ([(n,) for n in (8, 16, 32, 64, 128, 256)]
         + [(a, b) for a in (16, 64, 128) for b in (16, 64)]
         + [(a, a) for a in (8, 32, 256)]
         + [(a, b, c) for a in (16, 64) for b in (16, 64) for c in (8, 64)]
         + [(a, a, a) for a in (16, 64)]
         + [(64, 32, 16, 8), (32, 32, 32, 32), (128, 64), (256, 128), (512,)])


def search():
    """rev-272's search."""
    space = {"mlpclassifier__hidden_layer_sizes": SIZES,
             "mlpclassifier__solver": ["adam", "sgd", "rmsprop", "adagrad"],
             "mlpclassifier__activation": ["relu", "tanh", "logistic"],
             "mlpclassifier__dropout": [0, .1, .2, .3, .5],
             "mlpclassifier__normalization": [None, "batch", "layer"],
             "mlpclassifier__residual": [False, True],
             "mlpclassifier__early_stopping": [False, True],
             "mlpclassifier__alpha": uniform(1e-5, 1e-2)}
    return RandomizedSearchCV(make_pipeline(StandardScaler(), MLPClassifier()), space,
                              n_iter=20, random_state=0)


def main(label):
    """Print and return ``(configurations, expand seconds, warm-up seconds)``."""
    warnings.simplefilter("ignore")
    # (fastbp.warmup is the function; the module holds _configurations.)
    module = importlib.import_module("fastbp.warmup")
    s = search()
    start = time.perf_counter()
    n = len(module._configurations([s]))
    expand = time.perf_counter() - start
    start = time.perf_counter()
    fastbp.warmup(s, dtypes="float32")
    warm = time.perf_counter() - start
    print(f"{label}: {len(SIZES)} sizes, {n} configurations in {expand:.2f} s; "
          f"warmup(search, dtypes='float32') {warm:.2f} s")
    return n, expand, warm


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fastbp")
