"""Hyper-parameter search wall time: fastbp vs scikit-learn, per joblib backend.

    python -m bench.search                  # both grids, every backend, warm + cold cache
    python -m bench.search --smoke          # CI-sized: well under a minute on a warm cache
    python -m bench.search --grids readme --backends sequential,threading,loky --repeats 1

Times ``GridSearchCV.fit`` over a ``StandardScaler`` + ``MLPClassifier``
pipeline, with fastbp's ``MLPClassifier`` and with scikit-learn's under
identical parameters, for each grid (``readme``: the README's example on
digits; ``tabular``: the suite's synthetic 10000 x 20, 4-class workload),
joblib backend (``sequential``, ``loky``, ``threading``, ``dask``, ``ray``)
and, for fastbp, state of the Numba disk cache (``warm``: filled by an
untimed search in an earlier process; ``cold``: a fresh empty
``NUMBA_CACHE_DIR``).

Every measurement is a fresh ``python -c`` process, as a user's script would
be, so imports, worker start-up and compilation count as the user sees them.
The child times ``search.fit(X, y)`` alone; the parent times the whole
process. Each child also returns ``cv_results_["mean_test_score"]`` and
``best_params_``, and every row says whether they equal the same system's
sequential results bit for bit. A last row runs the README example verbatim
with an empty cache, from Python's start to its printed score.

Results: a markdown table on stdout, saved with the JSON as
``bench/results/search.{md,json}`` (``search-smoke.*`` for ``--smoke``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/search.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compile_time import REPO_ROOT
from bench.report import RESULTS_DIR, _err, _git_head, _loadavg, _table, save_report
from fastbp.machine import cpu_model

GRIDS = ("readme", "tabular")
BACKENDS = ("sequential", "sequential-1blas", "loky", "loky-reused", "threading",
            "threading-1blas", "dask", "ray")
SYSTEMS = ("fastbp", "sklearn")
CACHES = ("warm", "cold")
SMOKE_BACKENDS = ("sequential", "threading")

#: Seconds one child may run; a cold dask or ray search on 2 busy cores
#: stays well below it.
CHILD_TIMEOUT_S = 1800

#: Variables that size the BLAS, OpenMP and Numba thread pools. The
#: children inherit them untouched (a user's defaults); the report records them.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

GOALS = {"threading_vs_sklearn_best": 5.0, "loky_vs_sklearn_loky": 2.0,
         "loky_reused_vs_sklearn_loky_reused": 2.0, "threading_vs_sequential": 1.7,
         "cold_readme_example_s": 10.0}

# ---------------------------------------------------------------------------
# what a child runs
# ---------------------------------------------------------------------------

#: The README's "Use it like scikit-learn" example, verbatim
#: (``test_search_bench.py`` checks that it still matches README.md).
README_EXAMPLE = """\
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier   # was: from sklearn.neural_network import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=100, random_state=0))
search = GridSearchCV(
    pipe,
    {"mlpclassifier__hidden_layer_sizes": [(64,), (128, 64)],
     "mlpclassifier__alpha": [1e-4, 1e-2]},
    n_jobs=2,
)
search.fit(X_train, y_train)
print(search.best_params_, search.score(X_test, y_test))
"""

# Stamps the wall clock right after the example's print, for the parent to
# subtract its own clock reading taken just before starting the process.
README_TRAILER = """\
import json as _json, time as _time
_printed_at = _time.time()
print("BENCH_JSON " + _json.dumps({"printed_at": _printed_at,
      "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
      "best_params": search.best_params_}))
"""

CHILD = """\
import contextlib, json, time
t_start = time.perf_counter()
import joblib
{estimator_import}
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
{data}
{backend_setup}
pipe = make_pipeline(StandardScaler(), MLPClassifier(**{estimator!r}))
search = GridSearchCV(pipe, {param_grid!r}, cv={cv!r}, n_jobs={n_jobs!r})
setup_s = time.perf_counter() - t_start
with {backend_context}:
    t0 = time.perf_counter()
    {fit}
    fit_s = time.perf_counter() - t0
