"""Inference benchmark: ``predict_proba`` (or ``--method predict``) of one
trained model, fastbp against scikit-learn, on 1, 100 and 20,000 rows (and
more with ``--rows``).

``python -m bench.inference`` trains the tabular workload's model
(20 -> 64 -> 4) with fastbp, hands the same weights to scikit-learn
(``to_sklearn``), and times both systems' ``--method`` on the same rows.
Each system runs in a child process of its own, with every thread pool at
``--threads`` (BLAS pools keep spinning after a call, so two systems in one
process would slow each other down). The systems alternate over
``--rounds`` rounds, each round running fastbp's child then
scikit-learn's (A B A B ...), so a drift of a shared machine hits both.
In a child, a time is the best of ``--repeats`` timings of the per-call
mean over enough calls to last about ``--budget`` seconds; each round
gives a ratio, scikit-learn's time over fastbp's, and the table shows the
median of the rounds' ratios (with their range) and of each system's
times.

The tabular model (20 -> 64 -> 4) is the default case; ``--workload mnist`` times the MNIST
model (784 -> 256 -> 128 -> 10) instead, its data from ``FASTBP_DATA_DIR``.

Nothing here asserts on a time; ``bench/test_inference.py`` checks the
structure only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("fastbp", "sklearn")


def _model(workload, dtype, epochs):
    """The workload's rows and a fastbp model trained on them (deterministic)."""
    import warnings

    import numpy as np

    from bench import workloads
    from fastbp import MLPClassifier

    wl = workloads.tabular() if workload == "tabular" else workloads.mnist(n_train=10000)
    data = workloads.load_uncached(wl, dtype)
    X = np.ascontiguousarray(data.X_train)
    model = MLPClassifier(wl.hidden, max_iter=epochs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, data.y_train)
    return X, model


def _time_calls(fn, budget, repeats):
    fn()
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(budget / once))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best, calls


def worker(system, workload, dtype, rows, threads, budget, repeats, epochs,
           method="predict_proba"):
    """Seconds per ``method`` call for each row count (child process)."""
    import numpy as np

    from bench.threads import limit_threads

    X, model = _model(workload, dtype, epochs)
    if system == "sklearn":
        model = model.to_sklearn()
    results = {}
    predict = getattr(model, method)
    with limit_threads(threads):
        for n in rows:
            reps = -(-n // X.shape[0])
            Xn = np.ascontiguousarray(np.concatenate([X] * reps)[:n])
            seconds, calls = _time_calls(lambda: predict(Xn), budget, repeats)
            results[str(n)] = {"seconds": seconds, "calls": calls}
    return results


def _run_worker(system, args):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, "-m", "bench.inference", "--worker", system,
           "--workload", args.workload, "--dtype", args.dtype,
           "--rows", ",".join(map(str, args.rows)), "--threads", str(args.threads),
           "--budget", str(args.budget), "--repeats", str(args.repeats),
           "--epochs", str(args.epochs), "--method", args.method]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    # helper-153: check=True raised CalledProcessError with the child's
    # stderr, and so its reason (MNIST missing, an import error), thrown away.
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{system} child failed (rc={proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(args):
    """Alternating rounds of the children (see the module doc).

    Returns ``{system: {rows: {"seconds", "calls", "rounds"}}}`` (seconds:
    the median over the rounds; rounds: each round's seconds), the median
    ratio per row count and each round's ratios.
    """
    runs = {system: [] for system in SYSTEMS}
    for _ in range(args.rounds):
        for system in SYSTEMS:
            runs[system].append(_run_worker(system, args))
    results = {system: {n: {"seconds": statistics.median(r[n]["seconds"] for r in rounds),
                            "calls": rounds[-1][n]["calls"],
                            "rounds": [r[n]["seconds"] for r in rounds]}
                        for n in rounds[0]}
               for system, rounds in runs.items()}
    from bench.timing import round_ratios

    pairs = {n: round_ratios(results["sklearn"][n]["rounds"], results["fastbp"][n]["rounds"])
             for n in results["fastbp"]}
    return results, {n: p[0] for n, p in pairs.items()}, {n: p[1] for n, p in pairs.items()}


def render(args, results, ratios, round_ratios):
    lines = [f"{args.method}, {args.workload} model, {args.dtype}, {args.threads} thread(s), "
             f"medians of {args.rounds} alternating round(s), each the best of {args.repeats}:",
             "", "| rows | fastbp | scikit-learn | ratio | rounds' ratios |",
             "|---|---|---|---|---|"]
    for n, ratio in ratios.items():
        f, s = results["fastbp"][n]["seconds"], results["sklearn"][n]["seconds"]
        low, high = min(round_ratios[n]), max(round_ratios[n])
        lines.append(f"| {int(n):,} | {_fmt(f)} | {_fmt(s)} | {ratio:.2f}x | "
                     f"{low:.2f}-{high:.2f}x |")
    return "\n".join(lines)


def _fmt(seconds):
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.inference",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("tabular", "mnist"), default="tabular")
    # helper-153: any other name ran a float64 model under that name.
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--rows", type=lambda s: [int(v) for v in s.split(",")],
                    default=[1, 100, 20000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=0.2,
                    help="seconds per timed round and row count")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timings per row count in a child; its time is the best")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating rounds, each running every system's child once")
    ap.add_argument("--epochs", type=int, default=5, help="training epochs of the model")
    ap.add_argument("--method", choices=("predict_proba", "predict"),
                    default="predict_proba", help="the prediction method timed")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for name in ("rounds", "repeats", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    # helper-153: 0 rows failed in the child with "need at least one array
    # to concatenate".
    for n in args.rows:
        if n < 1:
            ap.error(f"--rows must be at least 1 each, got {n}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.workload, args.dtype, args.rows,
                                args.threads, args.budget, args.repeats, args.epochs,
                                args.method)))
        return 0
    from bench.report import _loadavg, environment_header, script_environment

    env = script_environment()
    results, ratios, round_ratios = measure(args)
    env["loadavg_end"] = _loadavg()
    print(environment_header(env))
    print(render(args, results, ratios, round_ratios))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items()
                                                  if k not in ("json", "worker")},
                                         "environment": env,
                                         "results": results, "ratios": ratios,
                                         "round_ratios": round_ratios}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
