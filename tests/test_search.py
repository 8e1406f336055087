"""fastbp.search on Dask: results identical to a local fit, warm workers
(replacements included), and a search that survives a killed worker.

Dask is a test dependency (the ``test`` extra): without it this module fails
to import, as it should, instead of skipping.
"""

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import types

import distributed
import numpy as np
import pytest
import scipy.sparse
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, RandomizedSearchCV

import fastbp
from fastbp.search import (EVENT_TOPIC, PLUGIN_NAME, _fit_dtypes, _PrecomputedFolds,
                           fit_on_dask, fit_on_ray)

try:
    from .support import assert_same_results, search_data, search_grid
except ImportError:  # run as a plain module
    from support import assert_same_results, search_data, search_grid

# Deliberately short fits.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def local_grid():
    X, y = search_data()
    return clone(search_grid()).fit(X, y)


def test_identical_to_local_fit(client, local_grid):
    X, y = search_data()
    search = search_grid()
    cv, n_jobs = search.cv, search.n_jobs
    assert client.amm.running()
    assert fit_on_dask(search, X, y, client=client) is search
    assert_same_results(search, local_grid)
    # The recipe is undone: the user's parameters, the Active Memory Manager.
    assert (search.cv, search.n_jobs) == (cv, n_jobs)
    assert client.amm.running()
    np.testing.assert_array_equal(search.predict(X), local_grid.predict(X))
    # helper-107: the search kept the precomputed folds, every index array,
    # as scikit-learn's _checked_cv_orig for the model's life.
    assert repr(search._checked_cv_orig) == repr(local_grid._checked_cv_orig)


def test_randomized_regressor_float32(client):
    """float32 X: warmed in float32, trained in float32, same results."""
    X, y = make_regression(n_samples=300, n_features=8, noise=1.0, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    search = RandomizedSearchCV(
        fastbp.MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0),
        {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "batch_size": [32, 64]}, n_iter=4,
        cv=KFold(3, shuffle=True, random_state=1), random_state=0)
    local = clone(search).fit(X, y)
    fit_on_dask(search, X, y, client=client)
    assert_same_results(search, local)
    reports = client.run(lambda dask_worker: str(dask_worker.plugins[PLUGIN_NAME].report))
    assert all("float32" in r and "float64" not in r for r in reports.values()), reports


def test_groups_split_the_folds(client):
    X, y = search_data()
    groups = np.arange(len(y)) % 4
    search = GridSearchCV(
        fastbp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0),
        {"alpha": [1e-4, 1e-2]}, cv=GroupKFold(4))
    local = clone(search).fit(X, y, groups=groups)
    fit_on_dask(search, X, y, client=client, groups=groups)
    assert_same_results(search, local)


def _small_classifier():
    return fastbp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)


def test_metadata_routing_routes_groups_as_a_local_fit(client):
    # helper-107: fit_on_dask kept groups to split the outer folds and
    # never passed it on: with routing enabled, an inner GroupKFold search got
    # no groups ("All the 6 fits failed"), and groups that nothing requests,
    # which search.fit refuses, were accepted.
    X, y = search_data()
    X, y, groups = X[:300], y[:300], np.arange(300) % 6

    def nested():
        inner = GridSearchCV(_small_classifier(), {"alpha": [1e-4, 1e-2]}, cv=GroupKFold(2))
        return GridSearchCV(inner, {"estimator__learning_rate_init": [1e-3, 1e-2]},
                            cv=GroupKFold(3))

    plain = GridSearchCV(_small_classifier(), {"alpha": [1e-4]}, cv=KFold(3))
    with sklearn.config_context(enable_metadata_routing=True):
        local = nested().fit(X, y, groups=groups)
        search = fit_on_dask(nested(), X, y, client=client, groups=groups)
        assert_same_results(search, local)
        message = r"GridSearchCV.fit got unexpected argument\(s\) \{'groups'\}"
        with pytest.raises(TypeError, match=message):
            clone(plain).fit(X, y, groups=groups)
        # Refused before any cluster work (the client is not even looked at).
        with pytest.raises(TypeError, match=message):
            fit_on_dask(clone(plain), X, y, client="not a client", groups=groups)


def test_precomputed_folds_request_what_their_splitter_requested():
    folds = _PrecomputedFolds([], 0, "GroupKFold(...)", GroupKFold(2))
    for copy in (folds, pickle.loads(pickle.dumps(folds)), clone(folds, safe=False)):
        assert copy.get_metadata_routing().split.requests == {"groups": True}
    assert _PrecomputedFolds([], 0, "KFold(...)").get_metadata_routing().split.requests == {}