print("BENCH_JSON " + json.dumps({{"setup_s": setup_s, "fit_s": fit_s,
      "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
      "best_params": search.best_params_}}), flush=True)
{backend_teardown}
"""

ESTIMATOR_IMPORTS = {
    "fastbp": "from fastbp import MLPClassifier",
    "sklearn": "from sklearn.neural_network import MLPClassifier",
}

# The README's training split; ``{rows}`` keeps a leading subset for --smoke.
DIGITS_DATA = """\
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
X, y = X_train[:{rows}], y_train[:{rows}]
"""

# The suite's tabular workload; ``standalone`` spares scikit-learn's child
# the import of fastbp's estimators (see bench.workloads.datasets_module).
TABULAR_DATA = """\
from bench import workloads
data = workloads.load_uncached(workloads.tabular({rows}), {dtype!r}, standalone=True)
X, y = data.X_train, data.y_train
"""


@dataclass(frozen=True)
class Grid:
    """One hyper-parameter search: data, fixed estimator parameters, grid, folds.

    Attributes
    ----------
    name : str
        ``"readme"`` or ``"tabular"``.
    data : str
        Child source that binds ``X`` and ``y``.
    estimator : dict
        ``MLPClassifier`` keyword arguments shared by every candidate.
    param_grid : dict
        The ``GridSearchCV`` grid, keyed by pipeline step parameter.
    cv : int or None
        Folds; None is ``GridSearchCV``'s default (5), as in the README.
    """

    name: str
    data: str
    estimator: dict
    param_grid: dict
    cv: int | None


def make_grid(name: str, smoke: bool = False) -> Grid:
    """The named grid; ``smoke`` shrinks data and epochs, keeping the grid itself.

    Parameters
    ----------
    name : {"readme", "tabular"}
    smoke : bool, default=False
        Two epochs on a few hundred rows, so that the whole search costs
        little more than the processes' start-up.

    Returns
    -------
    Grid
    """
    if name == "readme":
        return Grid(name, DIGITS_DATA.format(rows=300 if smoke else None),
                    {"max_iter": 2 if smoke else 100, "random_state": 0},
                    {"mlpclassifier__hidden_layer_sizes": [(64,), (128, 64)],
                     "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=None)
    if name == "tabular":
        # float32, as in the suite's quick grid.
        return Grid(name, TABULAR_DATA.format(rows=1000 if smoke else 10000, dtype="float32"),
                    {"max_iter": 2 if smoke else 20, "random_state": 0},
                    {"mlpclassifier__hidden_layer_sizes": [(32,), (64,)],
                     "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3)
    raise ValueError(f"unknown grid {name!r}; choose from {GRIDS}")


@dataclass(frozen=True)
class Backend:
    """How a child runs the search's fits in parallel.

    Attributes
    ----------
    n_jobs : int
        ``GridSearchCV(n_jobs=...)``.
    context : str
        Expression of the context manager around ``search.fit``.
    setup, teardown : str
        Child source before the timed fit (starting a cluster) and after the
        result is printed (stopping it).
    requires : str or None
        Module that must be importable; the backend is skipped otherwise.
    fit : str
        The timed statement.
    """

    n_jobs: int
    context: str = "contextlib.nullcontext()"
    fit: str = "search.fit(X, y)"
    setup: str = ""
    teardown: str = ""
    requires: str | None = None


BACKEND_SPECS = {
    "sequential": Backend(n_jobs=1),
    "loky": Backend(n_jobs=2),  # joblib's default backend
    # loky's workers outlive a search (joblib reuses its executor for five
    # minutes): a second search of a session, as in a notebook, finds them
    # started and their kernels loaded. An untimed two-epoch search starts them.
    "loky-reused": Backend(
        n_jobs=2,
        setup="GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=2, "
              "random_state=0)), {'mlpclassifier__alpha': [1e-4, 1e-2]}, cv=4, "
              "n_jobs=2).fit(X, y)"),
    "threading": Backend(n_jobs=2, context='joblib.parallel_backend("threading")'),
    # The README's recipe for threads: one BLAS thread per fit for the
    # whole search (see fastbp.training.threads), and its sequential twin.
    "sequential-1blas": Backend(n_jobs=1, setup="import threadpoolctl",
                                context="threadpoolctl.threadpool_limits(1)"),
    "threading-1blas": Backend(
        n_jobs=2, setup="import threadpoolctl",
        context='threadpoolctl.threadpool_limits(1), joblib.parallel_backend("threading")'),
    # fastbp.search's helpers: the fault-tolerant recipe, and each worker
    # warmed up before its first task (timed: the warm-up is part of the fit).
    "dask": Backend(
        n_jobs=2, requires="distributed", fit="fit_on_dask(search, X, y, client=client)",
        setup="from distributed import Client, LocalCluster\n"
              "from fastbp.search import fit_on_dask\n"
              "cluster = LocalCluster(n_workers=2, threads_per_worker=1)\nclient = Client(cluster)",
        teardown="client.close()\ncluster.close()"),
    "ray": Backend(
        n_jobs=2, requires="ray", fit="fit_on_ray(search, X, y)",
        setup="import ray\nfrom fastbp.search import fit_on_ray\nray.init(num_cpus=2)",
        teardown="ray.shutdown()"),
}

INSTALL_HINT = {"distributed": 'pip install "dask[distributed]"', "ray": "pip install ray"}


def child_source(grid: Grid, backend: str, system: str) -> str:
    """Source of a child that runs ``grid``'s search with ``system`` on ``backend``."""
    spec = BACKEND_SPECS[backend]
    return CHILD.format(estimator_import=ESTIMATOR_IMPORTS[system], data=grid.data,
                        backend_setup=spec.setup, estimator=grid.estimator,
                        param_grid=grid.param_grid, cv=grid.cv, n_jobs=spec.n_jobs,
                        backend_context=spec.context, backend_teardown=spec.teardown,
                        fit=spec.fit)


