"""Warm-up reports count their own call's compiles and loads, not those of
other threads of the process (rev-203, fix-209).

Each case runs in a fresh interpreter with an empty ``NUMBA_CACHE_DIR``
(Numba reads it at import), on the smallest configuration warm-up takes:
an L-BFGS regressor in float64, which has no split part.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_ALONE = """
import json
import fastbp
report = fastbp.warmup(fastbp.MLPRegressor(solver="lbfgs"), dtypes="float64")
print(json.dumps([report.compiled, report.loaded, report.unsaved]))
"""

# Two warm-ups and a fit of the same configuration at once, released
# together: each kernel is compiled in one thread while the others wait
# for Numba's compiler lock, then find it in memory.
_THREADS = """
import json, threading
import numpy as np
import fastbp
from fastbp._cache import counts
from fastbp.warmup import _cache_counts

start = threading.Barrier(3)
reports, fitted, failures = [None, None], [None], []

def warm(i):
    try:
        start.wait()
        report = fastbp.warmup(fastbp.MLPRegressor(solver="lbfgs"), dtypes="float64")
        reports[i] = [report.compiled, report.loaded, report.unsaved]
    except BaseException as exc:
        failures.append(repr(exc))

def fit():
    try:
        rng = np.random.RandomState(0)
        X = rng.standard_normal((64, 3))
        start.wait()
        before = counts.thread_counts()
        fastbp.MLPRegressor(solver="lbfgs", max_iter=2).fit(X, X[:, 0])
        fitted[0] = [b - a for a, b in zip(before, counts.thread_counts())]
    except BaseException as exc:
        failures.append(repr(exc))

hits, misses = _cache_counts()
threads = [threading.Thread(target=warm, args=(0,)), threading.Thread(target=warm, args=(1,)),
           threading.Thread(target=fit)]
for t in threads:
    t.start()
for t in threads:
    t.join()
new_hits, new_misses = _cache_counts()
print(json.dumps({"reports": reports, "fit": fitted[0], "failures": failures,
                  "process": [new_misses - misses, new_hits - hits]}))
"""


def _run(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_concurrent_warmups_count_each_compile_once(tmp_path):
    compiled, loaded, unsaved = _run(_ALONE, tmp_path / "alone")
    assert compiled > 0 and loaded == 0 and unsaved == 0

    out = _run(_THREADS, tmp_path / "threads")
    reports, fit = out["reports"], out["fit"]
    # The process compiled each kernel once, as one warm-up alone does.
    assert out["process"] == [compiled, 0], out
    # Before fix-209 each report counted every thread's compiles while it
    # ran: up to 3 times the kernels compiled, the fit's included.
    assert None not in reports and sum(r[0] for r in reports) <= compiled, out
    assert out["failures"] == [], out["failures"]
    assert sum(r[0] for r in reports) + fit[0] == compiled, out
    assert sum(r[1] for r in reports) + fit[1] == 0, out
    assert all(r[2] == 0 for r in reports), out


def test_compiles_and_loads_count_in_the_thread_that_made_them(tmp_path, monkeypatch):
    # The per-thread tallies that warm-up's reports take the difference of:
    # a compile counts in its thread only, a thread that finds the kernel
    # in memory counts nothing, and a load from the cache counts as loaded.
    from numba import njit
    from numba.core import config

    from fastbp._cache import counts, dispatchers

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(dispatchers, "_dispatchers", list(dispatchers._dispatchers))
    source = tmp_path / "counted_kernel209.py"
    source.write_text("def twice(x):\n    return 2 * x\n")

    def load_dispatcher():
        spec = importlib.util.spec_from_file_location("counted_kernel209", source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return dispatchers.enable_cache(njit(module.twice))

    def in_a_thread(fn):
        seen = []

        def run():
            before = counts.thread_counts()
            fn()
            seen.append([b - a for a, b in zip(before, counts.thread_counts())])

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return seen[0]

    here, process = counts.thread_counts(), counts.process_counts()
    dispatcher = load_dispatcher()
    assert in_a_thread(lambda: dispatcher(1)) == [1, 0, 0]
    assert in_a_thread(lambda: dispatcher(2)) == [0, 0, 0]  # found in memory
    fresh = load_dispatcher()  # another process's view: only the cache holds it
    assert in_a_thread(lambda: fresh(3)) == [0, 1, 0]
    assert counts.thread_counts() == here
    assert [b - a for a, b in zip(process, counts.process_counts())] == [1, 1, 0]
