"""Time from Ctrl-C (SIGINT) to the return of ``fit``, on real MNIST.

Usage (from a checkout or worktree; MNIST from ``$FASTBP_DATA_DIR``)::

    python bench/interrupt_latency.py 200     # batch size

Five fits of (256, 128) are interrupted 1.3-4.5 s after they start; prints
the latency of each (ms), the epochs completed, and whether the counters
agree with the optimizer's step count. An interrupt within the first epoch
undoes the fit as a whole (the model stays unfitted, and the
``KeyboardInterrupt`` goes on): reported as ``"rolled back"``, consistent
where the model holds no fitted state.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import warnings


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python bench/interrupt_latency.py",
                                 description=__doc__.split("\n\n")[0],
                                 epilog="Run it from the root of the checkout to measure: "
                                        "its fastbp is the one imported.")
    ap.add_argument("batch_size", type=int, help="batch size of the interrupted fits")
    bs = ap.parse_args(argv).batch_size
    if bs < 1:
        ap.error(f"batch_size must be at least 1, got {bs}")

    # The fastbp of the checkout this runs from (a worktree's, when comparing).
    sys.path.insert(0, os.getcwd())
    import fastbp
    from fastbp.datasets import load_mnist

    assert fastbp.__file__.startswith(os.getcwd())
    Xtr, ytr, _, _ = load_mnist()
    kw = dict(hidden_layer_sizes=(256, 128), batch_size=bs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastbp.MLPClassifier(max_iter=1, **kw).fit(Xtr[:2000], ytr[:2000])   # compile
    out = []
    for delay in (1.3, 2.1, 2.9, 3.7, 4.5):
        est = fastbp.MLPClassifier(max_iter=1000, n_iter_no_change=10**6, **kw)
        sent = {}

        def fire(delay=delay, sent=sent):
            time.sleep(delay)
            sent["t"] = time.perf_counter()
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=fire, daemon=True).start()
        rolled_back = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.fit(Xtr, ytr)
            except KeyboardInterrupt:
                rolled_back = True
        lat = time.perf_counter() - sent["t"]
        if rolled_back:
            ok, consistent = "rolled back", not hasattr(est, "coefs_")
        else:
            ok = getattr(est, "n_iter_", None)
            consistent = (hasattr(est, "loss_curve_") and len(est.loss_curve_) == est.n_iter_
                          and est._optimizer.t == est.n_iter_ * -(-len(Xtr) // bs))
        out.append((round(lat * 1e3, 1), ok, consistent))
    print(json.dumps({"batch": bs, "runs [latency ms, n_iter_, consistent]": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
