"""Hyper-parameter searches over fastbp on a Dask or a Ray cluster.

``GridSearchCV`` and ``RandomizedSearchCV`` already run on a cluster through
joblib (``joblib.parallel_backend("dask")``, ``("ray")``). Two things make
that fragile or slow out of the box, and this module fixes both in one call:

* **A lost worker can fail the whole search.** Killing one of two workers
  while it ran a fit, 5 of 15 searches survived under
  ``joblib.parallel_backend("dask")`` and 65 of 65 under
  :func:`fit_on_dask`; 0 of 3 under Ray's defaults and 8 of 8 under
  :func:`fit_on_ray` (the figures of docs/scaling-search.md, summed over the runs made). On Dask, joblib sends the cross-validation folds (and,
  once the Active Memory Manager has trimmed their replicas, ``X`` and
  ``y``) to one worker only, as data that cannot be recomputed: when that
  worker dies, every task needing them fails. :func:`fit_on_dask`
  precomputes the folds, copies ``X``, ``y`` and the folds to every worker,
  and pauses the Active Memory Manager while the search runs, so that a
  copy always survives. On Ray, the actors that run the fits are not
  restarted unless asked: :func:`fit_on_ray` asks for a finite number of
  restarts and task retries.
* **Every worker process compiles (or loads) fastbp's kernels on its first
  fit**: seconds per dtype on a cold cache, inside the first task. Both
  functions warm every worker with :func:`fastbp.warmup` before its first
  task, replacement workers included: on Dask through :class:`WarmupPlugin`,
  a worker plugin; on Ray through a worker setup hook and the initialiser
  of the pool's actors.

Results are those of a local ``search.fit`` bit for bit, whichever workers
the fits ran on and however many were lost, as long as the estimator's
``random_state`` is fixed (each fit is then deterministic) and the local
search runs with the workers' BLAS thread count: a fit's last digits depend
on it, and Dask's nanny (as Ray, by default) starts workers with one thread
(compare with a local search under ``threadpoolctl.threadpool_limits(1)``).
The refit of the best candidate runs in the calling process, as in a local
search; both functions run it with one BLAS thread too, whatever this
process's pool, so that ``best_estimator_`` matches that local search as
``cv_results_`` does.

Dask and Ray are optional: ``pip install "fastbp[dask]"`` or
``pip install "fastbp[ray]"``. This module imports them only when called.

Examples
--------
>>> from distributed import Client                            # doctest: +SKIP
>>> from sklearn.datasets import load_digits
>>> from sklearn.model_selection import GridSearchCV
>>> from fastbp import MLPClassifier
>>> from fastbp.search import fit_on_dask
>>> X, y = load_digits(return_X_y=True)
>>> client = Client("scheduler-address:8786")                # doctest: +SKIP
>>> search = GridSearchCV(MLPClassifier(random_state=0),
...                       {"alpha": [1e-4, 1e-3], "hidden_layer_sizes": [(32,), (64,)]})
>>> fit_on_dask(search, X, y, client=client)                 # doctest: +SKIP
>>> search.best_params_                                      # doctest: +SKIP
"""

import asyncio
import logging
import numbers
import os
import sys
import warnings

import numpy as np
import scipy.sparse
import sklearn
from sklearn.base import is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils.metadata_routing import get_routing_for_object, process_routing
from sklearn.utils.validation import indexable
from threadpoolctl import threadpool_limits

from .estimators import MLPClassifier
from .search_space import (_PATH_PARAMS, _SHAPE_PARAMS, _clone_without_cv, _configurations,
                           _expand, _grids, _held, _holds_fastbp, _is_search)
from .warmup import DTYPES, _check_dtypes, _check_flag
from .warmup import warmup as _warmup

# WarmupPlugin is public too, but built on first use (it subclasses a Dask
# class); out of __all__ so that a star import does not need Dask.
__all__ = ["fit_on_dask", "fit_on_ray"]

logger = logging.getLogger(__name__)

# Plugin name on the Dask scheduler: registering again replaces the plugin
# (and warms up again, which is cheap once the kernels are loaded).
PLUGIN_NAME = "fastbp-warmup"
# Topic of the events each worker logs after warming up:
# ``client.get_events("fastbp-warmup")``.
EVENT_TOPIC = "fastbp-warmup"


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "fastbp.search.fit_on_dask and WarmupPlugin need Dask's distributed "
            'scheduler: pip install "fastbp[dask]"') from exc
    return distributed


def _import_ray():
    try:
        import ray
        import ray.util.joblib
    except ImportError as exc:
        raise ImportError(
            'fastbp.search.fit_on_ray needs Ray: pip install "fastbp[ray]"') from exc
    return ray


# ---------------------------------------------------------------- warming up


def _warm(estimators, dtypes, where, sparse=False):
    """Run :func:`fastbp.warmup`, logging its report; never raise.

    A failed warm-up must not take a worker down with it (a Dask worker
    whose plugin fails to set up, a Ray worker whose setup hook raises):
    the fits would still compile what they need, only later.
    """
    try:
        report = _warmup(*estimators, dtypes=dtypes, sparse=sparse)
    except Exception as exc:  # noqa: BLE001 - logged and returned, see above
        logger.warning("fastbp warmup failed on %s: %r; fits there will compile "
                       "their kernels on first use.", where, exc)
        return None, exc
    logger.info("fastbp warmup on %s:\n%s", where, report)
    return report, None


