"""fastbp.search on Ray: results identical to a local fit, warm workers, and
a search that survives a killed worker.

Ray is a heavy install, so these tests are marked ``ray`` and deselected by
default (``addopts`` in pyproject.toml; pytest reports them as deselected).
Run them with::

    pip install "fastbp[ray]"
    python -m pytest -m ray tests/test_search_ray.py

Selected without Ray installed, the module fails to import: it never skips.
"""

import os
import signal
import threading
import time

import pytest
from sklearn.base import clone

from fastbp.search import fit_on_ray

try:
    from .support import assert_same_results, search_data, search_grid
except ImportError:  # run as a plain module
    from support import assert_same_results, search_data, search_grid

pytestmark = [pytest.mark.ray,
              pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]


@pytest.fixture(scope="module")
def ray():
    """The ray module, not running: fit_on_ray starts it, with its warm-up
    hook. Imported here, not at the top, so that collecting this module
    (deselected) works without Ray; selected, it errors without Ray."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_grid():
    X, y = search_data()
    return clone(search_grid()).fit(X, y)


def test_identical_to_local_fit_and_workers_warm(ray, local_grid):
    X, y = search_data()
    search = search_grid()
    n_jobs = search.n_jobs
    assert fit_on_ray(search, X, y) is search
    assert ray.is_initialized()
    assert_same_results(search, local_grid)
    assert search.n_jobs == n_jobs

    estimator = clone(search.estimator)

    def warm_in_memory():
        """Whether a first fit in this (fresh) Ray worker process finds all
        its kernels in memory, neither compiling nor loading any: only the
        setup hook can have loaded them."""
        import numpy as np

        from fastbp.warmup import _cache_counts

        before = _cache_counts()
        rng = np.random.RandomState(0)
        estimator.set_params(max_iter=2).fit(rng.rand(100, 64), np.arange(100) % 10)
        return _cache_counts() == before

    # Defined here, so that it travels by value (this module is not
    # importable on Ray's workers).
    assert ray.get(ray.remote(warm_in_memory).remote())


def _pool_actor_running_a_batch():
    import psutil  # a dependency of Ray

    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        title = " ".join([proc.info["name"] or ""] + (proc.info["cmdline"] or []))
        if "PoolActor.run_batch" in title:
            return proc.info["pid"]
    return None


def test_survives_a_killed_worker(ray, local_grid):
    X, y = search_data()
    search = search_grid()
    done, killed = threading.Event(), []

    def kill_once_busy():
        while not done.is_set():
            pid = _pool_actor_running_a_batch()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(time.perf_counter())
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_once_busy)
    killer.start()
    try:
        fit_on_ray(search, X, y, max_retries=2)
        done_at = time.perf_counter()
    finally:
        done.set()
        killer.join()
    assert killed and killed[0] < done_at, "no worker was killed during the search"
    assert_same_results(search, local_grid)
