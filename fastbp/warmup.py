"""Compile or load, ahead of time, the kernels that a configuration needs.

A process's first fit of each dtype waits for Numba: seconds to compile on
a cold cache, a fraction of a second to load from a warm one. ``warmup``
pays that up front, where it is cheap to wait: a container image build, a
CI job, each worker of a cluster before its first task. It fits each
configuration once on a tiny synthetic problem, which runs exactly the
kernels (and the specialisations) that real fits of it run, and leaves them
loaded in this process and saved in the on-disk cache.

Each kernel compiles under a lock of its own
(:mod:`fastbp._cache.compile_locks`): when many processes of one machine
warm up at once, one compiles each kernel and the others wait, then load
what it saved. ``n_jobs`` uses that to compile in parallel: worker
processes take the configurations, dtypes and input kinds in turn, and
compile different kernels at once.

``fastbp.warmup`` names the function :func:`warmup`, not this module; its
public names (:func:`warmup`, :class:`WarmupReport`, :class:`WarmupEntry`)
are all exported by :mod:`fastbp`. Which configurations a search's
parameter space holds is read by :mod:`fastbp.search_space`.
"""

import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ._cache import dispatchers
from ._cache.counts import process_counts, thread_counts
from ._cache.warning import CacheWarning
from .estimators import MLPClassifier, MLPRegressor
from .estimators.tiny_fits import tiny_fit as _tiny_fit
from .estimators.tiny_fits import tiny_representative as _tiny_representative
from .search_space import _PATH_PARAMS, _configurations, _connects

__all__ = ["WarmupEntry", "WarmupReport", "warmup"]

DTYPES = ("float32", "float64")


@dataclass
class WarmupEntry:
    """One configuration warmed in one dtype.

    Attributes
    ----------
    estimator : str
        Class name and the path parameters that differ from the defaults.
    dtype : str
    seconds : float
        Wall time, the wait for another process's or thread's compile
        included.
    compiled : int
        Kernel specialisations compiled by this warm-up, in its own thread.
        One that another thread of the process compiled or loaded while
        this one waited counts there: here it was found in memory, and
        counts as neither compiled nor loaded. The split kernels (of the
        stochastic solvers' ``"split"`` fits), which the fit's own worker
        threads may compile, are counted for the whole process while they
        are warmed, other threads' compiles included.
    loaded : int
        Kernel specialisations loaded from the on-disk cache, counted as
        ``compiled`` is.
    unsaved : int
        Of those compiled, the ones that could not be saved to the on-disk
        cache (a full or read-only disk): other processes compile them
        again.
    device : str
        The estimator's ``device``. On ``"cuda"`` the counts are of the CPU
        kernels only: the CUDA kernels compile in each process, and are
        not cached on disk.
    """

    estimator: str
    dtype: str
    seconds: float
    compiled: int
    loaded: int
    unsaved: int = 0
    device: str = "cpu"


@dataclass
class WarmupReport:
    """What :func:`warmup` did, entry by entry.

    Attributes
    ----------
    entries : list of WarmupEntry
        One per configuration and dtype, in the order warmed.
    seconds : float
        Total wall time.
    n_jobs : int
        Processes that compiled (1: this one).
    compiled : int
        Kernel specialisations compiled, over all entries (0 when the cache
        was warm). Read-only.
    loaded : int
        Kernel specialisations loaded from the on-disk cache, over all
        entries. Read-only.
    unsaved : int
        Of those compiled, the ones that could not be saved to the on-disk
        cache (0 when every compile was saved). Read-only.
    """

    entries: list = field(default_factory=list)
    seconds: float = 0.0
    n_jobs: int = 1

    @property
    def compiled(self):
        """Kernel specialisations compiled (0 when the cache was warm)."""
        return sum(e.compiled for e in self.entries)

    @property
    def loaded(self):
        """Kernel specialisations loaded from the on-disk cache."""
        return sum(e.loaded for e in self.entries)

    @property
    def unsaved(self):
        """Kernel specialisations compiled that could not be saved to the
        on-disk cache (0 when every compile was saved)."""
        return sum(e.unsaved for e in self.entries)

    def __str__(self):
        width = max([len(e.estimator) for e in self.entries] + [9])
        lines = [f"{'estimator':<{width}}  dtype     seconds  compiled  loaded"]
        lines += [f"{e.estimator:<{width}}  {e.dtype:<8} {e.seconds:8.2f}  {e.compiled:8d}  "
                  f"{e.loaded:6d}" for e in self.entries]
        jobs = f" by {self.n_jobs} processes" if self.n_jobs > 1 else ""
        # A full disk saves a few kernels, then none: a total of compiles
        # alone read as a warm cache.
        unsaved = (f" ({self.unsaved} of them could not be saved to the cache)"
                   if self.unsaved else "")
        lines.append(f"total {self.seconds:.2f} s: {self.compiled} kernels compiled{jobs}"
                     f"{unsaved}, {self.loaded} loaded from the cache")
        if any(e.device == "cuda" for e in self.entries):
            # The counts see the CPU's cache only: a CUDA entry's seconds
            # of compiling would otherwise read as "0 compiled".
            lines.append("device='cuda': the CUDA kernels were compiled in this process only; "
                         "they are not cached on disk, so every process compiles them again "
                         "(the counts above are of CPU kernels)")
        return "\n".join(lines)