def _check_warmable(estimators):
    """Raise what :func:`fastbp.warmup` raises for ``estimators``, without
    compiling anything.

    Run in the client: a worker's failed warm-up is only logged (see
    :func:`_warm`), so a list or an invalid estimator was accepted without a
    word there, and every worker compiled on first use (fix-309).
    """
    _configurations(estimators or (MLPClassifier(),))


class _WarmupPluginBase:
    """Compile or load fastbp's kernels on every Dask worker.

    A Dask worker plugin: registered with ``client.register_plugin``, its
    ``setup`` runs :func:`fastbp.warmup` on every worker of the cluster and on
    every worker that joins later, including the replacements of lost
    workers, before that worker runs its first task. Each worker then loads
    the kernels from the on-disk cache in a fraction of a second, or, on a
    cold cache, compiles them once per machine (the compiles take a lock in
    the cache directory: the other workers of the machine wait, then load).

    Parameters
    ----------
    *estimators : estimator
        What the workers will fit: fastbp estimators, or searches and
        pipelines holding them (see :func:`fastbp.warmup`). Unfitted copies
        travel to the workers. What :func:`fastbp.warmup` refuses (a list,
        another library's estimator, an invalid parameter) raises its error
        here, in the client, as does an invalid ``dtypes`` or ``sparse``.
    dtypes : {"float32", "float64"} or a sequence of them, default both
        The dtypes of ``X`` that will be fitted.
    sparse : bool, default False
        Warm the kernels for a sparse ``X`` too (see :func:`fastbp.warmup`).
    name : str, default "fastbp-warmup"
        The plugin's name on the scheduler; registering a plugin of the same
        name replaces it.

    Attributes
    ----------
    report : WarmupReport or None
        On a worker, after ``setup``: what the warm-up did there (``None``
        in the client, or if it failed).
    error : Exception or None
        On a worker: why the warm-up failed, if it did. A failed warm-up is
        logged and never fails the worker.

    Notes
    -----
    ``setup`` runs the warm-up in a thread, so that the worker keeps
    answering the scheduler while it compiles. A worker that joins the
    cluster sets its plugins up before it takes tasks. Each worker logs the
    report (logger ``fastbp.search``) and sends it to the scheduler as an
    event: ``client.get_events("fastbp-warmup")`` lists, per worker, its
    address, the seconds, and the kernels compiled and loaded.

    The class derives from ``distributed.WorkerPlugin``, which is imported
    when ``fastbp.search.WarmupPlugin`` is first looked up, not when
    :mod:`fastbp.search` is imported.

    Examples
    --------
    >>> from distributed import Client                        # doctest: +SKIP
    >>> from sklearn.model_selection import GridSearchCV
    >>> from fastbp import MLPClassifier
    >>> from fastbp.search import WarmupPlugin                # doctest: +SKIP
    >>> search = GridSearchCV(MLPClassifier(random_state=0), {"alpha": [1e-4, 1e-2]})
    >>> client = Client("scheduler-address:8786")            # doctest: +SKIP
    >>> plugin = WarmupPlugin(search, dtypes=["float32"])     # doctest: +SKIP
    >>> client.register_plugin(plugin)                      # doctest: +SKIP
    >>> client.get_events("fastbp-warmup")                  # doctest: +SKIP
    """

    # Registering again (other estimators, other dtypes) must replace it.
    idempotent = False

    def __init__(self, *estimators, dtypes=DTYPES, sparse=False, name=PLUGIN_NAME):
        self.dtypes = _check_dtypes(dtypes)
        self.sparse = _check_flag(sparse, "sparse")
        _check_warmable(estimators)
        # Without a search's cv, which a generator of splits makes uncopyable
        # (and which no warm-up uses).
        self.estimators = tuple(_clone_without_cv(e) for e in estimators)
        self.name = name
        self.report = None
        self.error = None

    async def setup(self, worker):
        # In a thread, so that the worker's event loop keeps serving its
        # connections (the scheduler's messages, heartbeats) during a compile
        # that can take many seconds.
        loop = asyncio.get_running_loop()
        self.report, self.error = await loop.run_in_executor(
            None, _warm, self.estimators, self.dtypes, f"worker {worker.address}",
            self.sparse)
        event = {"worker": worker.address, "ok": self.error is None}
        if self.report is not None:
            event.update(seconds=self.report.seconds, compiled=self.report.compiled,
                         loaded=self.report.loaded, report=str(self.report))
        else:
            event["error"] = repr(self.error)
        worker.log_event(EVENT_TOPIC, event)


def _make_warmup_plugin():
    distributed = _import_distributed()

    class WarmupPlugin(_WarmupPluginBase, distributed.WorkerPlugin):
        __doc__ = _WarmupPluginBase.__doc__

    # Pickled by reference (fastbp.search.WarmupPlugin): a worker unpickling
    # a plugin looks the name up through __getattr__ below, which builds the
    # same class there.
    WarmupPlugin.__module__ = __name__
    WarmupPlugin.__qualname__ = "WarmupPlugin"
    return WarmupPlugin