def backend_unavailable(backend: str) -> str | None:
    """Why ``backend`` cannot run here (its package is missing), or None."""
    module = BACKEND_SPECS[backend].requires
    if module is None or importlib.util.find_spec(module) is not None:
        return None
    return f"{module} not installed ({INSTALL_HINT[module]})"


# ---------------------------------------------------------------------------
# running children
# ---------------------------------------------------------------------------


class ChildError(RuntimeError):
    """A child exited with an error, printed no result or ran out of time."""


def child_env(cache_dir: str | None) -> dict:
    """The parent's environment plus ``NUMBA_CACHE_DIR`` (when given) and the repo on the path."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_child(code: str, env: dict) -> dict:
    """Run ``code`` in a fresh interpreter and return what it reported.

    Returns
    -------
    dict
        The child's ``BENCH_JSON`` object plus ``process_s`` (the whole
        process, Python's start-up and exit included), ``started_at`` (the
        parent's ``time.time()`` just before starting it), ``loadavg_1m``
        at the start and ``printed`` (the child's other stdout lines).

    Raises
    ------
    ChildError
        On a non-zero exit, a missing result or a timeout, with the tail of
        the child's stderr.
    """
    load = _loadavg()
    started_at = time.time()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ChildError(f"timed out after {CHILD_TIMEOUT_S} s") from exc
    process_s = time.perf_counter() - t0
    lines = proc.stdout.splitlines()
    results = [ln for ln in lines if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not results:
        raise ChildError(f"child failed (rc={proc.returncode}): {proc.stderr[-2000:].strip()}")
    out = json.loads(results[-1][len("BENCH_JSON "):])
    out.update(process_s=process_s, started_at=started_at, loadavg_1m=load and load[0],
               printed=[ln for ln in lines if not ln.startswith("BENCH_JSON ")])
    return out


def run_in_fresh_cache(code: str) -> dict:
    """:func:`run_child` with a new empty ``NUMBA_CACHE_DIR``, removed afterwards."""
    # Cluster workers may still hold files in it while it is removed.
    with tempfile.TemporaryDirectory(prefix="fastbp-search-cold-", ignore_cleanup_errors=True) as d:
        return run_child(code, child_env(d))


def warm_cache_dir(requested: str | None) -> Path | None:
    """The directory the warm rows' compiled kernels live in.

    ``--cache-dir`` when given; else the inherited ``NUMBA_CACHE_DIR``; else
    Numba's default, next to fastbp's sources (found without importing it).
    None when fastbp cannot be found.
    """
    if requested or os.environ.get("NUMBA_CACHE_DIR"):
        return Path(requested or os.environ["NUMBA_CACHE_DIR"])
    spec = importlib.util.find_spec("fastbp")
    return Path(next(iter(spec.submodule_search_locations))) if spec else None


def cache_entries(directory: Path | None) -> int | None:
    """Compiled overloads (``*.nbc`` files) under ``directory``."""
    return None if directory is None else sum(1 for _ in directory.rglob("*.nbc"))


# ---------------------------------------------------------------------------
# the measurement plan
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to measure, from the command line.

    Attributes
    ----------
    grids, backends, systems, caches : tuple of str
        Selected names (unavailable backends already removed).
    warm_repeats, cold_repeats : int
        Runs per cell for fastbp's warm and cold cache; scikit-learn, which
        has no cache, runs ``warm_repeats`` times (``cold_repeats`` when
        only cold rows are asked for).
    smoke : bool
        Tiny grids (:func:`make_grid`).
    cache_dir : str or None
        ``NUMBA_CACHE_DIR`` of the warm rows; None keeps the inherited one.
    """

    grids: tuple[str, ...]
    backends: tuple[str, ...]
    systems: tuple[str, ...]
    caches: tuple[str, ...]
    warm_repeats: int
    cold_repeats: int
    smoke: bool
    cache_dir: str | None

    def cells(self) -> list[tuple[str, str, int]]:
        """(system, cache, repeats) in the order each backend's turn runs them: A B A B.

        scikit-learn's cache state is ``"none"``.
        """
        cells = []
        if "fastbp" in self.systems and "warm" in self.caches:
            cells.append(("fastbp", "warm", self.warm_repeats))
        if "sklearn" in self.systems:
            only_cold = self.caches == ("cold",)
            cells.append(("sklearn", "none", self.cold_repeats if only_cold else self.warm_repeats))
        if "fastbp" in self.systems and "cold" in self.caches:
            cells.append(("fastbp", "cold", self.cold_repeats))
        return cells


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure(label: str, code: str, env: dict | None) -> dict:
    """One child run as a record; a failure is logged and recorded, not raised.

    ``env`` None runs the child in a fresh empty ``NUMBA_CACHE_DIR``.
    """
    try:
        record = run_in_fresh_cache(code) if env is None else run_child(code, env)
    except ChildError as exc:
        log(f"[search] {label}: FAILED: {_err(exc)}")
        return {"error": _err(exc)}
    if "fit_s" in record:
        log(f"[search] {label}: fit {record['fit_s']:.2f} s, process {record['process_s']:.2f} s")
    return record


def backend_order(backends, rep: int) -> list:
    """The backends in repeat ``rep``'s order: rotated by one each repeat.

    Every repeat runs every backend, so a backend's run and its sequential
    twin's lie minutes apart at most and see the same load; rotating keeps
    any backend from always running first (or right after another).
    """
    k = rep % len(backends) if backends else 0
    return list(backends[k:]) + list(backends[:k])


def run_grid(plan: Plan, grid: Grid, warm_env: dict) -> list[dict]:
    """Every (backend, system, cache, repeat) run of one grid.

    helper-153: the repeats of one backend used to run in a block before
    the next backend's, so a speed-up over sequential divided medians taken
    minutes apart, under whatever load each block saw (0.88x in one run,
    3.81x on 2 cores in another). Now each repeat runs every backend
    (:func:`backend_order`), and within a backend the systems alternate.
    """
    runs = []
    cells = plan.cells()
    for rep in range(max(n for _, _, n in cells)):
        for backend in backend_order(plan.backends, rep):
            for system, cache, n in cells:
                if rep >= n:
                    continue
                label = f"{grid.name} {backend} {system} {cache} #{rep + 1}"
                env = None if cache == "cold" else warm_env
                record = measure(label, child_source(grid, backend, system), env)
                runs.append({"grid": grid.name, "backend": backend, "system": system,
                             "cache": cache, "repeat": rep, **record})
    return runs


def run_grid_warm(plan: Plan, grid: Grid, warm_env: dict, warm_dir: Path | None) -> tuple[list, dict]:
    """:func:`run_grid` after filling the warm cache with one untimed sequential fastbp search.

    Returns the runs and a record of the warm-up, with the cache's compiled
    entries before and after it and after the runs: any growth during the
    runs means some "warm" run compiled.
    """
    cache = {"grid": grid.name, "entries_before": cache_entries(warm_dir)}
    warm_up = measure(f"{grid.name} warm-up", child_source(grid, "sequential", "fastbp"), warm_env)
    cache.update(warm_up_s=warm_up.get("process_s"), warm_up_error=warm_up.get("error"),
                 entries_after_warm_up=cache_entries(warm_dir))
    runs = run_grid(plan, grid, warm_env)
    cache["entries_after_runs"] = cache_entries(warm_dir)
    return runs, cache


def run_readme_example(repeats: int) -> list[dict]:
    """The README example, verbatim, from Python's start to its printed score, cold cache."""
    out = []
    for rep in range(repeats):
        record = measure(f"README example cold #{rep + 1}", README_EXAMPLE + README_TRAILER, None)
        if "printed_at" in record:
            record["total_s"] = record["printed_at"] - record["started_at"]
            log(f"[search] README example cold #{rep + 1}: score printed after "
                f"{record['total_s']:.2f} s")
        out.append(record)
    return out


# ---------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------


def same_results(a: dict, b: dict) -> bool:
    """Bitwise-equal mean test scores (NaN equal to NaN) and equal best parameters."""
    def bits(r):
        return [float(s).hex() for s in r["mean_test_score"]]

    return bits(a) == bits(b) and a["best_params"] == b["best_params"]


def _matches(record: dict, where: dict) -> bool:
    return all(record[k] == v for k, v in where.items())


def successful(runs: list[dict], **where) -> list[dict]:
    """The runs that match ``where`` and returned a result."""
    return [r for r in runs if "fit_s" in r and _matches(r, where)]


def sequential_twin(backend: str, measured) -> str:
    """The sequential backend that ``backend``'s speed-up divides: with one
    BLAS thread per fit (``-1blas``) where that was measured, since a
    parallel row's BLAS setting must match its baseline's."""
    if backend.endswith("-1blas") and "sequential-1blas" in measured:
        return "sequential-1blas"
    if "sequential" not in measured and "sequential-1blas" in measured:
        return "sequential-1blas"  # loky's workers run one BLAS thread each anyway
    return "sequential"


def _backends(runs: list[dict]) -> set:
    return {r["backend"] for r in runs if "fit_s" in r}


def reference(runs: list[dict], grid: str, system: str, backend: str = "sequential") -> dict | None:
    """The system's first successful sequential run on ``grid`` (warm cache first)."""
    twin = sequential_twin(backend, _backends(runs))
    for cache in ("warm", "none", "cold"):
        found = successful(runs, grid=grid, backend=twin, system=system, cache=cache)
        if found:
            return found[0]
    return None


def paired_ratios(baseline: list[dict], runs: list[dict]) -> list[float]:
    """``baseline fit_s / run fit_s`` for each repeat both have a run of.

    helper-153: a ratio of two medians mixes repeats taken under different
    loads; a ratio within one repeat compares runs taken side by side.
    """
    base = {r["repeat"]: r["fit_s"] for r in baseline}
    return [base[r["repeat"]] / r["fit_s"] for r in runs if r["repeat"] in base]


def summarise(runs: list[dict], grid: str, backend: str, system: str, cache: str) -> dict:
    """Median/min fit seconds of one cell, its speed-up and its results check.

    ``speedup_vs_sequential`` is the median over the repeats of the same
    system's sequential run (same cache state) divided by this cell's run
    of the same repeat, which ran next to it (:func:`run_grid`);
    ``speedup_pairs`` counts those pairs. ``identical_to_sequential`` is
    None when there is no sequential run to compare with.
    """
    where = {"grid": grid, "backend": backend, "system": system, "cache": cache}
    ok = successful(runs, **where)
    out = {"n": len(ok), "errors": [r["error"] for r in runs if "error" in r and _matches(r, where)]}
    if not ok:
        return out
    fits = [r["fit_s"] for r in ok]
    out.update(fit_s_by_repeat={r["repeat"]: r["fit_s"] for r in ok},
               median_s=statistics.median(fits), min_s=min(fits),
               process_median_s=statistics.median(r["process_s"] for r in ok))
    twin = sequential_twin(backend, _backends(runs))
    seq = successful(runs, grid=grid, backend=twin, system=system, cache=cache)
    ratios = paired_ratios(seq, ok)
    if ratios:
        out["speedup_vs_sequential"] = statistics.median(ratios)
        out["speedup_pairs"] = len(ratios)
    ref = reference(runs, grid, system, backend)
    out["identical_to_sequential"] = None if ref is None else all(same_results(r, ref) for r in ok)
    return out


def paired_ratio(slow: dict, fast: dict) -> float | None:
    """The median over the repeats of ``slow``'s fit over ``fast``'s fit of
    the same repeat (two :func:`summarise` cells), or None without a pair.

    rev-256: the ratio of the two medians mixed repeats taken under
    different loads (repeats (1, 6), (3, 6), (1, 2) gave 6.0 where each
    repeat's ratio has the median 2.0); within a repeat the systems ran
    side by side (:func:`run_grid`).
    """
    a, b = slow.get("fit_s_by_repeat", {}), fast.get("fit_s_by_repeat", {})
    ratios = [a[k] / b[k] for k in a if k in b]
    return statistics.median(ratios) if ratios else None


def build_rows(plan: Plan, runs: list[dict]) -> list[dict]:
    """One row per (grid, backend, fastbp cache state); scikit-learn's runs fill every row.

    ``ratio_sklearn_over_fastbp`` is :func:`paired_ratio` of the row's two cells.
    """
    caches = [c for c in CACHES if c in plan.caches] if "fastbp" in plan.systems else ["none"]
    rows = []
    for grid in plan.grids:
        for backend in plan.backends:
            for cache in caches:
                fb = summarise(runs, grid, backend, "fastbp", cache)
                sk = summarise(runs, grid, backend, "sklearn", "none")
                ratio = paired_ratio(sk, fb)
                rows.append({"grid": grid, "backend": backend, "cache": cache, "fastbp": fb,
                             "sklearn": sk, "ratio_sklearn_over_fastbp": ratio})
    return rows


def _cell(rows: list[dict], system: str, **where) -> dict:
    for row in rows:
        if _matches(row, where):
            return row[system]
    return {}


def _median(rows: list[dict], system: str, **where) -> float | None:
    return _cell(rows, system, **where).get("median_s")


def _goal(name: str, text: str, value: float | None, goal: float, higher_is_better: bool = True,
          missing: str = "") -> dict:
    met = None if value is None else (value >= goal if higher_is_better else value <= goal)
    return {"name": name, "text": text, "value": value, "goal": goal, "met": met, "missing": missing}


def goals(rows: list[dict], readme: list[dict]) -> list[dict]:
    """The issue's four goal lines, from the rows and the cold README example."""
    out = []
    # fastbp's threading rows: the README's recipe where it was measured.
    threading = ("threading-1blas" if _median(rows, "fastbp", grid="readme",
                                              backend="threading-1blas", cache="warm")
                 else "threading")
    # The ratios are paired by repeat (paired_ratio): each repeat ran every
    # backend of both systems, so even (a)'s two backends have pairs.
    fb = _cell(rows, "fastbp", grid="readme", backend=threading, cache="warm")
    sk_best = {row["backend"]: row["sklearn"] for row in rows
               if row["grid"] == "readme" and "median_s" in row["sklearn"]}
    best = min(sk_best, key=lambda b: sk_best[b]["median_s"]) if sk_best else None
    out.append(_goal("threading_vs_sklearn_best",
                     f"(a) readme, warm: fastbp {threading} vs scikit-learn's best backend"
                     + (f" ({best})" if best else ""),
                     paired_ratio(sk_best[best], fb) if best else None,
                     GOALS["threading_vs_sklearn_best"],
                     missing="needs readme + threading + warm + both systems"))
    fb = _cell(rows, "fastbp", grid="readme", backend="loky", cache="warm")
    sk = _cell(rows, "sklearn", grid="readme", backend="loky", cache="warm")
    out.append(_goal("loky_vs_sklearn_loky", "(b) readme, warm: fastbp loky vs scikit-learn loky",
                     paired_ratio(sk, fb), GOALS["loky_vs_sklearn_loky"],
                     missing="needs readme + loky + warm + both systems"))
    fb = _cell(rows, "fastbp", grid="readme", backend="loky-reused", cache="warm")
    sk = _cell(rows, "sklearn", grid="readme", backend="loky-reused", cache="warm")
    out.append(_goal("loky_reused_vs_sklearn_loky_reused",
                     "(b) readme, warm, workers started by an earlier search: fastbp loky vs "
                     "scikit-learn loky", paired_ratio(sk, fb),
                     GOALS["loky_reused_vs_sklearn_loky_reused"],
                     missing="needs readme + loky-reused + warm + both systems"))
    measured = {row["backend"] for row in rows if "median_s" in row["fastbp"]}
    twin = sequential_twin(threading, measured)
    for grid in GRIDS:
        # helper-153: the median of paired per-repeat ratios, not a ratio of
        # two medians taken minutes apart.
        speedup = next((row["fastbp"].get("speedup_vs_sequential") for row in rows
                        if _matches(row, {"grid": grid, "backend": threading, "cache": "warm"})),
                       None)
        out.append(_goal("threading_vs_sequential",
                         f"(c) {grid}, warm: fastbp {threading} vs fastbp {twin} "
                         "(median of per-repeat ratios)",
                         speedup, GOALS["threading_vs_sequential"],
                         missing=f"needs {grid} + sequential + threading + warm fastbp"))
    totals = [r["total_s"] for r in readme if "total_s" in r]
    out.append(_goal("cold_readme_example_s",
                     "(d) README example, empty cache, Python start to printed score (s)",
                     statistics.median(totals) if totals else None, GOALS["cold_readme_example_s"],
                     higher_is_better=False, missing="needs readme + cold + fastbp"))
    return out


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def environment(plan: Plan, warm_dir: Path | None) -> dict:
    """Machine, load, versions and thread settings, recorded with the results."""
    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "python": sys.version.split()[0], "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "git": _git_head(), "loadavg_start": _loadavg(),
        "versions": {d: version(d) for d in ("numpy", "numba", "scikit-learn", "fastbp", "joblib",
                                             "dask", "distributed", "ray")},
        "thread_env": {v: os.environ.get(v, "unset") for v in THREAD_VARS},
        "warm_cache_dir": plan.cache_dir or os.environ.get("NUMBA_CACHE_DIR")
        or f"Numba's default ({warm_dir}/**/__pycache__)",
    }