def warmup(*estimators, dtypes=DTYPES, sparse=False, n_jobs=None):
    """Compile, or load from the cache, every kernel the given estimators'
    fits, predictions and scores will run.

    Parameters
    ----------
    *estimators : estimator
        fastbp estimators, or any scikit-learn meta-estimator holding them
        (``Pipeline``, ``GridSearchCV``, ``RandomizedSearchCV``, ...); the
        parameter grids and distributions of a search are expanded, so that
        e.g. ``solver=["adam", "lbfgs"]`` warms both solvers, and
        ``dropout=scipy.stats.uniform(0.1, 0.3)`` the kernels of a dropout
        fit (16 seeded draws: for a number, one off the default stands for
        them all, with the default where drawn; for a choice such as a
        solver, every distinct one drawn). A distribution that cannot be
        drawn from as scikit-learn does (``rvs(random_state=...)``) is
        left to the search's own fits. Without any: the default
        ``MLPClassifier()``.
    dtypes : {"float32", "float64"} or a sequence of them, default both
        The dtypes of ``X`` to be fitted (a float32 ``X`` trains in
        float32, anything else in float64).
    sparse : bool, default False
        Warm the kernels for a sparse ``X`` too (dense ``X`` without the
        toolkit's options runs lean kernels of its own; sparse ``X`` the
        full ones).
    n_jobs : int, default None
        Processes that compile at once, as in joblib's ``n_jobs``: None or
        1 compiles here, -1 on every core (never more processes than parts
        to warm). With more than one, worker processes (joblib's loky)
        compile the configurations, dtypes and input kinds in turn,
        different kernels at once, and this process then loads what they
        saved. Worth it on a cold cache with several dtypes or
        configurations (``fastbp compile --all``); on a warm one it only
        adds the workers' start-up.

        Where no cache directory is writable, it compiles here whatever
        ``n_jobs`` says: the workers' compiles could not be saved for this
        process to load.

    Returns
    -------
    WarmupReport
        Per configuration and dtype: seconds, kernels compiled and loaded,
        and compiles that could not be saved (``unsaved``: a full or
        read-only disk), by this call: other threads' fits and warm-ups at
        the same time count their own (see :class:`WarmupEntry`).
        ``print(report)`` shows a table. With ``n_jobs``,
        an entry's seconds and loads are the workers' (which ran at once,
        each loading what another compiled), and its compiles the workers'
        and this process's.

    Raises
    ------
    TypeError
        If ``dtypes`` is neither a dtype name nor a sequence of them,
        ``sparse`` is not True or False, ``n_jobs`` is not an int or None
        (a bool included), or an estimator is not one (a class, a list of
        estimators: pass them as separate arguments).
    ValueError
        If ``dtypes`` is empty or names a dtype other than "float32" and
        "float64", ``n_jobs`` is 0, no fastbp estimator is found in the
        estimators, a search's grid gives a parameter no values, or every
        point of a search's grid is one its fits refuse (the first
        refusal is raised).
    sklearn.utils._param_validation.InvalidParameterError
        If a fastbp estimator outside any search has a parameter its
        ``fit`` refuses (a ``ValueError`` and ``TypeError`` subclass).

    Examples
    --------
    >>> import fastbp
    >>> report = fastbp.warmup(fastbp.MLPClassifier(solver="lbfgs"), dtypes=["float64"])
    >>> report.compiled >= 0
    True
    """
    dtypes = list(_check_dtypes(dtypes))
    sparse = _check_flag(sparse, "sparse")
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral)
                               or isinstance(n_jobs, (bool, np.bool_))):
        raise TypeError(f"n_jobs must be an int or None, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0: give a process count like 2, -1 for one per "
                         "core, or None (or 1) to compile in this process.")
    configs = _configurations(estimators or (MLPClassifier(),))
    # helper-152: what the workers get (and what the fits here run) is the
    # tiny problem's copy: the user's scorer, callbacks and schedule need
    # not pickle, and are not called. The report names the user's.
    tiny = [_tiny_representative(est) for est in configs]
    named = {id(t): est for t, est in zip(tiny, configs)}
    tasks = [(est, dtype, part) for est in tiny for dtype in dtypes
             for part in _parts(est, sparse)]
    # None is 1 here, whatever joblib's parallel_config says: the caller
    # asked for no processes. Without a writable cache the workers' compiles
    # would be lost with them, and this process compile everything again
    # (helper-103: 122 kernels compiled for 42).
    n_jobs = (1 if n_jobs is None or not dispatchers.saves_to_disk()
              else min(effective_n_jobs(n_jobs), len(tasks)))
    report = WarmupReport(n_jobs=n_jobs)
    start = time.perf_counter()
    if n_jobs > 1:
        order = _schedule(tasks)
        # Workers return (compiled, loaded, seconds) per task, in order, and
        # the cache's warnings (a damaged entry, a lock given up), said here.
        results = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_warm_in_worker)(est, dtype, part) for est, dtype, part in order)
        counts = [result for result, _ in results]
        for message in dict.fromkeys(m for _, messages in results for m in messages):
            warnings.warn(f"in a warmup worker process: {message}", CacheWarning,
                          stacklevel=2)
        # What the workers saved, loaded here too: this process is warm. A
        # compile here means the workers saw another cache (NUMBA_CACHE_DIR
        # or FASTBP_BLAS set after import, a key added by code they did not
        # run): it is counted, and said.
        here = [_warm_part(*task) for task in tasks]
        compiled_here = sum(c for c, _, _, _ in here)
        # Where the workers could not save (a full disk), the compiles here
        # are that, which their warning forwarded above already says.
        if compiled_here and not sum(result[3] for result in counts):
            warnings.warn(
                f"warmup's worker processes did not warm this process's cache: it compiled "
                f"{compiled_here} kernel(s) again. Set NUMBA_CACHE_DIR and FASTBP_BLAS before "
                "importing fastbp, or use n_jobs=1.", CacheWarning, stacklevel=2)
        by_task = dict(zip(map(id, order), counts))
        counts = [(c + c_here, loaded, seconds, unsaved + unsaved_here)
                  for (c, loaded, seconds, unsaved), (c_here, _, _, unsaved_here)
                  in zip((by_task[id(task)] for task in tasks), here)]
    else:
        counts = [_warm_part(*task) for task in tasks]
    report.entries = _entries(tasks, counts, named)
    report.seconds = time.perf_counter() - start
    if not dispatchers.saves_to_disk():
        warnings.warn(
            "warmup compiled in memory only: no directory for fastbp's compile cache is "
            "writable, so nothing was saved, and every other process will compile again. "
            "Set the environment variable NUMBA_CACHE_DIR to a writable directory.",
            CacheWarning, stacklevel=2)
    return report