def _warmup_plugin_class():
    cls = globals().get("WarmupPlugin")
    if cls is None:
        cls = globals()["WarmupPlugin"] = _make_warmup_plugin()
    return cls


def __getattr__(name):
    # WarmupPlugin must subclass distributed.WorkerPlugin (Client.register_plugin
    # dispatches on it), but importing fastbp.search must not import Dask.
    if name == "WarmupPlugin":
        return _warmup_plugin_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"WarmupPlugin"})


def _fit_dtypes(X):
    """The dtype fastbp will train ``X`` in, as scikit-learn's validation
    picks it: float32 where ``X`` is float32, or is a DataFrame whose
    columns promote to float32; float64 for anything else."""
    # Byte order aside: big-endian float32 trains in float32 too, and
    # np.dtype(">f4") == np.float32 is False on a little-endian machine.
    def native(d):
        return np.dtype(d).newbyteorder("=")

    try:
        dtype = getattr(X, "dtype", None)
        if dtype is None and hasattr(X, "dtypes"):  # a DataFrame
            columns = list(X.dtypes)
            # check_array keeps np.result_type of NumPy columns where it is
            # float32 or float64: float32 with bool, float16 or 8- and 16-bit
            # integer columns trains in float32 (rev-272). A column of any
            # other dtype (pandas' nullable or sparse ones) leaves it no
            # common dtype to keep: it converts to float64.
            dtype = (np.result_type(*columns) if columns
                     and all(isinstance(d, np.dtype) for d in columns) else None)
        float32 = dtype is not None and native(dtype) == np.float32
    except TypeError:  # no common dtype (dates and numbers), or not NumPy's
        float32 = False
    return ("float32",) if float32 else ("float64",)


def _check_search(search, function, needs):
    """Refuse what lacks the attributes ``needs`` that ``function`` uses,
    naming it (an estimator failed inside fit_on_dask with
    "'MLPClassifier' object has no attribute 'cv'")."""
    if not all(hasattr(search, a) for a in needs):
        what = ("a hyper-parameter search (GridSearchCV, RandomizedSearchCV)" if "cv" in needs
                else "an estimator that fits in parallel (an n_jobs parameter)")
        raise TypeError(
            f"{function} fits {what}, got {type(search).__name__}. To fit one estimator, "
            "wrap it in a search or call its fit inside joblib.parallel_backend.")


