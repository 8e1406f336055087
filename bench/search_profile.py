"""Profiles behind the search goals: where a cold compile goes, what a new
worker process pays before its first fit, and how much of a search holds
the GIL.

``python -m bench.search_profile`` prints three sections, each measured in
fresh child processes:

* ``compile`` -- a first fit and predict of ``MLPClassifier()`` on digits
  with an empty ``NUMBA_CACHE_DIR``: seconds per compiled function,
  exclusive of the functions it compiled in turn, split into LLVM (Numba's
  ``numba:llvm_lock`` events) and Numba's own front end (typing, lowering);
* ``worker`` -- what a fresh process (a loky, Dask or Ray worker) pays
  before its first fit with a warm cache: importing scikit-learn, then
  fastbp, then loading the kernels;
* ``threads`` -- a sequential search's share of time outside the kernels
  (GIL held), and the speed-up of two threads each fitting the same model
  over one thread, inside ``threadpool_limits(1)``, and of two forked
  processes (no GIL shared);
* ``refit`` -- the README grid in one warm process, sequential and on two
  threads (``threadpool_limits(1)``), each fit logged: the speed-up of the
  cross-validation phase (everything before the refit), and the share of
  the threaded search that GridSearchCV's final refit, which runs alone,
  takes;
* ``peak`` -- the README grid's matrix-product FLOPs (``bench.flops``, per
  epoch actually run), the rate a sequential search reaches, the
  one-thread float64 GEMM peak on the grid's shapes (``bench.gemm_peak``),
  and the rate that 5x a given scikit-learn time would need.

Nothing here asserts; numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

COMPILE = """
import collections, time, warnings
warnings.simplefilter("ignore")
from numba.core import event
import fastbp
from sklearn.datasets import load_digits

class Recorder(event.Listener):
    def __init__(self):
        self.events = []
    def on_start(self, ev):
        self.events.append((time.perf_counter(), ev))
    def on_end(self, ev):
        self.events.append((time.perf_counter(), ev))

X, y = load_digits(return_X_y=True)
X = (X / 16).astype({dtype!r})
rec = Recorder()
with event.install_listener("numba:compile", rec), event.install_listener("numba:llvm_lock", rec):
    t0 = time.perf_counter(); c0 = time.process_time()
    fastbp.MLPClassifier(max_iter=2, random_state=0).fit(X, y).predict(X)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
stack, llvm_start = [], None
excl, llvm, count = collections.Counter(), collections.Counter(), collections.Counter()
for ts, ev in rec.events:
    if ev.kind == "numba:compile":
        name = ev.data["dispatcher"].py_func.__qualname__
        if ev.is_start:
            stack.append([name, ts, 0.0])
        else:
            name, start, children = stack.pop()
            excl[name] += ts - start - children
            count[name] += 1
            if stack:
                stack[-1][2] += ts - start
    elif ev.is_start:
        llvm_start = ts
    elif stack:
        llvm[stack[-1][0]] += ts - llvm_start
print(f"first fit + predict, {dtype}, empty cache: {{wall:.2f}} s wall, {{cpu:.2f}} s CPU; "
      f"{{sum(count.values())}} compiles, LLVM {{sum(llvm.values()):.2f}} s, "
      f"front end {{sum(excl.values()) - sum(llvm.values()):.2f}} s")
print(f"{{'function':34s}} {{'n':>3s}} {{'excl s':>7s}} {{'llvm s':>7s}} {{'front s':>7s}}")
for name in sorted(excl, key=excl.get, reverse=True)[:{top}]:
    print(f"{{name:34s}} {{count[name]:3d}} {{excl[name]:7.2f}} {{llvm[name]:7.2f}} "
          f"{{excl[name] - llvm[name]:7.2f}}")
