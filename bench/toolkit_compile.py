"""What a cold cache costs a user who tries every training path on one dataset.

``python -m bench.toolkit_compile`` starts, for each dtype, a fresh Python
process with an empty ``NUMBA_CACHE_DIR`` (unless ``--cache-dir`` names
one), and fits then predicts ``MLPClassifier((8,), max_iter=2)`` on 64 x 8
data with three classes in each configuration of :data:`CONFIGS` in turn:
the default path, early stopping, L-BFGS, and batch and layer normalisation
with dropout (the full kernels). It prints each configuration's seconds,
which are almost all compilation (and, of them, its first predictions'),
and the total: issue 10's "every toolkit
path together" for one output function (``fastbp compile --all`` also
compiles sparse input, the regressor and the binary output). Nothing here
asserts a time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from .compile_time import REPO_ROOT, child_env

#: ``--cache-dir`` value for the caller's own compile cache.
INHERIT = "inherit"

CONFIGS = [{}, {"early_stopping": True}, {"solver": "lbfgs"},
           {"normalization": "batch", "dropout": 0.1},
           {"normalization": "layer", "dropout": 0.1}]

CHILD = """\
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np
import fastbp
t1 = time.perf_counter()
rng = np.random.RandomState(0)
X = rng.standard_normal((64, 8)).astype({dtype!r})
y = np.arange(64) % 3
seconds, predict_s = [], []
for cfg in {configs!r}:
    t = time.perf_counter()
    model = fastbp.MLPClassifier((8,), max_iter=2, random_state=0, **cfg).fit(X, y)
    fitted = time.perf_counter()
    model.predict(X)
    model.predict_proba(X)
    seconds.append(time.perf_counter() - t)
    predict_s.append(time.perf_counter() - fitted)
print("BENCH_JSON " + json.dumps({{"import_s": t1 - t0, "seconds": seconds,
                                   "predict_s": predict_s}}))
"""


def measure(dtype, cache_dir=None):
    """``{"import_s": ..., "seconds": [per configuration]}`` of one fresh process."""
    code = CHILD.format(dtype=dtype, configs=CONFIGS)
    with tempfile.TemporaryDirectory(prefix="fastbp-numba-cache-") as empty:
        env = child_env(cache_dir or empty)
        if cache_dir == INHERIT:  # this process's cache, wherever Numba keeps it
            env.pop("NUMBA_CACHE_DIR")
            if "NUMBA_CACHE_DIR" in os.environ:
                env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("BENCH_JSON "):])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.toolkit_compile",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--cache-dir", default=None,
                    help="NUMBA_CACHE_DIR for the child (default: a new empty one; "
                         f"{INHERIT!r}: this process's)")
    args = ap.parse_args(argv)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    # helper-153: any other name ran float64 under that name.
    for dtype in dtypes:
        if dtype not in ("float32", "float64"):
            ap.error(f"unknown dtype {dtype!r} in --dtypes (choose from float32, float64)")
    from bench.report import environment_header, script_environment

    # The figures the README quotes must be placeable: machine, versions, commit.
    print(environment_header(script_environment()), flush=True)
    for dtype in dtypes:
        result = measure(dtype, args.cache_dir)
        for cfg, seconds, predict in zip(CONFIGS, result["seconds"], result["predict_s"]):
            print(f"{dtype} {json.dumps(cfg):<45} {seconds:7.2f} s "
                  f"(first predictions {predict:.2f} s)")
        print(f"{dtype} every path {sum(result['seconds']):.2f} s "
              f"(import {result['import_s']:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