def _check_count(value, name):
    """Refuse a retry count that is not a non-negative int: TypeError for
    what is no int (bools and whole floats included), ValueError for a
    negative one."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be a non-negative int, got {value!r} "
                        f"({type(value).__name__}).")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}.")


def _check_fit_params(search, function, fit_params):
    """Refuse the search's own parameters given as fit parameters: search.fit
    passed them on to every fit, which failed ("All the 6 fits failed", or
    "fit() got an unexpected keyword argument 'n_jobs'") only after the data
    was sent and the workers had warmed up."""
    if "n_jobs" in fit_params:
        raise TypeError(
            f"{function} got n_jobs={fit_params['n_jobs']!r} as a fit parameter, which "
            f"search.fit would pass to every fit: drop it ({function} runs the search "
            "with n_jobs=-1, every CPU of the cluster, whatever the search's n_jobs).")
    if "cv" in fit_params and hasattr(search, "cv"):
        raise TypeError(
            f"{function} got cv={fit_params['cv']!r} as a fit parameter, which search.fit "
            "would pass to every fit: set it on the search instead "
            f"(search.set_params(cv={fit_params['cv']!r})).")


def _has_fastbp(search, function):
    """Whether ``search`` fits fastbp estimators (else there is nothing to warm).

    Where its configurations cannot be expanded (a grid whose every point a
    fit refuses, an estimator that cannot be copied), the warm-up is skipped
    with a warning naming why: the search's own fits say more, or compile
    what they need on first use.
    """
    try:
        return bool(_expand(search))
    except (ValueError, TypeError) as exc:
        warnings.warn(f"{function} skips the warm-up: fastbp.warmup cannot expand the "
                      f"search ({type(exc).__name__}: {exc}); each worker will compile or "
                      "load the kernels in its first fit instead.", stacklevel=3)
        return False


def _check_sparse(sparse, function):
    """``sparse`` as a bool, or None (auto); a TypeError naming it and
    ``function`` otherwise ("no" is truthy)."""
    if sparse is None:
        return None
    try:
        return _check_flag(sparse, "sparse", f"{function}: ")
    except TypeError:
        # _check_flag's message leaves out None, which is taken here.
        raise TypeError(f"{function}: sparse must be True, False or None (auto), "
                        f"got {sparse!r}.") from None


def _behind_steps(obj):
    """Whether fitting ``obj`` trains a fastbp estimator on what other steps
    of a pipeline made of ``X`` (at any point of a search's grid, nested
    searches included), rather than on ``X`` itself.

    Any step before it counts, ``"passthrough"`` included: a search may
    swap a transformer in there.
    """
    seen = set()
    for grid in _grids(obj):
        # Only a point's values that hold estimators (swapped in) can change
        # the steps: one clone per choice of them, not per point (fix-279:
        # 2,600 clones of a search whose points set path parameters only).
        swapped = tuple(sorted((k, id(v)) for k, v in grid.items()
                               if k.split("__")[-1] not in _PATH_PARAMS + _SHAPE_PARAMS))
        if swapped in seen:
            continue
        seen.add(swapped)
        candidate = _clone_without_cv(obj)
        if grid:
            base = candidate.estimator if hasattr(candidate, "estimator") else candidate
            base.set_params(**grid)
        held = _held(candidate)
        for h in held:
            steps = getattr(h, "steps", None)
            if isinstance(steps, list) and any(
                    isinstance(step, tuple) and len(step) >= 2 and _holds_fastbp([step[1]])
                    for step in steps[1:]):
                return True
        if any(_is_search(h) and _behind_steps(h) for h in held[1:]):
            return True
    return False


def _sparse_frame(X):
    """Whether ``X`` is a pandas DataFrame of sparse columns only, which
    scikit-learn's validation converts to a sparse matrix (a frame with
    any dense column it converts to a dense array, with a warning)."""
    # (Only pandas makes one: it was imported to make it.)
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(X, pd.DataFrame):
        return False
    # check_array's own test: pandas' sparse accessor, and every column a
    # SparseDtype.
    return hasattr(X, "sparse") and all(isinstance(d, pd.SparseDtype) for d in X.dtypes)


def _numeric_dense(X):
    """Whether ``X`` is dense numbers (an array, a DataFrame of numeric
    columns, or a list or tuple of rows of numbers), which pipeline steps
    in front of an estimator mostly pass on dense and in their dtype (a
    scaler, an imputer)."""
    if scipy.sparse.issparse(X) or _sparse_frame(X):
        return False
    if isinstance(X, (list, tuple)):
        # Lists have no dtype to read. The first rows tell numbers from
        # text or records (a vectorizer's input) without converting all
        # of X; scikit-learn's steps make a float64 array of numbers.
        try:
            return np.asarray(X[:2]).dtype.kind in "biuf"
        except Exception:  # ragged rows, or anything numpy will not take
            return False
    if hasattr(X, "dtypes") and not hasattr(X, "dtype"):  # a DataFrame
        try:
            from pandas.api.types import is_numeric_dtype

            return all(is_numeric_dtype(d) for d in X.dtypes)
        except Exception:  # another library's frame: warm for anything
            return False
    dtype = getattr(X, "dtype", None)
    try:
        return dtype is not None and np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False


def _warm_inputs(search, X, dtypes, sparse):
    """The dtypes and whether sparse, to warm up for fitting ``search`` on
    ``X``: as given, where given (not None); otherwise from ``X`` (the dtype
    it trains in; sparse where it is sparse, or a DataFrame of sparse
    columns only, which trains from CSR), unless ``X`` is not dense
    numbers (text, objects, categories) and a fastbp estimator sits behind
    other pipeline steps: what reaches it is then theirs, whose dtype and
    kind ``X`` does not tell (a ``TfidfVectorizer`` makes a sparse matrix
    of text, float32 with ``dtype=np.float32``), and both dtypes and the
    sparse kernels are warmed. Dense numbers behind a scaler (the common
    pipeline) warm what ``X`` itself would: three times the compiling for
    kernels such a search never runs would slow every cold worker."""
    behind = ((dtypes is None or sparse is None) and not _numeric_dense(X)
              and _behind_steps(search))
    if dtypes is None:
        dtypes = DTYPES if behind else _fit_dtypes(X)
    if sparse is None:
        sparse = behind or scipy.sparse.issparse(X) or _sparse_frame(X)
    return dtypes, sparse


# --------------------------------------------------------------------- folds


class _PrecomputedFolds:
    """A splitter returning (train, test) index arrays computed beforehand.

    Set as the search's ``cv`` while it runs: its ``split`` hands back the very
    array objects that were scattered, which is how joblib's Dask backend
    recognises them (by identity) and sends futures instead of data.

    It pickles without the folds. scikit-learn passes the search itself to
    every task (``_fit_and_score(caller=search)``, for its callbacks), so
    folds travelling with it would be copied into every task; no task
    splits. Copies (``clone``, ``copy.deepcopy``) keep them.

    With metadata routing enabled, it requests what the splitter it stands
    for requested (``routing``, that splitter's routing): the search then
    routes ``groups`` as a local fit would, to the estimators that request
    it too, and refuses it where nothing does.
    """

    def __init__(self, folds, n_splits, description, routing=None):
        self.folds = folds
        self.n_splits = n_splits
        self.description = description
        self.routing = get_routing_for_object(routing)

    def split(self, X=None, y=None, groups=None):
        if self.folds is None:
            raise RuntimeError("These precomputed folds were pickled without their "
                               "index arrays; only the client can split.")
        yield from self.folds

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def get_metadata_routing(self):
        return get_routing_for_object(self.routing)

    def __reduce__(self):
        return (_PrecomputedFolds, (None, self.n_splits, self.description, self.routing))

    def __deepcopy__(self, memo):
        # The index arrays are never written to: sharing them is safe.
        return _PrecomputedFolds(self.folds, self.n_splits, self.description, self.routing)

    def __repr__(self):
        return f"PrecomputedFolds({self.description})"


def _split_params(search, fit_params):
    """What ``search.fit(X, y, **fit_params)`` passes its splitter's
    ``split``, refusing (TypeError) what metadata routing routes nowhere,
    as that fit would; without routing, ``groups``, taken out of
    ``fit_params``: the search then receives the folds."""
    if sklearn.get_config()["enable_metadata_routing"]:
        return process_routing(search, "fit", **fit_params).splitter.split
    return {"groups": fit_params.pop("groups", None)}


def _precompute_folds(search, X, y, split_params):
    # The routing of the cv given (an int, a generator: none), as the search
    # routes it, not of the splitter check_cv makes of it.
    routing = get_routing_for_object(search.cv)
    cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    folds = [(train, test) for train, test in cv.split(X, y, **split_params)]
    return _PrecomputedFolds(folds, len(folds), repr(cv), routing)


# ---------------------------------------------------------------------- Dask


def fit_on_dask(search, X, y=None, *, client=None, warmup=True, dtypes=None, sparse=None,
                retries=1, **fit_params):
    """Fit a hyper-parameter search on a Dask cluster, surviving lost workers.

    Applies, for the duration of the fit, the recipe that lets a search
    survive the loss of workers with results identical to a local run:

    1. the cross-validation folds are computed here, once, as index arrays;
    2. ``X``, ``y`` and every fold are copied to every worker (scattered,
       ``broadcast=True``, under keys unique to this call), and joblib's Dask
       backend sends tasks those copies, so that no worker holds the only
       copy of anything a task needs;
    3. the scheduler's Active Memory Manager is stopped (and restarted
       afterwards if it was running), since it would otherwise delete those
       extra copies;
    4. unless ``warmup=False``, a :class:`WarmupPlugin` is registered: every
       worker, and every worker that joins later (replacements included),
       compiles or loads the kernels before its first task (the sparse
       ones too where the fits may receive a sparse matrix, see
       ``sparse``). It stays registered after the fit.

    Tasks running on a worker that dies are rerun elsewhere by the
    scheduler (up to its ``distributed.scheduler.allowed-failures`` times,
    3 by default, per task).

    Parameters
    ----------
    search : GridSearchCV or RandomizedSearchCV
        The search, fitted in place, like ``search.fit(X, y)``. Its ``cv``
        and ``n_jobs`` are changed while it runs (to the precomputed folds;
        to -1, i.e. every thread of the cluster) and restored afterwards;
        its ``cv`` is split once, here.
    X : array-like of shape (n_samples, n_features)
        The training data, as ``search.fit`` takes it (a DataFrame, a sparse
        matrix, or what the search's pipeline steps take); copied to every
        worker (see above).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        The targets, as ``search.fit`` takes them; copied to every worker
        with ``X``. None for a search that takes none.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``). A
        closed client, or none at all, is refused (ValueError), and so is
        anything else, such as a scheduler's address (TypeError: pass
        ``distributed.Client(address)``).
    warmup : bool, default True
        Register a :class:`WarmupPlugin` for the search's configurations
        (skipped when the search holds no fastbp estimator, and, with a
        warning saying why, when :func:`fastbp.warmup` cannot expand them).
    dtypes : {"float32", "float64"} or a sequence of them, optional
        The dtypes to warm up. Default: the one ``X`` trains in (float32 for
        float32 ``X`` or a DataFrame whose columns promote to float32, as
        float32 with bool or int8 columns does; float64 otherwise); both
        where ``X`` is not dense numbers (text, categories) and a fastbp
        estimator sits behind other pipeline steps, which make its input (give the dtype they make,
        e.g. ``"float32"`` after ``TfidfVectorizer(dtype=np.float32)``, to
        warm only that; or where steps change the dtype of numbers).
    sparse : bool or None, default None
        Warm the kernels for a sparse input too. None: where ``X`` is
        sparse (a DataFrame of pandas sparse columns only included, which
        trains from CSR), or where ``X`` is not dense numbers and a fastbp
        estimator sits behind other pipeline steps (a ``TfidfVectorizer`` or a
        ``OneHotEncoder`` hands it a sparse matrix of text). Give True where
        steps make a sparse matrix of numbers (a ``OneHotEncoder`` of
        integer codes), False where steps make a dense array of text.
    retries : int, default 1
        How many times the scheduler reruns a task that raised (a worker
        running out of memory, a failed transfer). Tasks on a worker that
        died are rerun regardless (see above). A fit that fails is scored
        ``error_score`` by scikit-learn and does not raise unless
        ``error_score="raise"``.
    **fit_params
        Passed to ``search.fit``. ``groups`` is used to split (the search
        then receives the folds); with metadata routing enabled
        (``sklearn.set_config(enable_metadata_routing=True)``), the search
        receives it too and routes it as a local fit does, to the
        estimators that request it (a nested search's ``GroupKFold``), and
        what it would route nowhere is refused here (TypeError), before
        any cluster work. ``cv`` and ``n_jobs`` are refused (TypeError):
        they are the search's, not fit parameters.

    Returns
    -------
    search
        The fitted search (the object passed in).

    Raises
    ------
    TypeError
        Before any cluster work: if ``search`` is not a hyper-parameter
        search (no ``cv``, ``estimator``, ``fit`` or ``n_jobs``), ``retries``
        is not an int, ``warmup`` not True or False, ``sparse`` not True,
        False or None, ``dtypes`` neither a dtype name nor a sequence of
        them, ``client`` not a ``distributed.Client``, or ``fit_params``
        hold ``n_jobs``, ``cv`` or (with metadata routing) what the search
        routes nowhere.
    ValueError
        If ``retries`` is negative, ``dtypes`` is empty or names a dtype
        other than "float32" and "float64", or there is no running client
        (none given and none current, or a closed one).
    ImportError
        If Dask's ``distributed`` is not installed (``pip install
        "fastbp[dask]"``), once the arguments but ``client`` are checked.

    Notes
    -----
    The data is on every worker at once: ``X`` takes ``n_workers`` times its
    size in the cluster's memory. Fit parameters such as ``sample_weight``
    are sent by joblib to one worker only; a search using them can fail if
    that worker dies. Successive-halving searches work but split subsamples
    of their own, which are not covered by the recipe. Two ``fit_on_dask``
    calls sharing one cluster at once would race on the Active Memory
    Manager's state.

    Results are identical to ``search.fit(X, y)`` on one machine, bit for
    bit, when the estimator's ``random_state`` is fixed, ``cv`` splits
    deterministically, and the local search runs with the workers' BLAS
    thread count (one, as Dask's nanny starts them: compare with a local
    search under ``threadpoolctl.threadpool_limits(1)``). The refit of the
    best candidate runs here, in the calling process, as scikit-learn runs
    it: under ``threadpool_limits(1)``, so that ``best_estimator_`` is that
    local search's too (with this process's whole BLAS pool, a large
    float32 fit split its steps between threads and rounded differently).

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from fastbp import MLPClassifier
    >>> from fastbp.search import fit_on_dask
    >>> X, y = load_digits(return_X_y=True)
    >>> search = GridSearchCV(MLPClassifier(max_iter=50, random_state=0),
    ...                       {"alpha": [1e-4, 1e-2]}, cv=3)
    >>> with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:  # doctest: +SKIP
    ...     _ = fit_on_dask(search, X, y, client=client)
    ...     print(client.get_events("fastbp-warmup")[-1][1]["report"])
    >>> search.cv_results_["mean_test_score"]                 # doctest: +SKIP
    """
    _check_search(search, "fit_on_dask", ("cv", "estimator", "fit", "n_jobs"))
    # An invalid retries reached the scheduler, which logged an error and
    # never ran the task: the search waited forever.
    _check_count(retries, "retries")
    _check_flag(warmup, "warmup", "fit_on_dask: ")
    sparse = _check_sparse(sparse, "fit_on_dask")
    _check_fit_params(search, "fit_on_dask", fit_params)
    dtypes = None if dtypes is None else _check_dtypes(dtypes)
    # Before any cluster work: metadata that routing sends nowhere is refused
    # here, as search.fit refuses it.
    split_params = _split_params(search, fit_params)
    distributed = _import_distributed()
    from joblib import parallel_backend

    client = _running_client(distributed, client)
    # Made indexable here, so that the objects scattered are the very ones
    # the search indexes (joblib matches them by identity).
    X, y = indexable(X, y)
    folds = _precompute_folds(search, X, y, split_params)

    if warmup and _has_fastbp(search, "fit_on_dask"):
        # Blocks until every current worker has warmed up. Sparse input runs
        # kernels of its own (the toolkit's).
        dtypes, sparse = _warm_inputs(search, X, dtypes, sparse)
        client.register_plugin(_warmup_plugin_class()(search, dtypes=dtypes, sparse=sparse))

    amm_running = client.amm.running()
    saved = {k: v for k, v in search.get_params(deep=False).items() if k in ("cv", "n_jobs")}
    try:
        if amm_running:
            client.amm.stop()
        search.set_params(cv=folds, n_jobs=-1)
        data = [X] + ([y] if y is not None else [])
        data += [index for fold in folds.folds for index in fold]
        with parallel_backend("dask", client=client, retries=retries) as (backend, _):
            futures = _scatter(client, backend, data)
            try:
                # The folds' fits run on the workers, one BLAS thread each;
                # the refit runs here, and with this process's pool its
                # last digits (or a float32 fit's split steps) would differ
                # from the one-thread fits the promise compares with.
                with threadpool_limits(1):
                    search.fit(X, y, **fit_params)
            finally:
                # Released now, not whenever the garbage collector frees the
                # backend (it sits in a reference cycle with joblib's Parallel):
                # until then a worker death would report them lost.
                backend.data_futures, backend._scatter = {}, []
                for future in futures:
                    future.release()
    finally:
        search.set_params(**saved)
        # scikit-learn keeps the checked cv it split (_checked_cv_orig): the
        # folds, every index array, for the model's life. A local fit keeps
        # the splitter, or, for an iterable of splits, the splits.
        if getattr(search, "_checked_cv_orig", None) is folds:
            cv = saved["cv"]
            iterable = not (cv is None or isinstance(cv, numbers.Integral)
                            or hasattr(cv, "split"))
            search._checked_cv_orig = check_cv(
                folds.folds if iterable else cv, y,
                classifier=is_classifier(search.estimator))
        if amm_running:
            client.amm.start()
    return search


def _running_client(distributed, client):
    """``client``, or the current client where None, refused unless it is a
    running Client (a closed one failed deep inside with "IOLoop is closed"
    or "'NoneType' object has no attribute 'amm_handler'")."""
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError as exc:  # "No global client found and no address provided"
            raise ValueError(
                "fit_on_dask found no Dask client: pass client=distributed.Client(...), or "
                "create one first (distributed.Client(address) becomes the current "
                "client).") from exc
    if not isinstance(client, distributed.Client):
        # A scheduler's address was refused as a client whose status is None.
        address = repr(client) if isinstance(client, str) else "address"
        raise TypeError(
            f"fit_on_dask needs a distributed.Client as client, got "
            f"{type(client).__name__} {client!r}: pass "
            f"client=distributed.Client({address}).")
    status = getattr(client, "status", None)
    if status != "running":
        raise ValueError(
            f"fit_on_dask needs a running Dask client; the client given is {status!r}"
            + (" (it was closed: create a new distributed.Client)" if status == "closed"
               else "") + ".")
    return client


def _scatter(client, backend, data):
    """Copy ``data`` to every worker, under keys of its own, and have
    joblib's Dask backend send those copies' futures in place of the objects.

    ``parallel_backend("dask", scatter=data)`` would do the same under keys
    derived from the content (``hash=True``): a second search on the same
    data, started as the first one's copies are being released, gets the
    same keys, and the first one's release then deletes the second one's
    data ("already forgotten", data lost with a worker). Unique keys
    (``hash=False``) make every call independent. joblib matches arguments
    to scattered data by ``id()``, through its backend's ``data_futures``.
    """
    if not isinstance(getattr(backend, "data_futures", None), dict):
        raise TypeError(  # pragma: no cover - a joblib that changed its Dask backend
            f"fit_on_dask does not know this version of joblib's Dask backend "
            f"({type(backend).__module__}.{type(backend).__name__}).")
    futures = client.scatter(data, broadcast=True, hash=False)
    # The objects stay referenced as long as the backend: their ids stay theirs.
    backend._scatter = list(data)
    backend.data_futures = {id(obj): future for obj, future in zip(data, futures)}
    return futures


# ----------------------------------------------------------------------- Ray


class _RayWarmup:
    """A picklable warm-up callable for Ray: the worker setup hook (which
    Ray names after ``__name__``) and the pool actors' initialiser."""

    def __init__(self, estimators, dtypes, sparse=False):
        _check_warmable(estimators)
        self.estimators = estimators
        self.dtypes = dtypes
        self.sparse = sparse
        self.__name__ = "fastbp_warmup"

    def __call__(self):
        _warm(self.estimators, self.dtypes, f"Ray worker pid {os.getpid()}", self.sparse)


