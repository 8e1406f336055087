"""Compiling the prediction kernel in a helper process while a fit compiles
its training kernel.

On a cold cache a first fit spends seconds in Numba's compiler, which runs
on one core, and the first ``predict`` after it spends about a second
more. The prediction kernel is known before the fit starts (it depends on
the network's structure and dtype only), so where a core is idle a helper
process compiles it at the same time, and saves it to the cache; the
model's first ``predict`` then loads it. The kernels' compile locks
(:mod:`fastbp._cache.compile_locks`) keep the two processes from
compiling anything twice: an inner kernel both need is compiled by
whichever reaches it first, and loaded by the other.

The helper is a new interpreter (``multiprocessing``'s executable) with
the fit process's ``sys.path``, environment and cache directory, and one
BLAS and Numba thread; its output is discarded, and a helper that fails
costs the fit nothing (its ``predict`` compiles as before). It is started
only where:

- the fit's own training kernel is about to be compiled, and the
  prediction kernel its model will run is not cached either;
- ``X`` is dense (a sparse ``X`` is predicted by other kernels);
- the process may run on two cores or more and one of them is idle
  (:func:`idle_core`);
- no other helper is compiling the same prediction kernel (the workers of
  a cold parallel search all need it: one helper serves them all);
- the compile cache is on disk (a helper's compile would otherwise be
  lost), and the interpreter is not a frozen application (whose
  executable is not Python);
- the environment variable ``FASTBP_COMPILE_AHEAD`` is unset or ``auto``
  (``0``, ``off``: never; ``1``, ``on``: whatever the cores and the load).

A helper that outlives its parent's interpreter is stopped at exit (it
only served that process; a compile cut short saves nothing, and a lock
is freed when its holder ends).
"""

import atexit
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np

from ..exceptions import warn_at_caller

#: The environment variable that turns helpers off (``0``), on whatever
#: the load (``1``), or leaves the choice to :func:`idle_core` (``auto``).
ENV = "FASTBP_COMPILE_AHEAD"
_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")

_lock = threading.Lock()
_helpers = []
_stops_at_exit = False
_warned_mode = False


def _after_fork_in_child():
    # A forked child does not own its parent's helpers (nor stops them at
    # exit), and a lock held by another thread at the fork would never be
    # released in it.
    global _lock
    _lock = threading.Lock()
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# (kernel id, dtype) pairs already asked about in this process: asking
# again reads the cache index from disk, and the answer is settled.
_asked = set()


def _mode():
    """``"off"``, ``"on"`` or ``"auto"``, from :data:`ENV` (an unknown
    value means ``auto``, with one warning)."""
    global _warned_mode
    value = os.environ.get(ENV, "auto").strip().lower()
    if value in _OFF:
        return "off"
    if value in _ON:
        return "on"
    if value not in ("", "auto") and not _warned_mode:
        _warned_mode = True
        warn_at_caller(f"{ENV}={value!r} is not one of auto, 0/off, 1/on: taken as auto.",
                       RuntimeWarning, at_once=True)
    return "auto"