def _seconds(cell: dict) -> str:
    if "median_s" not in cell:
        return "failed" if cell["errors"] else "-"
    return f"{cell['median_s']:.2f} ({cell['min_s']:.2f})"


def _value(cell: dict, key: str, fmt) -> str:
    return "-" if cell.get(key) is None else fmt(cell[key])


def _pair(row: dict, key: str, fmt) -> str:
    """fastbp's and scikit-learn's ``key`` in one cell: ``"a / b"``."""
    return " / ".join(_value(row[s], key, fmt) for s in SYSTEMS)


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "**NO**"


def render(report: dict) -> str:
    """The markdown report."""
    rows = report["rows"]
    out = _render_header(report)
    out.append(_table(
        ["grid", "backend", "cache", "fastbp s", "sklearn s", "ratio sklearn/fastbp",
         "speed-up vs sequential (fastbp / sklearn)", "identical to sequential (fastbp / sklearn)"],
        [[r["grid"], r["backend"], r["cache"], _seconds(r["fastbp"]), _seconds(r["sklearn"]),
          "-" if r["ratio_sklearn_over_fastbp"] is None else f"{r['ratio_sklearn_over_fastbp']:.2f}x",
          _pair(r, "speedup_vs_sequential", lambda v: f"{v:.2f}x"),
          _pair(r, "identical_to_sequential", _yes_no)] for r in rows]))
    out += ["", ("Whole child process (Python start-up, imports, data, cluster start, fit, exit), "
                 "median s:"), ""]
    out.append(_table(["grid", "backend", "cache", "fastbp process s", "sklearn process s"],
                      [[r["grid"], r["backend"], r["cache"],
                        *(_value(r[s], "process_median_s", "{:.2f}".format) for s in SYSTEMS)]
                       for r in rows]))
    out += _render_readme(report["readme_example"], report["readme_reference"])
    caveat = " (--smoke's tiny grids: not a measure of the goals)" if report["plan"]["smoke"] else ""
    out += ["", f"## Goals{caveat}", ""] + [_goal_line(g) for g in report["goals"]]
    out += _render_notes(report)
    return "\n".join(out) + "\n"