def fit_on_ray(search, X, y=None, *, max_retries=3, warmup=True, dtypes=None, sparse=None,
               **fit_params):
    """Fit a hyper-parameter search on Ray, surviving lost workers.

    Runs ``search.fit`` under joblib's Ray backend
    (``ray.util.joblib.register_ray()``) with its pool's actors configured to
    restart, and their tasks to be retried, up to ``max_retries`` times
    (``ray_remote_args={"max_restarts": N, "max_task_retries": N}``; Ray's
    default, 0, fails the search when a worker dies). Each actor warms up
    (:func:`fastbp.warmup`) before its first task, restarted actors
    included (the sparse kernels too where the fits may receive a sparse
    matrix, see ``sparse``).

    Parameters
    ----------
    search : GridSearchCV or RandomizedSearchCV
        Fitted in place, like ``search.fit(X, y)``. Its ``n_jobs`` is set to
        -1 (every CPU of the Ray cluster) while it runs and restored after.
    X : array-like of shape (n_samples, n_features)
        The training data, as ``search.fit`` takes it (a DataFrame, a sparse
        matrix, or what the search's pipeline steps take).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        The targets, as ``search.fit`` takes them. None for a search that
        takes none.
    max_retries : int, default 3
        Restarts of each actor, and retries of each of its tasks, after a
        worker process dies. Finite, so that a task that kills its worker
        every time (out of memory) ends the search instead of looping.
    warmup : bool, default True
        Warm up the kernels of the search's configurations in every worker
        (skipped when the search holds no fastbp estimator, and, with a
        warning saying why, when :func:`fastbp.warmup` cannot expand them).
    dtypes : {"float32", "float64"} or a sequence of them, optional
        The dtypes to warm up. Default: the one ``X`` trains in; both where
        ``X`` is not dense numbers and a fastbp estimator sits behind other
        pipeline steps, which make its input (give the dtype they make to
        warm only that).
    sparse : bool or None, default None
        Warm the kernels for a sparse input too. None: where ``X`` is
        sparse (a DataFrame of pandas sparse columns only included, which
        trains from CSR), or where ``X`` is not dense numbers and a fastbp
        estimator sits behind other pipeline steps (a ``TfidfVectorizer`` or a
        ``OneHotEncoder`` hands it a sparse matrix of text). Give True where
        steps make a sparse matrix of numbers, False where they make a dense
        array of text.
    **fit_params
        Passed to ``search.fit``. ``n_jobs``, and ``cv`` where the search
        has one, are refused (TypeError): they are the search's, not fit
        parameters.

    Returns
    -------
    search
        The fitted search (the object passed in).

    Raises
    ------
    TypeError
        Before anything is sent to Ray: if ``search`` does not fit in
        parallel (has no ``fit`` or ``n_jobs``), ``max_retries`` is not an
        int, ``warmup`` not True or False, ``sparse`` not True, False or
        None, ``dtypes`` neither a dtype name nor a sequence of them, or
        ``fit_params`` hold ``n_jobs`` or (for a search) ``cv``.
    ValueError
        If ``max_retries`` is negative, or ``dtypes`` is empty or names a
        dtype other than "float32" and "float64".
    ImportError
        If Ray is not installed (``pip install "fastbp[ray]"``), once the
        arguments are checked.

    Notes
    -----
    If Ray is not initialised yet, this calls ``ray.init`` (which connects
    to ``RAY_ADDRESS`` if that is set, else starts a local Ray) with a
    ``worker_process_setup_hook`` that warms up every worker process of the
    job as it starts. Ray is left running afterwards (``ray.shutdown()``).
    If you called ``ray.init`` yourself, a job's runtime environment cannot
    be changed any more and no hook is installed; the actors that run the
    fits still warm up, in their initialiser, before their first task and
    after every restart. To have the hook anyway, pass it yourself::

        ray.init(runtime_env={"worker_process_setup_hook":
                              lambda: fastbp.warmup(search, dtypes=["float64"])})

    Results are identical to ``search.fit(X, y)`` on one machine, bit for
    bit, when the estimator's ``random_state`` is fixed, ``cv`` splits
    deterministically, and the local search runs with the workers' BLAS
    thread count: one unless the environment says otherwise (Ray sets an
    actor's ``OMP_NUM_THREADS`` to its CPUs, one, where it is not set), so
    compare with a local search under ``threadpoolctl.threadpool_limits(1)``.
    The refit of the best candidate runs here, in the calling process, as
    scikit-learn runs it: under ``threadpool_limits(1)``, so that
    ``best_estimator_`` is that local search's too.

    Examples
    --------
    >>> import ray                                   # doctest: +SKIP
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from fastbp import MLPClassifier
    >>> from fastbp.search import fit_on_ray
    >>> X, y = load_digits(return_X_y=True)
    >>> search = GridSearchCV(MLPClassifier(max_iter=50, random_state=0),
    ...                       {"alpha": [1e-4, 1e-2]}, cv=3)
    >>> fit_on_ray(search, X, y, max_retries=3)      # doctest: +SKIP
    >>> search.best_params_                          # doctest: +SKIP
    >>> ray.shutdown()                               # doctest: +SKIP
    """
    # Any meta-estimator with n_jobs (BaggingClassifier, OneVsRestClassifier).
    _check_search(search, "fit_on_ray", ("fit", "n_jobs"))
    _check_count(max_retries, "max_retries")
    _check_flag(warmup, "warmup", "fit_on_ray: ")
    sparse = _check_sparse(sparse, "fit_on_ray")
    _check_fit_params(search, "fit_on_ray", fit_params)
    dtypes = None if dtypes is None else _check_dtypes(dtypes)
    # After the checks, as fit_on_dask: misuse is refused by name with or
    # without Ray installed.
    ray = _import_ray()
    from joblib import parallel_backend
    from ray.util.joblib import register_ray

    # Sparse input runs kernels of its own (the toolkit's). Without a
    # search's cv, which a generator of splits makes uncopyable.
    warm = None
    if warmup and _has_fastbp(search, "fit_on_ray"):
        warm = _RayWarmup((_clone_without_cv(search),),
                          *_warm_inputs(search, X, dtypes, sparse))

    if not ray.is_initialized():
        ray.init(runtime_env={"worker_process_setup_hook": warm} if warm else None)
    register_ray()
    backend_args = {"ray_remote_args": {"max_restarts": max_retries,
                                        "max_task_retries": max_retries}}
    if warm is not None:
        # ray.util.multiprocessing.Pool runs it in each actor's constructor,
        # which Ray reruns when it restarts the actor: replacements warm up
        # too. Where the setup hook already ran, it only reloads (milliseconds).
        backend_args.update(initializer=warm)

    saved_n_jobs = search.n_jobs
    try:
        search.set_params(n_jobs=-1)
        # As in fit_on_dask: the refit, here, with the workers' one thread.
        with parallel_backend("ray", n_jobs=-1, **backend_args), threadpool_limits(1):
            search.fit(X, y, **fit_params)
    finally:
        search.set_params(n_jobs=saved_n_jobs)
    return search