def test_a_generator_cv_is_warmed_up(client):
    # helper-107: copying the search for the warm-up failed on the generator
    # (TypeError), which was taken for "no fastbp estimator": no plugin.
    X, y = search_data()
    X, y = X[:300], y[:300]
    splits = list(KFold(3).split(X))
    local = GridSearchCV(_small_classifier(), {"alpha": [1e-4, 1e-2]}, cv=splits).fit(X, y)
    client.unregister_worker_plugin(PLUGIN_NAME)
    search = GridSearchCV(_small_classifier(), {"alpha": [1e-4, 1e-2]},
                          cv=(split for split in splits))
    fit_on_dask(search, X, y, client=client)
    assert set(client.run(lambda dask_worker: PLUGIN_NAME in dask_worker.plugins).values()) \
        == {True}
    assert_same_results(search, local)
    # As a local fit, it keeps the splits (a generator can be split only once).
    assert repr(search._checked_cv_orig) == repr(local._checked_cv_orig)


def test_warmup_takes_a_search_with_a_generator_cv():
    # helper-107: both failed with "cannot pickle 'generator' object".
    X = np.zeros((9, 2))
    search = GridSearchCV(_small_classifier(), {"alpha": [1e-4]},
                          cv=(split for split in KFold(3).split(X)))
    assert fastbp.warmup(search, dtypes="float64").entries
    plugin = fastbp.search.WarmupPlugin(search, dtypes="float64")
    assert plugin.estimators[0].estimator.get_params() == search.estimator.get_params()
    # The search's own cv is untouched.
    assert len(list(search.cv)) == 3


def test_big_endian_float32_warms_float32():
    # helper-107: ">f4" trains in float32, but the plugin warmed float64.
    X = np.zeros((4, 2), dtype=">f4")
    assert _fit_dtypes(X) == ("float32",)
    assert _fit_dtypes(X.astype(">f8")) == ("float64",)


def _warm_in_memory(dask_worker):
    """Whether a first fit of the grid's configuration in this worker's
    process finds all its kernels in memory (it neither compiles nor loads
    any: fastbp counts both), and whether the plugin reported success."""
    from fastbp.warmup import _cache_counts

    X, y = search_data()
    before = _cache_counts()
    clone(search_grid().estimator).set_params(max_iter=2).fit(X[:100], y[:100]).predict(X[:10])
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return (_cache_counts() == before,
            plugin is not None and plugin.report is not None and plugin.error is None)


def test_plugin_warms_every_worker_and_newcomers(client):
    X, y = search_data()
    fit_on_dask(search_grid(), X, y, client=client)
    assert set(client.run(_warm_in_memory).values()) == {(True, True)}
    before = set(client.scheduler_info()["workers"])

    # A worker that joins later warms up before any task reaches it.
    client.cluster.scale(3)
    client.wait_for_workers(3, timeout=60)
    new = set(client.scheduler_info()["workers"]) - before
    assert len(new) == 1
    assert client.run(_warm_in_memory, workers=list(new)) == {new.pop(): (True, True)}
    events = [msg for _, msg in client.get_events(EVENT_TOPIC)]
    assert all(e["ok"] for e in events)
    client.cluster.scale(2)
    client.wait_for_workers(2)


def _sparse_fit_in_memory(dask_worker):
    """Whether a first fit of the grid's configuration on sparse X in this
    worker's process finds all its kernels in memory, and the plugin's
    ``sparse``."""
    import scipy.sparse

    from fastbp.warmup import _cache_counts

    X, y = search_data()
    X = scipy.sparse.csr_matrix(X[:100])
    before = _cache_counts()
    clone(search_grid().estimator).set_params(max_iter=2).fit(X, y[:100]).predict(X[:10])
    return _cache_counts() == before, getattr(dask_worker.plugins[PLUGIN_NAME], "sparse", None)


def test_sparse_x_warms_the_sparse_kernels(client):
    # The plugin warmed dense kernels only: each worker's first fit on
    # sparse X loaded (or compiled) the toolkit's sparse kernels itself.
    import scipy.sparse

    X, y = search_data()
    search = GridSearchCV(clone(search_grid().estimator).set_params(max_iter=2),
                          {"alpha": [1e-4, 1e-2]}, cv=2)
    fit_on_dask(search, scipy.sparse.csr_matrix(X), y, client=client)
    # Fresh worker processes, warmed by the plugin alone (the search's own
    # fits loaded the kernels in the old ones).
    client.restart()
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(_sparse_fit_in_memory).values()) == {(True, True)}