def _entries(tasks, counts, named=None):
    """One :class:`WarmupEntry` per configuration and dtype, in the order of
    ``tasks``, from each task's ``(compiled, loaded, seconds, unsaved)``;
    ``named`` maps ``id`` of a task's estimator to the one it stands for
    (the user's, which the entry describes)."""
    named = named or {}
    totals = {}
    for (est, dtype, _), part_counts in zip(tasks, counts):
        key = (id(est), dtype)
        previous = totals.get(key, (named.get(id(est), est), 0, 0, 0.0, 0))
        totals[key] = (previous[0], *(a + b for a, b in zip(previous[1:], part_counts)))
    return [WarmupEntry(_describe(est), dtype, seconds, compiled, loaded, unsaved,
                        str(getattr(est, "device", "cpu")))
            for (_, dtype), (est, compiled, loaded, seconds, unsaved) in totals.items()]


def _check_dtypes(dtypes):
    """``dtypes`` (one dtype or a sequence of them) as a tuple of names."""
    # helper-152: bytes too, which iterate as ints (b"float64" was refused
    # as "got 102").
    if isinstance(dtypes, (str, bytes, np.dtype, type)):
        dtypes = [dtypes]  # one dtype, not the characters of its name
    if dtypes is None or not hasattr(dtypes, "__iter__"):
        raise TypeError(f"dtypes must be 'float32', 'float64' or a sequence of them, "
                        f"got {dtypes!r}.")
    names = tuple(_check_dtype(d) for d in dtypes)
    if not names:
        raise ValueError("dtypes is empty: there would be nothing to warm up. Give "
                         "'float32', 'float64' or both.")
    return names


