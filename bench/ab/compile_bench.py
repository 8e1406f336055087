"""Cold / warm-cache compile cost of fastbp at two commits, interleaved.

Mirrors bench/compile_time.py of the project (fresh child process, new empty
NUMBA_CACHE_DIR per cold run, then a second child on the now-warm cache;
import timed alone; first fit vs an identical second fit -> overhead), with
the problem of the brief: MLPClassifier(hidden_layer_sizes=(16,), max_iter=1,
random_state=0) on 200x20 random data, 3 classes.

The child runs with cwd = the worktree and PYTHONPATH = the worktree, so the
worktree's fastbp is the one imported (checked: the child reports
fastbp.__file__ and the parent asserts it lies in that worktree).

The two sides alternate which runs first from one repeat to the next
(before first in even repeats; ``after-first`` starts with after). The end
prints each dtype's medians and the median paired after/before ratio of
the cold and the warm first-fit overhead; OUT.json keeps every record.

usage: python compile_bench.py REPS OUT.json [after-first]
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from ab_stats import order, summary

ROOT = os.environ.get("AB_ROOT", "/tmp/bench_cpu")
COMMITS = {"before": f"{ROOT}/before", "after": f"{ROOT}/after"}
PY = sys.executable
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                             "MKL_NUM_THREADS")}

CHILD = """\
import json, time, warnings
t0 = time.perf_counter()
import fastbp
t1 = time.perf_counter()
import numpy as np
rng = np.random.RandomState(0)
X = rng.standard_normal((200, 20)).astype({dtype!r})
y = np.arange(200) % 3
def fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastbp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, random_state=0).fit(X, y)
t2 = time.perf_counter(); fit(); t3 = time.perf_counter(); fit(); t4 = time.perf_counter()
import numba
print("BENCH_JSON " + json.dumps({{"import_s": t1 - t0, "first_fit_s": t3 - t2,
      "fit_s": t4 - t3, "file": fastbp.__file__,
      "numba_threads": numba.config.NUMBA_NUM_THREADS}}))
"""


def run_child(wt, code, cache):
    env = dict(os.environ, **THREADS, NUMBA_CACHE_DIR=cache, PYTHONPATH=wt)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", code], env=env, cwd=wt, capture_output=True, text=True,
                       timeout=900)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if p.returncode or not lines:
        raise RuntimeError(f"child failed rc={p.returncode}\n{p.stderr[-3000:]}")
    out = json.loads(lines[-1][len("BENCH_JSON "):])
    assert out["file"].startswith(wt + "/"), (out["file"], wt)
    out["process_s"] = wall
    # CPU time of the whole child: steadier than wall time on a shared machine.
    out["process_cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    out["overhead_s"] = out["first_fit_s"] - out["fit_s"]
    return out


def dir_stats(d):
    n = size = 0
    for base, _, files in os.walk(d):
        for f in files:
            n += 1
            size += os.path.getsize(os.path.join(base, f))
    return n, size


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    reps, out_path = int(argv[0]), argv[1]
    shift = 1 if "after-first" in argv[2:] else 0
    results = []
    for rep in range(reps):
        for dtype in ("float32", "float64"):
            for commit in order(rep + shift):
                wt = COMMITS[commit]
                code = CHILD.format(dtype=dtype)
                cache = tempfile.mkdtemp(prefix="fastbp-numba-cache-", dir=ROOT)
                try:
                    load = os.getloadavg()[0]
                    cold = run_child(wt, code, cache)
                    n_files, n_bytes = dir_stats(cache)
                    warm = run_child(wt, code, cache)
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
                rec = {"rep": rep, "commit": commit, "dtype": dtype, "cold": cold, "warm": warm,
                       "cache_files": n_files, "cache_bytes": n_bytes, "load1_before": load}
                results.append(rec)
                print(f"rep{rep} {dtype} {commit:6s} cold: import {cold['import_s']:.2f}s "
                      f"first_fit {cold['first_fit_s']:.2f}s fit {cold['fit_s']:.3f}s "
                      f"process {cold['process_s']:.1f}s cpu {cold['process_cpu_s']:.2f}s | "
                      f"warm: import {warm['import_s']:.2f}s "
                      f"first_fit {warm['first_fit_s']:.3f}s overhead {warm['overhead_s']:.3f}s | "
                      f"cache {n_files} files {n_bytes/1e6:.1f} MB | load {load:.2f}", flush=True)
                with open(out_path, "w") as fh:
                    json.dump(results, fh, indent=1)
    for part in ("cold", "warm"):
        print(f"{part} first-fit overhead:")
        for line in summary(results, lambda r: r["dtype"], lambda r: r[part]["overhead_s"]):
            print("  " + line)
    return results


if __name__ == "__main__":
    main()
