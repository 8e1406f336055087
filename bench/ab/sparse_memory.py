"""Peak memory (tracemalloc, above what is allocated before the call) of
fits and predictions on a CSR matrix, for comparing two commits: run it
once per worktree, with that worktree on ``PYTHONPATH``::

    for label in before after; do
        OMP_NUM_THREADS=1 PYTHONPATH=/tmp/trees/$label python bench/ab/sparse_memory.py $label
    done

rev-289's case: 100,000 × 400, 5,000,000 stored float32 values with
scipy's int32 indices (20 MB each), binary labels, hidden (32,), one
epoch. ``--scale 0.01`` makes it 100 times smaller (the smoke test's).
Prints the peaks of ``fit``, ``partial_fit``, an early-stopping ``fit``
and ``predict_proba``, and of scikit-learn's ``fit`` as the reference.
Memory, not time: the figures do not depend on the machine's load.
"""

import argparse
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp


def peak_mb(call):
    """The peak of the memory ``call()`` allocates, in MB."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("label", help="a name for this side (before, after)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="the fraction of rev-289's rows to use (default 1)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import fastbp
    from sklearn.neural_network import MLPClassifier as SkMLP

    n = max(200, int(100_000 * args.scale))
    X = sp.random(n, 400, density=0.125, format="csr", dtype=np.float32, random_state=0)
    y = np.random.default_rng(0).integers(0, 2, n)
    params = dict(hidden_layer_sizes=(32,), max_iter=1, random_state=0)
    model = fastbp.MLPClassifier(**params).fit(X[:200], y[:200])  # compiled here
    fastbp.MLPClassifier(early_stopping=True, **params).fit(X[:200], y[:200])
    rows = {
        "fastbp fit": lambda: fastbp.MLPClassifier(**params).fit(X, y),
        "fastbp partial_fit": lambda: model.partial_fit(X, y),
        "fastbp fit, early stopping": lambda: fastbp.MLPClassifier(
            early_stopping=True, **params).fit(X, y),
        "fastbp predict_proba": lambda: model.predict_proba(X),
        "scikit-learn fit": lambda: SkMLP(**params).fit(X, y),
    }
    print(f"{args.label}: {n} x 400 CSR, {X.nnz} stored values; data {X.data.nbytes / 1e6:.1f} "
          f"MB, indices {X.indices.nbytes / 1e6:.1f} MB ({X.indices.dtype})")
    for name, call in rows.items():
        print(f"{args.label}: {name}: peak {peak_mb(call):.1f} MB")


if __name__ == "__main__":
    main()