def _check_flag(value, name, where=""):
    """``value`` as a bool (NumPy's too), or a TypeError naming ``name``
    (after ``where``, the function's name and ": ", where given): "no" is
    truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}{name} must be True or False, got {value!r}.")
    return bool(value)


def _check_dtype(dtype):
    # helper-103: np.dtype(None) is float64, so [None] warmed float64 where
    # dtypes=None is refused.
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except TypeError:  # NumPy's "data type 'nope' not understood" names no argument
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtypes must be among {DTYPES}, got {dtype!r}.")
    return name


def _parts(est, sparse):
    """The pieces of warming ``est`` that run kernels of their own, as
    ``(input kind, target kind)`` pairs: ``input`` is "dense", "sparse"
    or "split" (dense, each step split between two threads); ``target``
    indexes :func:`~fastbp.estimators.tiny_fits.tiny_targets`."""
    n_targets = 1 if isinstance(est, MLPRegressor) else 2
    inputs = ["dense", "sparse"] if sparse else ["dense"]
    if est.solver != "lbfgs":
        inputs.append("split")
    return [(kind, target) for kind in inputs for target in range(n_targets)]


def _schedule(tasks):
    """``tasks`` in the order workers should take them: first one task of
    each group of dtype, input kind, solver family and output function
    (those choose the entry points; so that the workers compile different
    kernels at once rather than wait for each other's), the toolkit's full
    kernels (sparse input) first as the longest to compile;
    then L-BFGS's (whose loss and gradient share the inner kernels and the
    prediction kernel of those groups); then the rest, which mostly load
    what those compiled."""
    order = {"sparse": 0, "dense": 1, "split": 2}
    first, rest, seen = [], [], set()
    for task in tasks:
        est, dtype, (kind, target) = task
        output = ((est.loss if est.loss == "poisson" else "identity")
                  if isinstance(est, MLPRegressor) else target)
        # Dense and sparse input run entry points of their own for each
        # output function (kernels.lean, kernels.full).
        group = (dtype, kind, est.solver == "lbfgs", output)
        (rest if group in seen else first).append(task)
        seen.add(group)
    return sorted(first, key=lambda task: (task[0].solver == "lbfgs", order[task[2][0]])) + rest


def _warm_part(est, dtype, part):
    """Run one part (:func:`_parts`) of warming ``est`` in ``dtype``.

    Returns
    -------
    (compiled, loaded, seconds, unsaved)
        Kernel specialisations compiled and loaded by this call, wall time,
        and the compiles that could not be saved to the on-disk cache.
    """
    # This thread's counts, not the process's: other threads' fits and
    # warm-ups at the same time are theirs (rev-203). Except for a split
    # part: its fit's own worker thread (fastbp.training.split) races this
    # one to the split kernels, and whichever wins compiles them, so this
    # thread's counts would miss them whenever it loses; there, the
    # process's counts (any other thread's during the part included).
    counts = process_counts if part[0] == "split" else thread_counts
    before = counts()
    start = time.perf_counter()
    _tiny_fit(est, dtype, *part)
    seconds = time.perf_counter() - start
    compiled, loaded, unsaved = (b - a for a, b in zip(before, counts()))
    return compiled, loaded, seconds, unsaved


def _warm_in_worker(est, dtype, part):
    """:func:`_warm_part` in a worker process: its counts, and the messages
    of the :class:`~fastbp.CacheWarning` it raised, for the parent to say
    (a worker's warnings reach no one)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", CacheWarning)
        counts = _warm_part(est, dtype, part)
    messages = []
    for w in seen:
        if issubclass(w.category, CacheWarning):
            messages.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return counts, messages


def _cache_counts():
    """Cache hits and misses of every fastbp kernel so far in this process
    (a kernel without a cache, where no directory is writable, counts each
    compile as a miss), in all its threads."""
    hits = misses = 0
    for dispatcher in list(dispatchers._dispatchers):
        hits += sum(dispatcher._cache_hits.values())
        misses += sum(dispatcher._cache_misses.values())
    for dispatcher in list(dispatchers._uncached):
        misses += len(dispatcher.overloads)
    return hits, misses


def _describe(est):
    params = est.get_params(deep=False)
    default = type(est)().get_params(deep=False)
    connects = _connects(params)
    changed = [f"{p}={params[p]!r}" + (" (no connections)" if p == "residual"
                                       and not connects else "")
               for p in _PATH_PARAMS
               if p in params and repr(params[p]) != repr(default[p])]
    if connects:
        # The sizes are what tell this configuration from its lean twin.
        changed.append(f"hidden_layer_sizes={params['hidden_layer_sizes']!r}")
    return f"{type(est).__name__}({', '.join(changed)})"

