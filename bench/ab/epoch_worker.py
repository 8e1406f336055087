"""Persistent worker: one per commit, started with cwd = that commit's worktree.

Loads the data once, does warm-up fits, then answers JSON-line requests on
stdin ({"case": name} -> one fit, reply with history_["epoch_time"]) on
stdout. Run as: cd WORKTREE && python bench/ab/epoch_worker.py
(sys.path[0] is then this directory, so the worktree is put first explicitly).
"""

import gc
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.getcwd())  # the worktree's fastbp, not /work/main's

import numpy as np  # noqa: E402

import fastbp  # noqa: E402
from fastbp.datasets import load_mnist, make_tabular  # noqa: E402

CASES = {
    # name: (data, hidden, batch, max_iter)
    "tabular_b32": ("tabular", (64,), 32, 6),
    "tabular_b200": ("tabular", (64,), 200, 6),
    "tabular_b1024": ("tabular", (64,), 1024, 6),
    # extra (diagnostic): 20 epochs
    "tabular_b32_e20": ("tabular", (64,), 32, 20),
    "tabular_b200_e20": ("tabular", (64,), 200, 20),
    "tabular_b1024_e20": ("tabular", (64,), 1024, 20),
    # float64 (the tabular data in float64)
    "tabular_b32_f64": ("tabular_f64", (64,), 32, 6),
    "tabular_b200_f64": ("tabular_f64", (64,), 200, 6),
    "mnist_b32": ("mnist", (256, 128), 32, 3),
    "mnist_b200": ("mnist", (256, 128), 200, 3),
    "mnist_b1024": ("mnist", (256, 128), 1024, 3),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fit(data, hidden, batch, max_iter):
    X, y = data
    est = fastbp.MLPClassifier(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3,
                               alpha=1e-4, batch_size=batch, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, y)
        wall = time.perf_counter() - t0
    return est, wall


def main():
    import numba
    import threadpoolctl

    datasets = {}
    datasets["tabular"] = make_tabular(n_samples=10000, n_features=20, n_classes=4,
                                       random_state=0, dtype=np.float32)
    datasets["tabular_f64"] = make_tabular(n_samples=10000, n_features=20, n_classes=4,
                                           random_state=0, dtype=np.float64)
    Xtr, ytr, _, _ = load_mnist(dtype=np.float32)
    datasets["mnist"] = (Xtr, ytr)
    assert Xtr.shape == (60000, 784) and Xtr.dtype == np.float32
    assert 0 <= Xtr.min() and Xtr.max() <= 1
    # warm-up fits (compilation, first touch), untimed
    fit(datasets["tabular"], (64,), 200, 1)
    fit(datasets["tabular_f64"], (64,), 200, 1)
    fit(datasets["mnist"], (256, 128), 200, 1)
    reply({"ready": True, "file": fastbp.__file__, "numba_threads": numba.config.NUMBA_NUM_THREADS,
           "blas": [(i["internal_api"], i["num_threads"])
                    for i in threadpoolctl.threadpool_info()]})
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        name, hidden, batch, max_iter = req["case"], *CASES[req["case"]][1:]
        gc.collect()
        est, wall = fit(datasets[CASES[name][0]], hidden, batch, max_iter)
        et = [float(t) for t in est.history_["epoch_time"]]
        reply({"case": name, "epoch_time": et, "fit_wall": wall, "n_iter": int(est.n_iter_),
               "loss": float(est.loss_)})


if __name__ == "__main__":
    main()
