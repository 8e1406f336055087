"""Compiling the prediction kernel in a helper process while a fit compiles
its training kernel.

On a cold cache a first fit spends seconds in Numba's compiler, which runs
on one core, and the first ``predict`` after it spends about a second
more. The prediction kernel is known before the fit starts (it depends on
the network's structure and dtype only), so where a core is idle a helper
process compiles it at the same time, and saves it to the cache; the
model's first ``predict`` then loads it. The kernels' compile locks
(:mod:`fastbp._cache`) keep the two processes from compiling anything
twice: an inner kernel both need is compiled by whichever reaches it
first, and loaded by the other.

The helper is a new interpreter (``sys.executable``) with the fit
process's ``sys.path``, environment and cache directory, and one BLAS and
Numba thread; its output is discarded, and a helper that fails costs the
fit nothing (its ``predict`` compiles as before). It is started only
where:

- the fit's own training kernel is about to be compiled, and the
  prediction kernel is not cached either;
- the process may run on at least two cores and one of them is idle
  (:func:`idle_core`);
- the compile cache is on disk (a helper's compile would otherwise be
  lost);
- the environment variable ``FASTBP_COMPILE_AHEAD`` is unset or ``auto``
  (``0``: never; ``1``: whatever the cores and the load).

A helper that outlives its parent's interpreter is stopped at exit (it
only served that process; a compile cut short saves nothing, and a
lock is freed when its holder ends).
"""

import atexit
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np

#: The environment variable that turns helpers off (``0``), on whatever
#: the load (``1``), or leaves the choice to :func:`idle_core` (``auto``).
ENV = "FASTBP_COMPILE_AHEAD"

_lock = threading.Lock()
_helpers = []
_stops_at_exit = False
# A forked child does not own its parent's helpers (nor stops them at exit).
os.register_at_fork(after_in_child=_helpers.clear)
# (kernel id, dtype) pairs already asked about in this process: asking
# again reads the cache index from disk, and the answer is settled.
_asked = set()


def _runnable():
    """Tasks running or ready to run on the machine now, the calling thread
    included (``procs_running`` of Linux's ``/proc/stat``), or None where
    that is not known."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def idle_core():
    """Whether this process may run on two cores or more, and one of them
    is idle besides the one the calling thread runs on.

    On Linux, from the machine's runnable tasks: the median of five samples
    a millisecond apart (a one-minute load average would count the fit's
    own process, busy since it started). Elsewhere, from the load average.
    """
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n_cpus = os.cpu_count() or 1
    if n_cpus < 2:
        return False
    samples = []
    for _ in range(5):
        runnable = _runnable()
        if runnable is None:
            break
        samples.append(runnable)
        time.sleep(0.001)
    if samples:
        return sorted(samples)[len(samples) // 2] - 1 <= n_cpus - 2
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not Unix, or unknown
        return False
    return load <= n_cpus - 1


def _cache_dir():
    from numba.core.config import CACHE_DIR

    return CACHE_DIR


def compile_ahead(backend, spec, dtype, train_kernel):
    """Start a helper that compiles the prediction kernel of ``spec`` in
    ``dtype``, if ``train_kernel`` is about to compile in this process and
    the conditions of this module's docstring hold.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    spec : NetworkSpec
    dtype : numpy dtype
    train_kernel : numba dispatcher
        The kernel the fit is about to run.

    Returns
    -------
    subprocess.Popen or None
        The helper, if one was started.
    """
    dtype = np.dtype(dtype)
    key = (id(train_kernel), dtype)
    if key in _asked:  # every fit but a kernel's first in this process
        return None
    from .._cache import RepairingCache, will_compile

    mode = os.environ.get(ENV, "auto")
    if backend.name != "cpu" or mode == "0":
        return None
    with _lock:
        if key in _asked:
            return None
        _asked.add(key)
    predict_kernel = backend.network(spec.uses_toolkit(False), spec.out_code).predict
    if not (isinstance(getattr(train_kernel, "_cache", None), RepairingCache)
            and will_compile(train_kernel, dtype) and will_compile(predict_kernel, dtype)
            and (mode == "1" or idle_core())):
        return None
    return _start(spec, dtype)


# The helper's first lines: it imports from the parent's ``sys.path`` (an
# uninstalled checkout, a notebook's added path), read before any fastbp
# object is unpickled.
_BOOTSTRAP = ("import pickle, sys; path, payload = pickle.load(sys.stdin.buffer); "
              "sys.path[:] = path; from fastbp.training.ahead import _main; _main(payload)")


def _start(spec, dtype):
    env = dict(os.environ)
    cache_dir = _cache_dir()
    if cache_dir:  # set in this process's code rather than its environment
        env["NUMBA_CACHE_DIR"] = cache_dir
    # The helper compiles on the idle core and runs one row.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        env[name] = "1"
    env[ENV] = "0"
    try:
        helper = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            # Out of the terminal's process group: Ctrl-C interrupts the
            # fit alone, and the helper goes on (or is stopped at exit).
            start_new_session=True)
        with helper.stdin:
            pickle.dump((list(sys.path), pickle.dumps((spec, dtype.str))), helper.stdin)
    except (OSError, ValueError):  # no interpreter, a closed pipe: compile as before
        return None
    _keep(helper)
    return helper


def _keep(helper):
    """Stop ``helper`` (a ``subprocess.Popen``) when this interpreter
    exits, if it still runs then."""
    global _stops_at_exit
    with _lock:
        if not _stops_at_exit:
            atexit.register(_stop_helpers)
            _stops_at_exit = True
        _helpers[:] = [h for h in _helpers if h.poll() is None]  # reaps the finished
        _helpers.append(helper)


def _stop_helpers():
    with _lock:
        helpers = list(_helpers)
        _helpers.clear()
    for helper in helpers:
        if helper.poll() is None:
            helper.terminate()
            try:
                helper.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                helper.kill()


def _main(payload):
    """The helper's work: compile (or load) the prediction kernel of the
    pickled ``(spec, dtype)``, by predicting one row of zeros."""
    spec, dtype = pickle.loads(payload)
    from .backend import CPUBackend
    from .predict import warm_predict

    layout = spec.layout
    warm_predict(CPUBackend(), spec, np.zeros(layout.n_params, dtype=dtype),
                 np.ones(layout.n_running, dtype=dtype))
