"""Compile cost, measured in fresh Python processes.

For each dtype, with a new empty temporary ``NUMBA_CACHE_DIR``:

* cold -- a fresh process runs ``import fastbp`` then fits a tiny problem
  twice; it also fills the on-disk cache;
* warm -- a second fresh process does the same with the now-warm cache.

Each process reports ``import_s`` (the import alone), ``first_fit_s`` and
``fit_s`` (the second, identical fit: the fit proper). ``overhead_s =
first_fit_s - fit_s`` is what the first fit pays for compilation (cold) or
for loading compiled code from the cache (warm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import subject

REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = """\
import json, time, warnings
t0 = time.perf_counter()
{import_stmt}
t1 = time.perf_counter()
import numpy as np
rng = np.random.RandomState(0)
X = rng.standard_normal((64, 8)).astype({dtype!r})
y = np.arange(64) % 3
def fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Cls(hidden_layer_sizes=(4,), max_iter=2, batch_size=16, random_state=0).fit(X, y)
t2 = time.perf_counter(); fit(); t3 = time.perf_counter(); fit(); t4 = time.perf_counter()
print("BENCH_JSON " + json.dumps({{"import_s": t1 - t0, "first_fit_s": t3 - t2, "fit_s": t4 - t3}}))
"""


def child_env(cache_dir: str) -> dict:
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_child(code: str, env: dict, timeout: float = 600) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1][len("BENCH_JSON "):])
    out["process_s"] = wall
    out["overhead_s"] = out["first_fit_s"] - out["fit_s"]
    return out


def count_files(directory: str) -> int:
    return sum(len(files) for _, _, files in os.walk(directory))


def measure(dtype: str, standin: bool | None = None, warm_repeats: int = 1) -> dict:
    """Cold and warm import/first-fit times for one dtype (see module doc)."""
    standin = subject.standin_requested() if standin is None else standin
    code = CHILD.format(import_stmt=subject.import_statement(standin), dtype=dtype)
    with tempfile.TemporaryDirectory(prefix="fastbp-numba-cache-") as cache:
        env = child_env(cache)
        cold = run_child(code, env)
        n_files = count_files(cache)
        warm_runs = [run_child(code, env) for _ in range(max(1, warm_repeats))]
    warm = min(warm_runs, key=lambda r: r["import_s"] + r["first_fit_s"])
    return {"dtype": dtype, "system": subject.STANDIN_LABEL if standin else "fastbp",
            "cold": cold, "warm": warm, "cache_files": n_files}
