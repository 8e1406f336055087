"""Mini-batch steps split between threads against BLAS's own threads.

``python -m bench.split`` trains each case (a workload's data and a hidden
shape at one batch size) three ways, in rounds that alternate them so that
the machine's load drifts over all three alike:

* ``split``: 2 BLAS threads, each step split between two threads of
  fastbp's own with one-thread products (:mod:`fastbp.training.split`),
  forced whatever the step's size (``MIN_STEP_MACS`` set to 0);
* ``blas2``: 2 BLAS threads, every product forking and joining the pool
  (``FASTBP_SPLIT=off``);
* ``blas1``: 1 BLAS thread.

It prints the median milliseconds per epoch of each (every epoch but the
first of each fit), the ratios ``blas2/split`` and ``blas1/split``, the
step's multiply-adds (batch rows x weights) and what fastbp decides for
that case by default. Each fit starts after a pause of ``PAUSE`` seconds:
OpenBLAS's idle worker spins for about 0.1 s after a product on two
threads (its ``THREAD_TIMEOUT``), and a split fit that starts in that
window runs its first epochs about twice as slow, while it shares a core
with the spinning worker. The default threshold,
``fastbp.training.split.MIN_STEP_MACS``, is where ``blas2/split`` crosses 1
(see the README). Nothing here asserts a time.
"""

import argparse
import os
import statistics
import time
import warnings

#: Seconds between two fits (see above).
PAUSE = 0.3

CASES = {
    "mnist": [((256, 128), 32), ((256, 128), 200), ((256, 128), 1024), ((512, 256), 32)],
    "tabular": [((64,), 32), ((64,), 200), ((128,), 200), ((256,), 32), ((256,), 200),
                ((128,), 1000)],
}


def _data(name, dtype, n_rows):
    """(X, y) of a workload: real MNIST (FASTBP_DATA_DIR), the suite's
    tabular data, or with ``n_rows`` a leading subset."""
    from bench import workloads

    wl = workloads.mnist() if name == "mnist" else workloads.tabular(n_rows or 10000)
    data = workloads.load_uncached(wl, dtype)
    X, y = data.X_train, data.y_train
    if n_rows:
        X, y = X[:n_rows], y[:n_rows]
    return X, y


def _epochs_ms(X, y, hidden, batch_size, epochs, mode):
    from threadpoolctl import threadpool_limits

    from bench import peers
    from fastbp import MLPClassifier
    from fastbp.training import split

    os.environ["FASTBP_SPLIT"] = "off" if mode == "blas2" else "auto"
    saved = split.MIN_STEP_MACS
    split.MIN_STEP_MACS = 0
    try:
        with threadpool_limits(1 if mode == "blas1" else 2, user_api="blas"):
            model = MLPClassifier(**peers.estimator_params(peers.TrainSpec(hidden, batch_size)),
                                  max_iter=epochs, tol=0, n_iter_no_change=10**9)
            model.fit(X, y)
    finally:
        split.MIN_STEP_MACS = saved
        os.environ.pop("FASTBP_SPLIT", None)
    times = list(model.history_["epoch_time"])
    return [t * 1e3 for t in (times[1:] or times)]


def run_case(X, y, hidden, batch_size, epochs, rounds):
    """Median ms per epoch of each mode over ``rounds`` alternating rounds."""
    modes = ("split", "blas2", "blas1")
    for mode in modes:  # compile or load every kernel before timing
        _epochs_ms(X[:4 * batch_size], y[:4 * batch_size], hidden, batch_size, 1, mode)
    got = {m: [] for m in modes}
    for _ in range(rounds):
        for mode in modes:
            time.sleep(PAUSE)
            got[mode] += _epochs_ms(X, y, hidden, batch_size, epochs, mode)
    return {m: statistics.median(v) for m, v in got.items()}


def default_parts(hidden, batch_size, n_features, n_classes, n_rows):
    """What fastbp decides for this case at 2 BLAS threads on this machine."""
    from threadpoolctl import threadpool_limits

    from fastbp.training import split
    from fastbp.training.backend import get_backend

    sizes = [n_features, *hidden, n_classes]
    n_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    with threadpool_limits(2, user_api="blas"):
        parts = split.split_parts(get_backend("cpu"), False, False, batch_size, n_rows, n_weights)
    return parts, min(batch_size, n_rows) * n_weights


def _parse_case(text):
    """``"512x256/32"`` -> ``((512, 256), 32)``."""
    hidden, batch = text.strip().split("/")
    return tuple(int(h) for h in hidden.split("x")), int(batch)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.split",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="tabular,mnist")
    # helper-153: any other name ran float64 under that name.
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=0,
                    help="train on this many leading rows (0: all)")
    ap.add_argument("--cases", default="",
                    help="these instead of the workload's own, e.g. 256x128/32,64/200 "
                         "(hidden/batch)")
    args = ap.parse_args(argv)
    from bench.report import environment_header, script_environment

    # The figures the README quotes must be placeable: machine, versions, commit.
    print(environment_header(script_environment()), flush=True)
    only = [_parse_case(c) for c in args.cases.split(",") if c.strip()]
    warnings.simplefilter("ignore")  # fixed-length fits never converge: by design
    print(f"{'workload':<8} {'hidden':<9} {'batch':>5} {'MACs/step':>10} {'default':>7} "
          f"{'split':>9} {'blas2':>9} {'blas1':>9} {'blas2/split':>11} {'blas1/split':>11}")
    for name in args.workloads.split(","):
        X, y = _data(name, args.dtype, args.rows)
        for hidden, batch_size in only or CASES[name]:
            parts, macs = default_parts(hidden, batch_size, X.shape[1], len(set(y.tolist())),
                                        len(y))
            ms = run_case(X, y, hidden, batch_size, args.epochs, args.rounds)
            print(f"{name:<8} {'x'.join(map(str, hidden)):<9} {batch_size:>5} {macs:>10.3g} "
                  f"{'split' if parts > 1 else 'whole':>7} {ms['split']:>7.2f}ms "
                  f"{ms['blas2']:>7.2f}ms {ms['blas1']:>7.2f}ms "
                  f"{ms['blas2'] / ms['split']:>10.2f}x {ms['blas1'] / ms['split']:>10.2f}x",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