def _kill_worker_once_busy(client, fit_done, killed):
    """Kill (SIGKILL) one worker's process as soon as it is executing a task
    of the search: the task is lost with it, and must be rerun elsewhere."""
    pids = client.run(os.getpid)
    target = min(pids)

    def executing(dask_worker):
        return len(dask_worker.state.executing)

    while not fit_done.is_set():
        try:
            busy = client.run(executing, workers=[target])[target]
        except Exception:  # noqa: BLE001 - the cluster is changing: try again
            busy = 0
        if busy:
            os.kill(pids[target], signal.SIGKILL)
            killed.append((target, pids[target], time.perf_counter()))
            return
        time.sleep(0.01)


def test_survives_a_killed_worker(client, local_grid):
    X, y = search_data()
    # The killer polls for a busy worker; a search that ran its tasks
    # between two polls (a fast machine, or a slow poll on a loaded one)
    # killed nothing, and is run again rather than failing the test.
    for _attempt in range(3):
        client.wait_for_workers(2)
        search = search_grid()
        fit_done, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_worker_once_busy,
                                  args=(client, fit_done, killed))
        killer.start()
        try:
            fit_on_dask(search, X, y, client=client)
            done_at = time.perf_counter()
        finally:
            fit_done.set()
            killer.join()
        if killed:
            break
    assert killed, "no worker was killed during three searches"
    _, pid, killed_at = killed[0]
    assert killed_at < done_at
    assert_same_results(search, local_grid)
    # The killed process is gone from the cluster (its nanny starts another).
    assert pid not in client.run(os.getpid).values()


def test_warmup_plugin_pickles_by_reference():
    from fastbp.search import WarmupPlugin

    plugin = WarmupPlugin(fastbp.MLPClassifier(), dtypes=["float32"])
    assert isinstance(plugin, distributed.WorkerPlugin)
    copy = pickle.loads(pickle.dumps(plugin))
    assert type(copy) is WarmupPlugin
    assert copy.dtypes == ("float32",) and copy.name == PLUGIN_NAME and copy.sparse is False


def test_precomputed_folds_travel_without_their_arrays():
    folds = [(np.arange(5), np.arange(5, 10))]
    cv = _PrecomputedFolds(folds, 1, "KFold(...)")
    assert pickle.loads(pickle.dumps(cv)).folds is None
    assert clone(GridSearchCV(fastbp.MLPClassifier(), {}, cv=cv)).cv.folds is folds
    assert list(cv.split()) == folds and cv.get_n_splits() == 1


def test_importing_does_not_import_dask():
    code = ("import sys, fastbp.search; "
            "assert 'distributed' not in sys.modules and 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("call, error, message", [
    (lambda s, X, y: fit_on_dask(s.estimator, X, y), TypeError,
     "fit_on_dask fits a hyper-parameter search .*got MLPClassifier"),
    # "x" reached the scheduler, which never ran the tasks: the search hung.
    # helper-134: a ValueError, where what is wrong is the type.
    (lambda s, X, y: fit_on_dask(s, X, y, retries="x"), TypeError,
     r"retries must be a non-negative int, got 'x' \(str\)"),
    (lambda s, X, y: fit_on_dask(s, X, y, retries="1"), TypeError,
     r"retries must be a non-negative int, got '1' \(str\)"),
    (lambda s, X, y: fit_on_dask(s, X, y, retries=1.0), TypeError,
     r"retries must be a non-negative int, got 1.0 \(float\)"),
    (lambda s, X, y: fit_on_dask(s, X, y, retries=True), TypeError,
     r"retries must be a non-negative int, got True \(bool\)"),
    (lambda s, X, y: fit_on_dask(s, X, y, retries=-1), ValueError,
     "retries must be a non-negative int, got -1"),
    (lambda s, X, y: fit_on_dask(s, X, y, dtypes=["float16"], warmup=False), ValueError,
     "dtypes must be among .* got 'float16'"),
    # helper-107: "no" is truthy, and warmed up.
    (lambda s, X, y: fit_on_dask(s, X, y, warmup="no"), TypeError,
     "fit_on_dask: warmup must be True or False, got 'no'"),
    # The search passed these on to every fit, which failed ("All the 6 fits
    # failed") after the data was scattered and the workers warmed.
    (lambda s, X, y: fit_on_dask(s, X, y, n_jobs=2), TypeError,
     r"fit_on_dask got n_jobs=2 as a fit parameter.*: drop it \(fit_on_dask runs"),
    (lambda s, X, y: fit_on_dask(s, X, y, cv=2), TypeError,
     r"fit_on_dask got cv=2 as a fit parameter.*set it on the search instead "
     r"\(search.set_params\(cv=2\)\)"),
])
def test_misuse_is_refused_before_any_cluster_work(call, error, message):
    # No client exists here: each is refused before one is looked for.
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    search = GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]}, cv=2)
    with pytest.raises(error, match=message):
        call(search, X, y)