"""

WORKER = """
import time
t0 = time.perf_counter()
import sklearn.neural_network, sklearn.pipeline, sklearn.preprocessing, sklearn.model_selection
t1 = time.perf_counter()
import fastbp
t2 = time.perf_counter()
import warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
def fit():
    t = time.perf_counter()
    fastbp.MLPClassifier(max_iter=5, random_state=0).fit(X, y).score(X, y)
    return time.perf_counter() - t
first, second = fit(), fit()
print(f"import scikit-learn {t1 - t0:.2f} s; then fastbp {t2 - t1:.2f} s; first fit + score "
      f"{first:.2f} s, the same again {second:.2f} s: loading the kernels {first - second:.2f} s")
"""

# The README grid on digits, shared by the sections below (no braces: the
# sections after it are formatted with str.format).
README_GRID = """
import threading, time, warnings
warnings.simplefilter("ignore")
from threadpoolctl import threadpool_limits
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from fastbp import MLPClassifier

X, y = load_digits(return_X_y=True)
X, _, y, _ = train_test_split(X, y, random_state=0)
grid = dict(mlpclassifier__hidden_layer_sizes=[(64,), (128, 64)],
            mlpclassifier__alpha=[1e-4, 1e-2])
"""

THREADS = README_GRID + """
from fastbp.kernels import lean
from fastbp.kernels.codes import OUT_SOFTMAX

softmax = lean.for_output(OUT_SOFTMAX)  # digits: ten classes

def search():
    GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=100, random_state=0)),
                 grid).fit(X, y)

with threadpool_limits(1):
    search()
    inside = [0.0]
    kernels = {{name: getattr(softmax, name) for name in ("train_epoch", "predict")}}
    for name, kernel in kernels.items():
        def timed(*args, _kernel=kernel):
            t = time.perf_counter()
            out = _kernel(*args)
            inside[0] += time.perf_counter() - t
            return out
        setattr(softmax, name, timed)
    t0 = time.perf_counter()
    search()
    total = time.perf_counter() - t0
    for name, kernel in kernels.items():
        setattr(softmax, name, kernel)
    print(f"README grid, sequential: {{total:.2f}} s, {{inside[0]:.2f}} s in kernels (GIL "
          f"released): {{1 - inside[0] / total:.0%}} of the search holds the GIL")

    def fits(n):
        model = MLPClassifier((64,), max_iter=100, random_state=0)
        for _ in range(n):
            model.fit(X, y)

    def together(workers):
        # Seconds from starting the workers to the last one's end.
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.perf_counter() - t0

    fits(1)
    t0 = time.perf_counter(); fits({n}); one = time.perf_counter() - t0
    # The same in two forked processes (kernels loaded, no GIL shared):
    # what the cores give when nothing else is shared.
    import multiprocessing
    procs = [multiprocessing.get_context("fork").Process(target=fits, args=({n},))
             for _ in range(2)]
    forked = together(procs)
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"a forked process's fits failed: exit codes {{[p.exitcode for p in procs]}}")
    two = together([threading.Thread(target=fits, args=({n},)) for _ in range(2)])
    print(f"{n} fits in one thread {{one:.2f}} s; {n} in each of two threads {{two:.2f}} s: "
          f"speed-up {{2 * one / two:.2f}}x; {n} in each of two processes {{forked:.2f}} s: "
          f"speed-up {{2 * one / forked:.2f}}x")
"""


REFIT = README_GRID + """
from joblib import parallel_backend

log = []
fit = MLPClassifier.fit

def logged_fit(self, X, y, **kw):
    t = time.perf_counter()
    out = fit(self, X, y, **kw)
    log.append((t, time.perf_counter()))
    return out

MLPClassifier.fit = logged_fit

def search(n_jobs):
    log.clear()
    s = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=100, random_state=0)),
                     grid, n_jobs=n_jobs)
    t0 = time.perf_counter()
    s.fit(X, y)
    return t0, time.perf_counter(), list(log)

with threadpool_limits(1), parallel_backend("threading"):
    search(1)
    t0, t1, seq = search(1)
    u0, u1, par = search(2)