def _runnable():
    """Tasks running or ready to run on the machine now, the calling thread
    included (``procs_running`` of Linux's ``/proc/stat``).

    Returns
    -------
    int or None
        None where that is not known.
    """
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

    The cores are joblib's count for this process (its affinity and its
    cgroup's CPU quota). Idle, on Linux: the machine's runnable tasks, the
    median of five samples a millisecond apart, leave one of them free (a
    one-minute load average would count the fit's own process, busy since
    it started; tasks on cores outside the affinity count too, so a busy
    machine starts no helper). Elsewhere: the load average, where the
    system has one (never on Windows).

    Returns
    -------
    bool
    """
    from joblib import cpu_count

    n_cpus = cpu_count()
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


def compile_ahead(backend, spec, dtype, train_kernel, sparse=False):
    """Start a helper that compiles the prediction kernel of a model of
    ``spec`` in ``dtype``, if ``train_kernel`` is about to compile in this
    process and the conditions of this module's docstring hold.

    Never raises: a helper is an optimisation, and the fit that asks has
    already changed its model.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    spec : NetworkSpec
        The fit's.
    dtype : numpy dtype
    train_kernel : numba dispatcher
        The kernel the fit is about to run.
    sparse : bool
        Whether the fit's ``X`` is sparse.

    Returns
    -------
    subprocess.Popen or None
        The helper, if one was started.
    """
    dtype = np.dtype(dtype)
    key = (id(train_kernel), dtype)
    if key in _asked:  # every fit but a kernel's first in this process
        return None
    # Outside the try: its warning, made an error by a filter, reaches the
    # caller (it is given once, and was swallowed there).
    mode = _mode()
    try:
        return _compile_ahead(backend, spec, dtype, train_kernel, sparse, key, mode)
    except Exception:  # noqa: BLE001 - see the docstring
        return None


def _compile_ahead(backend, spec, dtype, train_kernel, sparse, key, mode):
    from .._cache import compile_locks, dispatchers, locks
    from .._cache.index import RepairingCache
    from .predict import chunk_rows, inference_plan_of

    if backend.name != "cpu" or sparse or mode == "off" or getattr(sys, "frozen", False):
        return None
    with _lock:
        if key in _asked:
            return None
        _asked.add(key)
    # The kernel the model's predict will run (inference drops dropout).
    predict_kernel = inference_plan_of(spec, dtype, chunk_rows(1)).kernels(backend).predict
    if not (isinstance(getattr(train_kernel, "_cache", None), RepairingCache)
            and isinstance(getattr(predict_kernel, "_cache", None), RepairingCache)
            and dispatchers.will_compile(train_kernel, dtype)
            and dispatchers.will_compile(predict_kernel, dtype)):
        return None
    claim = compile_locks.ahead_claim_path(predict_kernel, dtype)
    lock = locks._file_lock(claim)
    if lock is None or locks._busy(lock) or not (mode == "on" or idle_core()):
        return None
    return _start(spec, dtype, claim, predict_kernel._cache._cache_path)


# The helper's first lines: it imports from the parent's ``sys.path`` (an
# uninstalled checkout, a notebook's added path), then takes the claim on
# this prediction kernel before it imports fastbp, and leaves if another
# helper holds it (a parent's probe, _busy, holds it for an instant).
_BOOTSTRAP = """\
import pickle, sys
path, claim, payload = pickle.load(sys.stdin.buffer)
sys.path[:] = path
from filelock import FileLock, Timeout
held = FileLock(claim)
try:
    held.acquire(timeout=0.2)  # not 0: a parent may be probing it
except Timeout:
    raise SystemExit(0)
from fastbp.training.ahead import _main
_main(payload)
"""


def _start(spec, dtype, claim, cache_path):
    from multiprocessing.spawn import get_executable

    env = dict(os.environ)
    from numba.core.config import CACHE_DIR

    if CACHE_DIR:  # set in this process's code rather than its environment
        env["NUMBA_CACHE_DIR"] = CACHE_DIR
    # The helper compiles on the idle core and runs one row.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        env[name] = "1"
    env[ENV] = "0"
    # Absolute: the helper starts in the current directory, which may not
    # be the one this process imported fastbp from.
    path = [os.path.abspath(p) for p in sys.path if isinstance(p, str)]
    payload = pickle.dumps((path, claim, pickle.dumps((spec, dtype.str, cache_path))))
    try:
        helper = subprocess.Popen(
            [get_executable(), "-c", _BOOTSTRAP], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            # Out of the terminal's process group: Ctrl-C interrupts the
            # fit alone, and the helper goes on (or is stopped at exit).
            start_new_session=True)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None  # no interpreter: predict compiles as before
    try:
        with helper.stdin:
            helper.stdin.write(payload)
    except Exception:  # noqa: BLE001 - a closed pipe: the helper is of no use
        helper.kill()
        helper.wait()
        return None
    _keep(helper)
    return helper


def _keep(helper):
    """Reap ``helper`` (a ``subprocess.Popen``) when it ends, and stop it
    when this interpreter exits, if it still runs then."""
    global _stops_at_exit
    with _lock:
        if not _stops_at_exit:
            atexit.register(_stop_helpers)
            _stops_at_exit = True
        _helpers[:] = [h for h in _helpers if h.returncode is None]
        _helpers.append(helper)
    # No zombie in a long session: a thread waits for its end.
    threading.Thread(target=helper.wait, name="fastbp-ahead-reaper", daemon=True).start()


def _stop_helpers():
    with _lock:
        helpers = [h for h in _helpers if h.poll() is None]
        _helpers.clear()
    for helper in helpers:
        helper.terminate()
    deadline = time.monotonic() + 1.0
    for helper in helpers:
        try:
            helper.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            helper.kill()


def _main(payload):
    """The helper's work: compile (or load) the prediction kernel of the
    pickled ``(spec, dtype, cache_path)``, by predicting one row of zeros,
    unless this interpreter's fastbp caches it elsewhere than the parent's
    (another copy of fastbp, another cache directory): its compile would
    not serve."""
    spec, dtype, cache_path = pickle.loads(payload)
    from .backend import CPUBackend
    from .predict import chunk_rows, inference_plan_of, warm_predict

    backend = CPUBackend()
    kernel = inference_plan_of(spec, dtype, chunk_rows(1)).kernels(backend).predict
    if kernel._cache._cache_path != cache_path:
        return
    layout = spec.layout
    warm_predict(backend, spec, np.zeros(layout.n_params, dtype=dtype),
                 np.ones(layout.n_running, dtype=dtype))