def test_a_closed_client_or_none_is_refused_by_name(monkeypatch):
    # A closed client failed with "IOLoop is closed" (RuntimeError) or
    # "'NoneType' object has no attribute 'amm_handler'" (warmup=False).
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    search = GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]}, cv=2)
    closed = distributed.Client(processes=False, n_workers=0, dashboard_address=None,
                                set_as_default=False)
    closed.close()
    for warmup in (True, False):
        with pytest.raises(ValueError, match="running Dask client; the client given is "
                                             "'closed' .it was closed"):
            fit_on_dask(search, X, y, client=closed, warmup=warmup)
    # No current client (the module's cluster is one: what Dask raises without).
    def no_client():
        raise ValueError("No global client found and no address provided")

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(ValueError, match="fit_on_dask found no Dask client: pass client="):
        fit_on_dask(search, X, y)


def test_a_scheduler_address_is_refused_as_client_by_name():
    # It was refused as "the client given is None" (its status).
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    search = GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]}, cv=2)
    with pytest.raises(TypeError, match=r"needs a distributed.Client as client, got str "
                                        r"'tcp://127.0.0.1:8786': pass client="
                                        r"distributed.Client\('tcp://127.0.0.1:8786'\)\.$"):
        fit_on_dask(search, X, y, client="tcp://127.0.0.1:8786")


def test_warmup_plugin_sparse_must_be_a_bool():
    from fastbp.search import WarmupPlugin

    assert WarmupPlugin(fastbp.MLPClassifier()).sparse is False
    with pytest.raises(TypeError, match="sparse must be True or False, got 'yes'"):
        WarmupPlugin(fastbp.MLPClassifier(), sparse="yes")
    # As warmup() takes it (helper-44): NumPy's bool too.
    assert WarmupPlugin(fastbp.MLPClassifier(), sparse=np.True_).sparse is True


def test_one_dtype_is_a_dtype_not_its_characters():
    # dtypes="float32" failed with "got 'l'" (its second character).
    search = GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]}, cv=2)
    assert fastbp.search.WarmupPlugin(search, dtypes="float32").dtypes == ("float32",)


def test_fit_on_ray_takes_any_meta_estimator_with_n_jobs():
    # Its check asked for a search's cv, which fit_on_ray does not use.
    from sklearn.ensemble import BaggingClassifier

    from fastbp.search import _check_search

    _check_search(BaggingClassifier(fastbp.MLPClassifier()), "fit_on_ray", ("fit", "n_jobs"))
    with pytest.raises(TypeError, match="fit_on_ray fits an estimator that fits in parallel"):
        _check_search(fastbp.MLPClassifier(), "fit_on_ray", ("fit", "n_jobs"))


class _RayStarted(Exception):
    """Raised by the stand-in ray.init: the test has what it looks at."""


@pytest.fixture
def fake_ray(monkeypatch):
    """Enough of Ray's modules for fit_on_ray to reach ray.init, whose
    runtime_env arguments are recorded (Ray is not a test dependency: the
    Ray tests proper are in test_search_ray.py)."""
    inits = []

    def init(runtime_env=None, **kwargs):
        inits.append(runtime_env)
        raise _RayStarted

    ray = types.ModuleType("ray")
    ray.is_initialized, ray.init = (lambda: False), init
    ray.util = types.ModuleType("ray.util")
    ray.util.joblib = types.ModuleType("ray.util.joblib")
    ray.util.joblib.register_ray = lambda: None
    for module in (ray, ray.util, ray.util.joblib):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return inits


def test_fit_on_ray_warms_the_sparse_kernels_for_sparse_x(fake_ray, monkeypatch):
    # The Ray workers' warm-up ignored a sparse X (fit_on_dask's did not):
    # every worker's first sparse fit compiled or loaded the sparse kernels.
    warmed = []
    monkeypatch.setattr(fastbp.search, "_warm",
                        lambda estimators, dtypes, where, sparse=False: warmed.append(sparse))
    X, y = search_data()
    for data in (X, scipy.sparse.csr_matrix(X)):
        with pytest.raises(_RayStarted):
            fit_on_ray(search_grid(), data, y)
        fake_ray[-1]["worker_process_setup_hook"]()
    assert warmed == [False, True]