def _render_header(report: dict) -> list[str]:
    env, plan = report["environment"], report["plan"]
    versions = " · ".join(f"{k} {v}" for k, v in env["versions"].items())
    threads = ", ".join(f"{k}={v}" for k, v in env["thread_env"].items())
    return [
        f"# GridSearchCV wall time: fastbp vs scikit-learn{' (smoke)' if plan['smoke'] else ''}", "",
        (f"{report['timestamp']} · git {env['git']} · {env['cpu']} ({env['cpu_count']} cores) · "
         f"Python {env['python']} · {versions}"), "",
        (f"Load average (1/5/15 min) before {env['loadavg_start']}, after {env['loadavg_end']}. "
         f"Thread variables (inherited, not set by the bench): {threads}. "
         f"Warm cache: {env['warm_cache_dir']}."), "",
        (f"Seconds of `search.fit` alone: median (min) over {plan['warm_repeats']} warm / "
         f"{plan['cold_repeats']} cold run(s), each a fresh Python process, fastbp and "
         "scikit-learn interleaved. scikit-learn has no compile cache: its runs fill both the "
         "warm and the cold row. ratio = scikit-learn / fastbp (above 1: fastbp faster). "
         "Each repeat runs every backend, their order rotated from one repeat to the next. "
         "speed-up = the median over the repeats of the same system's sequential run (same "
         "cache state) / this row's run of the same repeat. "
         "identical = every run's `mean_test_score` bitwise equal to, and `best_params_` the "
         "same as, that system's sequential run."), ""]


