"""Cost of one ``partial_fit`` call on a small batch, early and late in a
long stream of calls: fastbp against scikit-learn.

``python -m bench.partial_fit`` streams batches of the tabular workload's
shape (20 features, 4 classes, (64,) hidden, float32, batch 32 rows) into
both estimators and prints the microseconds per call after 100 calls and
after ``--warm`` more, with the time of the compiled epoch alone, measured
inside the same calls. A call whose cost grows with the calls before it
shows as a larger late figure. Where PyTorch is installed, it also times
PyTorch's eager training step on the same batch as a peer: the same
network from the same initial weights (scikit-learn's Glorot draws),
``Adam`` at the same learning rate with scikit-learn's L2 penalty
(``alpha / n_batch`` as weight decay of the weights) and epsilon
placement, the replica of :class:`bench.peers.TorchRunner` with the batch
as its one mini-batch (forward, loss, backward, step); it validates
nothing, keeps no history and cannot roll a failed step back.

Each timing is ``--rounds`` rounds in which the systems take turns of
``--calls`` calls (A B C A B C ...); a figure is a system's median per-call
time over the rounds, a ratio the median of the rounds' ratios. Every
thread pool (BLAS through threadpoolctl, Numba, PyTorch) runs at
``--threads``, 1 by default. Nothing here asserts.
"""

import argparse
import functools
import statistics
import time
import warnings

import numpy as np


def _stream(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, 20)).astype(np.float32)
    y = (np.arange(n_rows) % 4)
    return X, y


def alternate(turns, calls, rounds):
    """Seconds per call of each turn, round by round.

    ``turns`` maps a system's name to one call of it. In every round each
    system makes ``calls`` calls back to back, the systems in turn (A B C
    A B C ...), so a drift of a shared machine hits them all.

    Returns
    -------
    dict
        ``{name: [seconds per call in each round]}``.
    """
    times = {name: [] for name in turns}
    for _ in range(rounds):
        for name, call in turns.items():
            tic = time.perf_counter()
            for _ in range(calls):
                call()
            times[name].append((time.perf_counter() - tic) / calls)
    return times


def _medians(times):
    """Each system's median seconds per call, and the median of each peer's
    per-round ratio to fastbp (peer / fastbp)."""
    from bench.timing import round_ratios

    out = {name: statistics.median(t) for name, t in times.items()}
    ratios = {name: round_ratios(t, times["fastbp"])[0]
              for name, t in times.items() if name != "fastbp"}
    return out, ratios


def measure(batch=32, calls=200, warm=5000, rounds=5, threads=1):
    """``{"early": (seconds, ratios), "late": (seconds, ratios),
    "fastbp epoch_time": s}``: each system's median seconds per call over
    ``rounds`` alternating rounds after 100 calls and after ``warm`` more,
    each peer's median per-round ratio to fastbp, and fastbp's compiled
    epoch time per call in the late rounds (``history_["epoch_time"]``
    includes the epoch's Python bookkeeping, so this is an upper bound of
    the kernel's time). Every thread pool (BLAS, Numba, PyTorch) runs at
    ``threads``."""
    import fastbp
    from sklearn.neural_network import MLPClassifier as SkMLP

    from bench.threads import limit_threads, torch_available

    X, y = _stream(batch)
    classes = np.arange(4)
    # helper-77: the estimators ran at the environment's BLAS pool unless the
    # user limited it; every library's pools are set here, torch's included.
    with limit_threads(threads, torch=torch_available() or None), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ests = {name: cls((64,), random_state=0, batch_size=batch)
                for name, cls in (("fastbp", fastbp.MLPClassifier), ("scikit-learn", SkMLP))}
        turns = {}
        for name, est in ests.items():
            est.partial_fit(X, y, classes=classes)
            turns[name] = functools.partial(est.partial_fit, X, y)
        step = _torch_step(X, y, batch)
        if step is not None:
            turns["PyTorch step"] = step
        for call in turns.values():
            for _ in range(100):
                call()
        early = _medians(alternate(turns, calls, rounds))
        for call in turns.values():
            for _ in range(warm):
                call()
        late = _medians(alternate(turns, calls, rounds))
    epoch_time = float(np.min(ests["fastbp"].history_["epoch_time"][-rounds * calls:]))
    return {"early": early, "late": late, "fastbp epoch_time": epoch_time}


def _torch_runner(X, y, batch):
    """PyTorch's replica of the estimators' training on ``(X, y)``, set up
    to take one Adam step per ``epoch()``, or None without PyTorch.

    helper-153: the step was PyTorch's defaults (its own initial weights, no
    L2 penalty), not the network the estimators train.
    """
    from bench.peers import TorchRunner, TrainSpec
    from bench.threads import torch_available

    if not torch_available():
        return None
    # Estimators' defaults: alpha 1e-4, lr 1e-3, random_state 0. One batch
    # per step, so shuffling it would only reorder its rows.
    spec = TrainSpec(hidden=(64,), batch_size=batch, random_state=0, shuffle=False)
    return TorchRunner(spec, fused=False, label="PyTorch step").prepare(X, y, np.arange(4))


def _torch_step(X, y, batch=None):
    """One PyTorch training step on ``(X, y)`` as a callable, or None
    without PyTorch."""
    runner = _torch_runner(X, y, batch or len(X))
    return None if runner is None else runner.epoch


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.partial_fit",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--calls", type=int, default=200, help="calls per system per round")
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternating rounds of each timing (medians over them)")
    ap.add_argument("--warm", type=int, default=5000,
                    help="calls between the early and the late timing")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of every pool: BLAS, Numba and PyTorch (default 1)")
    args = ap.parse_args(argv)
    for name in ("batch", "calls", "rounds", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warm < 0:
        ap.error(f"--warm must be at least 0, got {args.warm}")
    from bench.report import _loadavg, environment_header, script_environment

    env = script_environment()
    res = measure(args.batch, args.calls, args.warm, args.rounds, args.threads)
    env["loadavg_end"] = _loadavg()
    print(environment_header(env))
    (early, early_ratio), (late, late_ratio) = res["early"], res["late"]
    print(f"partial_fit, {args.batch} rows x 20 features, (64,) hidden, 4 classes, float32, "
          f"{args.threads} thread(s); medians of {args.rounds} alternating rounds of "
          f"{args.calls} calls, ratios per round")
    print(f"  after 100 calls:            fastbp {early['fastbp'] * 1e6:7.1f} us   scikit-learn "
          f"{early['scikit-learn'] * 1e6:7.1f} us   ratio {early_ratio['scikit-learn']:5.2f}x")
    print(f"  after {101 + args.rounds * args.calls + args.warm:,} calls:  fastbp "
          f"{late['fastbp'] * 1e6:7.1f} us   scikit-learn {late['scikit-learn'] * 1e6:7.1f} us   "
          f"ratio {late_ratio['scikit-learn']:5.2f}x")
    if "PyTorch step" in early:
        print(f"  PyTorch's eager step (peer): {early['PyTorch step'] * 1e6:7.1f} us after 100 "
              f"steps, {late['PyTorch step'] * 1e6:7.1f} us later; ratio PyTorch/fastbp "
              f"{early_ratio['PyTorch step']:5.2f}x, {late_ratio['PyTorch step']:5.2f}x")
    else:
        # rev-290: the row vanished without a word, as if it had never existed.
        print("  PyTorch step: skipped (PyTorch is not installed)")
    print(f"  fastbp's epoch inside a call (history_['epoch_time'], best): "
          f"{res['fastbp epoch_time'] * 1e6:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