@pytest.mark.parametrize("param, message", [("n_jobs", r"drop it \(fit_on_ray runs"),
                                            ("cv", "set it on the search instead")])
def test_fit_on_ray_refuses_the_search_s_parameters_before_starting_ray(fake_ray, param,
                                                                        message):
    # As fit_on_dask (search.fit passed them on to every fit), after ray.init.
    X, y = search_data()
    with pytest.raises(TypeError, match=f"fit_on_ray got {param}=2 as a fit parameter.*"
                                        + message):
        fit_on_ray(search_grid(), X, y, **{param: 2})
    assert fake_ray == []


def test_fit_on_ray_warns_where_the_warm_up_cannot_expand_the_search(fake_ray):
    # helper-107: any error expanding the search was taken for "no fastbp
    # estimator" and the warm-up silently skipped (here: a nested search's
    # generator cv, which no copy takes).
    X, y = search_data()
    inner = GridSearchCV(_small_classifier(), {"alpha": [1e-4]},
                         cv=(split for split in KFold(3).split(X)))
    with pytest.warns(UserWarning, match="fit_on_ray skips the warm-up: fastbp.warmup cannot "
                                         "expand the search .*cannot pickle 'generator'"):
        with pytest.raises(_RayStarted):
            fit_on_ray(GridSearchCV(inner, {"estimator__alpha": [1e-4]}), X, y)
    assert fake_ray == [None]


@pytest.mark.parametrize("call, error, message", [
    (lambda X, y: fit_on_ray(fastbp.MLPClassifier(), X, y), TypeError,
     "fit_on_ray fits an estimator that fits in parallel"),
    (lambda X, y: fit_on_ray(search_grid(), X, y, max_retries=-1), ValueError,
     "max_retries must be a non-negative int, got -1"),
    # helper-134: a ValueError, where what is wrong is the type.
    (lambda X, y: fit_on_ray(search_grid(), X, y, max_retries="3"), TypeError,
     r"max_retries must be a non-negative int, got '3' \(str\)"),
    (lambda X, y: fit_on_ray(search_grid(), X, y, max_retries=3.0), TypeError,
     r"max_retries must be a non-negative int, got 3.0 \(float\)"),
    (lambda X, y: fit_on_ray(search_grid(), X, y, warmup="no"), TypeError,
     "fit_on_ray: warmup must be True or False, got 'no'"),
])
def test_fit_on_ray_refuses_misuse_without_ray_installed(monkeypatch, call, error, message):
    # helper-107: Ray was imported first, so without it these raised
    # ImportError instead of what fit_on_dask raises.
    monkeypatch.setitem(sys.modules, "ray", None)  # what "not installed" looks like
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    with pytest.raises(error, match=message):
        call(X, y)
    with pytest.raises(ImportError, match="fit_on_ray needs Ray"):
        fit_on_ray(search_grid(), X, y)


def _example_names(docstring):
    """The names an Examples section reads and the names it defines."""
    import ast
    import builtins
    import doctest

    source = "\n".join(example.source for example in doctest.DocTestParser().get_examples(
        docstring))
    tree = ast.parse(source)
    defined, read = set(vars(builtins)), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return read, defined


def test_every_example_of_the_search_module_defines_what_it_uses():
    # helper-124: fit_on_ray's example used X, y and ray without defining
    # them (as did the module's and WarmupPlugin's), so it could not be
    # copied and run; skipped lines count, they are what a reader runs.
    import ast

    import fastbp.search as search_module

    with open(search_module.__file__, encoding="utf-8") as f:
        module = ast.parse(f.read())
    docstrings = {"fastbp.search": ast.get_docstring(module)}
    docstrings.update((node.name, ast.get_docstring(node)) for node in ast.walk(module)
                      if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                      and ast.get_docstring(node) and ">>>" in ast.get_docstring(node))
    assert {"fastbp.search", "fit_on_dask", "fit_on_ray", "_WarmupPluginBase"} <= set(docstrings)
    undefined = {}
    for name, docstring in docstrings.items():
        read, defined = _example_names(docstring)
        if read - defined:
            undefined[name] = sorted(read - defined)
    assert not undefined, f"examples use names they never define: {undefined}"
