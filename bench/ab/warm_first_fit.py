"""What a process's first fit and first predict cost beyond identical second
ones, with a warm compile cache, at two commits, interleaved.

That difference is loading the compiled kernels from Numba's disk cache
(and whatever Numba imports to do so), which every new process pays: a
script, the command line, each loky, Dask or Ray worker.

Each measurement is a fresh child process with cwd and ``PYTHONPATH`` set
to the worktree (the parent checks that the worktree's fastbp is the one
imported), one thread per pool and the compile-ahead helper off; the
first child of each side fills that worktree's cache, untimed. The model:
``MLPClassifier((32,), max_iter=5)`` on 300x20 random data, 4 classes.

usage: python bench/ab/warm_first_fit.py ROUNDS [DTYPE]

Rounds alternate which side runs first. Prints the medians, minima and
maxima, in milliseconds.
"""

import json
import os
import statistics
import subprocess
import sys

ROOT = os.environ.get("AB_ROOT", "/tmp/bench_cpu")
SIDES = {"before": f"{ROOT}/before", "after": f"{ROOT}/after"}

CHILD = r"""
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np
import fastbp
t1 = time.perf_counter()
X = np.random.default_rng(0).standard_normal((300, 20)).astype(np.{dtype})
y = np.arange(300) % 4
first = fastbp.MLPClassifier((32,), max_iter=5, random_state=0)
t2 = time.perf_counter(); first.fit(X, y); t3 = time.perf_counter()
first.predict(X); t4 = time.perf_counter()
second = fastbp.MLPClassifier((32,), max_iter=5, random_state=0)
t5 = time.perf_counter(); second.fit(X, y); t6 = time.perf_counter()
second.predict(X); t7 = time.perf_counter()
print(json.dumps(dict(file=fastbp.__file__, import_s=t1 - t0, fit_s=(t3 - t2) - (t6 - t5),
                      predict_s=(t4 - t3) - (t7 - t6))))
"""


def run(side, dtype):
    root = SIDES[side]
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", FASTBP_COMPILE_AHEAD="0")
    out = subprocess.run([sys.executable, "-c", CHILD.format(dtype=dtype)], cwd=root, env=env,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["file"].startswith(root):
        raise RuntimeError(f"{side}: imported {result['file']}, not the worktree's fastbp")
    return result


def main(rounds, dtype="float32"):
    for side in SIDES:
        run(side, dtype)  # fills that worktree's cache
    results = {side: [] for side in SIDES}
    for i in range(rounds):
        for side in (("before", "after") if i % 2 == 0 else ("after", "before")):
            results[side].append(run(side, dtype))
    for side, runs in results.items():
        fit = [1e3 * r["fit_s"] for r in runs]
        predict = [1e3 * r["predict_s"] for r in runs]
        print(f"{side} ({dtype}): first fit +{statistics.median(fit):.1f} ms "
              f"(min {min(fit):.1f}, max {max(fit):.1f}), first predict "
              f"+{statistics.median(predict):.1f} ms (min {min(predict):.1f}, "
              f"max {max(predict):.1f}), import {statistics.median(r['import_s'] for r in runs):.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]), *(sys.argv[2:3]))