# The last fit logged is the refit on all the data, after every fold.
cv_seq = seq[-1][0] - t0
cv_par = par[-1][0] - u0
refit = par[-1][1] - par[-1][0]
print(f"README grid, warm process: sequential {{t1 - t0:.2f}} s, two threads {{u1 - u0:.2f}} s "
      f"(speed-up {{(t1 - t0) / (u1 - u0):.2f}}x); the cross-validation phase (everything "
      f"before the refit: {{len(par) - 1}} fits, scaling, scoring) {{cv_seq:.2f}} s against "
      f"{{cv_par:.2f}} s ({{cv_seq / cv_par:.2f}}x); the refit's fit, alone on one core, "
      f"{{refit:.2f}} s = {{refit / (u1 - u0):.0%}} of the threaded search")
"""


PEAK = README_GRID + """
from bench import gemm_peak
from bench.flops import epoch_flops, layer_sizes

flops = []

sizes_seen = set()

class Counting(MLPClassifier):
    def fit(self, X, y):
        super().fit(X, y)
        sizes = layer_sizes(X.shape[1], self.hidden_layer_sizes, len(self.classes_))
        sizes_seen.add(tuple(sizes))
        flops.append(epoch_flops(X.shape[0], sizes)["total"] * self.n_iter_)
        return self

grid = {k.replace("mlpclassifier__", "counting__"): v for k, v in grid.items()}
with threadpool_limits(1):
    search = GridSearchCV(make_pipeline(StandardScaler(), Counting(max_iter=100, random_state=0)),
                          grid)
    search.fit(X, y)
    flops.clear()
    t0 = time.perf_counter()
    search.fit(X, y)
    seconds = time.perf_counter() - t0
    best = 1e9 * max(gemm_peak.measure(len(X), 200, list(sizes), "float64", 1)["peak_gflops"]
                     for sizes in sizes_seen)
total = sum(flops)
print(f"README grid, sequential, float64: {len(flops)} fits, {total / 1e9:.1f} GFLOP of products "
      f"in {seconds:.2f} s = {total / seconds / 1e9:.1f} GFLOP/s, {total / seconds / best:.2f} of "
      f"the best one-thread float64 GEMM rate ({best / 1e9:.1f} GFLOP/s); 5x a scikit-learn "
      f"search of T s needs {total / 1e9 * 5:.0f}/T GFLOP/s from both cores "
      f"(two cores' GEMM peak {2 * best / 1e9:.0f})")
"""


def run(code: str, env: dict | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT,
                          env=dict(os.environ, **(env or {})), capture_output=True,
                          text=True, timeout=1200)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout.strip()


#: Names of ``--sections``, in the order they run.
SECTIONS = ("compile", "worker", "threads", "refit", "peak")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated, of: {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--top", type=int, default=15, help="functions listed in 'compile'")
    ap.add_argument("--fits", type=int, default=12, help="fits per thread in 'threads'")
    args = ap.parse_args(argv)
    sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    # rev-290: a misspelt name ran nothing and exited 0.
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown or not sections:
        ap.error(f"--sections: unknown section(s) {', '.join(map(repr, unknown))} (choose "
                 f"from {', '.join(SECTIONS)})" if unknown else "--sections: no section named")
    from bench.report import environment_header, script_environment

    # The figures the README quotes must be placeable: machine, versions, commit.
    print(environment_header(script_environment()), "\n", flush=True)
    if "compile" in sections:
        with tempfile.TemporaryDirectory() as cache:
            print(run(COMPILE.format(dtype=args.dtype, top=args.top),
                      {"NUMBA_CACHE_DIR": cache}), "\n")
    if "worker" in sections:
        print(run(WORKER), "\n")
    if "threads" in sections:
        print(run(THREADS.format(n=args.fits)), "\n")
    if "refit" in sections:
        print(run(REFIT.format()), "\n")
    if "peak" in sections:
        print(run(PEAK))
    return 0


if __name__ == "__main__":
    sys.exit(main())