def _render_readme(readme: list[dict], ref: dict | None) -> list[str]:
    if not readme:
        return []
    lines = ["", "## Cold README example", "",
             ("The README's example verbatim (`n_jobs=2`, loky), empty `NUMBA_CACHE_DIR`: "
              "seconds from starting `python` to the printed score."), ""]
    for i, r in enumerate(readme, 1):
        if "total_s" not in r:
            lines.append(f"- run {i}: failed: {r['error']}")
            continue
        same = "" if ref is None else f"; identical to sequential: {_yes_no(same_results(r, ref))}"
        lines.append(f"- run {i}: **{r['total_s']:.2f} s** (process exit {r['process_s']:.2f} s); "
                     f"printed `{' '.join(r['printed'])}`{same}")
    return lines


def _goal_line(g: dict) -> str:
    if g["value"] is None:
        return f"- {g['text']}: not measured ({g['missing']})"
    unit = "s" if g["name"] == "cold_readme_example_s" else "x"
    bound = "<=" if g["name"] == "cold_readme_example_s" else ">="
    verdict = "met" if g["met"] else "**not met**"
    return f"- {g['text']}: {g['value']:.2f}{unit} (goal {bound} {g['goal']:g}{unit}): {verdict}"


def _render_notes(report: dict) -> list[str]:
    notes = [f"- skipped backend {b}: {why}" for b, why in report["skipped"].items()]
    for c in report["warm_cache"]:
        warm_up = (f"failed: {c['warm_up_error']}" if c["warm_up_error"]
                   else f"{c['warm_up_s']:.1f} s")
        notes.append(f"- {c['grid']} warm-up search (untimed): {warm_up}; compiled entries in the "
                     f"warm cache {c['entries_before']} before, {c['entries_after_warm_up']} after "
                     f"it, {c['entries_after_runs']} after the runs")
        if (c["entries_after_runs"] or 0) > (c["entries_after_warm_up"] or 0):
            notes.append(f"- **{c['grid']}: the warm cache grew during the runs**: some warm runs "
                         "compiled (or another process wrote to the same cache)")
    notes += [f"- failed: {r['grid']} {r['backend']} {r['system']} {r['cache']} #{r['repeat'] + 1}: "
              f"{r['error']}" for r in report["runs"] if "error" in r]
    return ["", "## Notes", ""] + notes if notes else []


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def _csv(choices):
    def parse(value: str) -> tuple[str, ...]:
        names = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [n for n in names if n not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {','.join(choices)}")
        return names
    return parse


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=_csv(GRIDS), default=GRIDS, help="comma list (default: all)")
    ap.add_argument("--backends", type=_csv(BACKENDS), default=None,
                    help=f"comma list (default: all; --smoke: {','.join(SMOKE_BACKENDS)})")
    ap.add_argument("--systems", type=_csv(SYSTEMS), default=SYSTEMS, help="comma list")
    ap.add_argument("--cache", type=_csv(CACHES), default=None,
                    help="fastbp's compile-cache states (default: warm,cold; --smoke: warm)")
    ap.add_argument("--repeats", type=_positive, default=None,
                    help="runs per cell (default: 3 warm and scikit-learn, 1 cold; --smoke: 1)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny data, 2 epochs, sequential+threading, warm, 1 run")
    ap.add_argument("--cache-dir", default=None,
                    help="NUMBA_CACHE_DIR for the warm rows (default: the inherited one)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for search.{md,json}")
    return ap.parse_args(argv)


