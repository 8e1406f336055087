"""Per-epoch overhead of fastbp's training loop: what Python does between two
compiled epochs (the next sample order, the finiteness checks, the history,
the gradient diagnostics, early stopping's validation score).

``python -m bench.epoch_overhead`` fits a network so small (64 rows x 8
features, hidden (8,), one mini-batch per epoch) that the compiled epoch
costs a few microseconds, for ``--epochs`` epochs with no stopping rule, and
prints the best of ``--repeats`` fits divided by the epochs: microseconds
per epoch, almost all of it bookkeeping. Run it at two commits to compare.
Nothing here asserts a time.
"""

import argparse
import time
import warnings

import numpy as np

CONFIGS = {
    "adam": {},
    "sgd": {"solver": "sgd"},
    "early_stopping": {"early_stopping": True},
}


def per_epoch_us(epochs, repeats, **params):
    """Best wall time of a fit over ``epochs`` epochs, per epoch, in µs."""
    from fastbp import MLPClassifier

    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((64, 8)), np.arange(64) % 3
    model = MLPClassifier((8,), max_iter=epochs, tol=0, n_iter_no_change=10**9,
                          batch_size=64, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits never converge: by design
        model.fit(X, y)  # compiles or loads the kernels
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(X, y)
            best = min(best, time.perf_counter() - start)
    return best / epochs * 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.epoch_overhead",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    args = ap.parse_args(argv)
    from bench.report import _loadavg, environment_header, script_environment

    env = script_environment()
    lines = []
    for name in args.configs.split(","):
        us = per_epoch_us(args.epochs, args.repeats, **CONFIGS[name])
        lines.append(f"{name:<15} {us:8.1f} us per epoch")
    env["loadavg_end"] = _loadavg()
    print(environment_header(env))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
