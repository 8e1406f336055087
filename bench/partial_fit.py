"""Cost of one ``partial_fit`` call on a small batch, early and late in a
long stream of calls: fastbp against scikit-learn.

``python -m bench.partial_fit`` streams batches of the tabular workload's
shape (20 features, 4 classes, (64,) hidden, float32, batch 32 rows) into
both estimators and prints the microseconds per call (best of 5 timings of
``--calls`` calls) after 100 calls and after ``--warm`` more, with the
time of the compiled epoch alone, measured inside the same calls. A call
whose cost grows with the calls before it shows as a larger late figure.
Where PyTorch is installed, it also times PyTorch's eager training step on
the same batch as a peer: the same network, ``Adam`` at the same learning
rate, one thread, the batch taken from NumPy (``torch.from_numpy``), then forward, loss,
backward, step and ``zero_grad``; it validates nothing, keeps no history and
cannot roll a failed step back. Nothing here asserts.
"""

import argparse
import time
import warnings

import numpy as np


def _stream(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, 20)).astype(np.float32)
    y = (np.arange(n_rows) % 4)
    return X, y


def _time_calls(est, X, y, calls, repeats=5):
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            est.partial_fit(X, y)
        best = min(best, (time.perf_counter() - tic) / calls)
    return best


def measure(batch=32, calls=200, warm=5000):
    """``{system: (early_s, late_s)}`` per call, and fastbp's compiled
    epoch time per call (``history_["epoch_time"]`` includes the epoch's
    Python bookkeeping, so this is an upper bound of the kernel's time)."""
    import fastbp
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = _stream(batch)
    classes = np.arange(4)
    out = {}
    for name, cls in (("fastbp", fastbp.MLPClassifier), ("scikit-learn", SkMLP)):
        est = cls((64,), random_state=0, batch_size=batch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.partial_fit(X, y, classes=classes)
            for _ in range(100):
                est.partial_fit(X, y)
            early = _time_calls(est, X, y, calls)
            for _ in range(warm):
                est.partial_fit(X, y)
            late = _time_calls(est, X, y, calls)
        out[name] = (early, late)
        if name == "fastbp":
            out["fastbp epoch_time"] = float(np.min(est.history_["epoch_time"][-calls:]))
    step = _torch_step(X, y)
    if step is not None:
        for _ in range(100):
            step()
        early = _time_steps(step, calls)
        for _ in range(warm):
            step()
        out["PyTorch step"] = (early, _time_steps(step, calls))
    return out


def _torch_step(X, y):
    """One PyTorch training step on ``(X, y)`` as a callable, or None
    without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    # One thread, as the README's command runs fastbp: a step this small
    # gains nothing from more.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        xb, yb = torch.from_numpy(X), torch.from_numpy(y)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _time_steps(step, calls, repeats=5):
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            step()
        best = min(best, (time.perf_counter() - tic) / calls)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.partial_fit",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--warm", type=int, default=5000,
                    help="calls between the early and the late timing")
    args = ap.parse_args(argv)
    res = measure(args.batch, args.calls, args.warm)
    f_early, f_late = res["fastbp"]
    s_early, s_late = res["scikit-learn"]
    print(f"partial_fit, {args.batch} rows x 20 features, (64,) hidden, 4 classes, float32")
    print(f"  after 100 calls:            fastbp {f_early * 1e6:7.1f} us   scikit-learn "
          f"{s_early * 1e6:7.1f} us   ratio {s_early / f_early:5.2f}x")
    print(f"  after {101 + 5 * args.calls + args.warm:,} calls:  fastbp {f_late * 1e6:7.1f} us   "
          f"scikit-learn {s_late * 1e6:7.1f} us   ratio {s_late / f_late:5.2f}x")
    if "PyTorch step" in res:
        t_early, t_late = res["PyTorch step"]
        print(f"  PyTorch's eager step (peer): {t_early * 1e6:7.1f} us after 100 steps, "
              f"{t_late * 1e6:7.1f} us later; ratio PyTorch/fastbp {t_early / f_early:5.2f}x, "
              f"{t_late / f_late:5.2f}x")
    print(f"  fastbp's epoch inside a call (history_['epoch_time'], best): "
          f"{res['fastbp epoch_time'] * 1e6:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