def make_plan(args: argparse.Namespace) -> tuple[Plan, dict]:
    """The plan, with the skipped backends and why."""
    backends = args.backends or (SMOKE_BACKENDS if args.smoke else BACKENDS)
    skipped = {b: why for b in backends if (why := backend_unavailable(b))}
    caches = args.cache or (("warm",) if args.smoke else CACHES)
    if args.repeats is not None:
        warm = cold = args.repeats
    else:
        warm, cold = (1, 1) if args.smoke else (3, 1)
    plan = Plan(grids=args.grids, backends=tuple(b for b in backends if b not in skipped),
                systems=args.systems, caches=tuple(c for c in CACHES if c in caches),
                warm_repeats=warm, cold_repeats=cold, smoke=args.smoke, cache_dir=args.cache_dir)
    return plan, skipped


def run(plan: Plan, skipped: dict) -> dict:
    """Every measurement of ``plan``, summarised into the report dict."""
    warm_dir = warm_cache_dir(plan.cache_dir)
    warm_env = child_env(plan.cache_dir)
    report = {"timestamp": _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
              "environment": environment(plan, warm_dir), "plan": asdict(plan),
              "skipped": skipped, "warm_cache": [], "runs": [], "readme_example": []}
    for b, why in skipped.items():
        log(f"[search] {b}: skipped: {why}")
    t0 = time.perf_counter()
    for name in plan.grids:
        grid = make_grid(name, plan.smoke)
        if "fastbp" in plan.systems and "warm" in plan.caches:
            runs, cache = run_grid_warm(plan, grid, warm_env, warm_dir)
            report["warm_cache"].append(cache)
        else:
            runs = run_grid(plan, grid, warm_env)
        report["runs"] += runs
    if "fastbp" in plan.systems and "cold" in plan.caches and "readme" in plan.grids:
        report["readme_example"] = run_readme_example(plan.cold_repeats)
    report["elapsed_s"] = time.perf_counter() - t0
    report["environment"]["loadavg_end"] = _loadavg()
    report["rows"] = build_rows(plan, report["runs"])
    # --smoke's readme grid is cut down: the full README example is not comparable to it.
    report["readme_reference"] = None if plan.smoke else reference(report["runs"], "readme", "fastbp")
    report["goals"] = goals(report["rows"], report["readme_example"])
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    plan, skipped = make_plan(args)
    report = run(plan, skipped)
    text = render(report)
    print(text)
    base = save_report(args.out / ("search-smoke" if plan.smoke else "search"), report, text)
    log(f"[search] saved {base}.json and .md ({report['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
