"""Fits that run at once in the threads of one process, and the BLAS pool
they share.

The kernels call BLAS (the OpenBLAS that NumPy links, see
:mod:`fastbp.kernels.blas`) for their matrix products, and BLAS keeps one
pool of threads for the process, by default one per core. Two fits in two threads (``GridSearchCV(n_jobs=2)``
under joblib's threading backend) then each ask that pool for every core;
its workers spin waiting for each other, and on 2 cores the search ran
slower than sequentially (up to 37 times slower on a loaded machine).

fastbp does not lower the pool's size for other fits: the size is a
process-wide setting, and OpenBLAS's rounding on large products depends on
it, so a fit's results would then depend on how many other fits were
running (fastbp guarantees they do not). The user sets it once for the
whole search, ``threadpoolctl.threadpool_limits(1)`` (what joblib's process
backend does for its workers), and fastbp says so, once per process, when
it sees overlapping fits oversubscribe the cores.

One fit may pin the pool to one thread while it runs a slice of an epoch
whose steps it splits between threads of its own
(:mod:`fastbp.training.split`), as scikit-learn's KMeans does around its
parallel loops. It does so inside :func:`blas_section`, which every other
compiled call that runs products (fits, predictions) takes too, so that no
other fit's or prediction's products run on a pinned pool, and their
results never depend on what else the process runs.
"""

import itertools
import os
import sys
import threading
from contextlib import contextmanager, nullcontext

from joblib import cpu_count
from threadpoolctl import threadpool_info

from .._cblas import NUMPY_BLAS, find_numpy_blas_threads
from ..exceptions import OversubscriptionWarning, warn_at_caller

# (get, set) of the kernels' BLAS pool size, where fastbp can control it.
_pool = find_numpy_blas_threads() if NUMPY_BLAS else None


# (Bound once: a one-row prediction enters and leaves a section, and the
# uncontended path is a handful of such calls.)
_get_ident = threading.get_ident
_getframe = sys._getframe

#: Seconds a waiter waits before it looks for sections left by an
#: interrupted exit (see :class:`_PoolGate`).
_POLL = 0.1


def _runs(frame, top):
    """Whether ``frame`` is ``top`` or one of its callers."""
    while top is not None:
        if top is frame:
            return True
        top = top.f_back
    return False


class _PoolGate:
    """A readers-writer gate on the BLAS pool's size.

    Readers are compiled calls that run products on the pool as the user
    set it (fits, predictions, the validation score); they run together.
    A writer is a split epoch's slice, which pins the pool to one thread:
    it waits for the readers in flight. Callers that must wait take their
    turns in the order they came: readers that queue behind a writer wait
    for its slice (a stream of predictions cannot starve a fit), and enter
    before any writer that queues after them, the same fit's next slice
    included (split fits cannot starve a prediction: it waits for the
    slices queued before it, not for the fits). A thread that already
    reads enters again without waiting, so that a call nested in another
    cannot deadlock behind a waiting writer.

    Ctrl-C raises KeyboardInterrupt in the main thread at any call, and a
    gate left with a reader counted or the pool pinned makes every later
    fit or prediction wait for good. Each change of state is one store (a
    thread's entry in ``_depths``, the pin in ``_pin``, a turn in
    ``_queue``) made inside a ``try`` that undoes it, and an exit repeats
    its idempotent steps until they are done. The one point no context
    manager can guard is the call of its ``__exit__``: so each section
    records the frame of its ``with`` statement, and a section whose frame
    no longer runs is over (the thread's next call, a waiter every
    :data:`_POLL` seconds, and a fit's cleanup through :meth:`reap` forget
    it). So a section is entered by a ``with``
    statement of a plain function: a generator's frame leaves the stack at
    each ``yield``, and a section around one would be taken as over. Waiters
    wait on a lock of their own
    rather than a Condition, whose notify can be interrupted between
    releasing a waiter and forgetting it (a later notify then fails with
    "release unlocked lock").
    """

    def __init__(self, get, set_):
        self._get, self._set = get, set_
        self._lock = threading.Lock()
        # Thread ident: (depth of its reader sections, the frame of the
        # outermost one's with statement); the pinning thread's own
        # sections included (they run on the pinned pool).
        self._depths = {}
        # (the pinning thread's ident, the user's size, the frame of the
        # pin's with statement) while pinned.
        self._pin = None
        # Turn number: (whether a writer waits, its wake lock), in the
        # order the turns were taken.
        self._queue = {}
        self._turns = itertools.count()

    def size(self):
        with self._lock:
            pin = self._pin
            return self._get() if pin is None else pin[1]

    def shared(self):
        """The context of a reader (reusable, and cheap: a prediction of a
        single row takes it)."""
        return self

    def pinned(self):
        """The context of a writer, which pins the pool to one thread."""
        return _Pinned(self)

    def released(self):
        """Leave this thread's reader section for the block, and enter it
        again after (waiting as a new reader does). Nothing changes in a
        thread that holds the pin or is no reader."""
        return _Released(self)

    def _pinner(self):
        pin = self._pin
        return None if pin is None else pin[0]

    def _may_enter(self, turn, writer):
        """Under the lock: whether a caller holding ``turn`` (None: no turn
        taken) may enter now."""
        if self._pin is not None:
            return False
        if writer:
            if self._depths:
                return False
            if turn is None:
                return not self._queue
            return next(iter(self._queue)) == turn
        for queued, (queued_writer, _) in self._queue.items():
            if queued == turn:
                return True
            if queued_writer:
                return False
        return True

    def _wake_all(self):
        """Under the lock: let every waiter look again."""
        for _, wake in self._queue.values():
            if wake.locked():
                wake.release()

    def _forget_stale(self, me=None, top=None):
        """Under the lock: forget the sections whose with statement no
        longer runs, of every thread, or of ``me`` (whose frame is ``top``).
        Returns whether any was forgotten."""
        frames = {me: top} if me is not None else sys._current_frames()
        stale = False
        for ident, (_, frame) in list(self._depths.items()):
            if ident in frames and not _runs(frame, frames[ident]) or (
                    me is None and ident not in frames):
                del self._depths[ident]
                stale = True
        pin = self._pin
        if pin is not None and (pin[0] in frames and not _runs(pin[2], frames[pin[0]])
                                or me is None and pin[0] not in frames):
            self._unpin(pin[0])
            stale = True
        if stale:
            self._wake_all()
        return stale

    def _admit(self, me, writer, entry):
        """Wait for this thread's turn, and take the pin (``writer``; entry
        is the with statement's frame) or enter as a reader (``entry`` is
        its ``_depths`` entry); undone if interrupted."""
        turn = None
        try:
            while True:
                with self._lock:
                    if self._may_enter(turn, writer):
                        self._queue.pop(turn, None)
                        if writer:
                            self._pin = (me, self._get(), entry)
                            self._set(1)
                        else:
                            self._depths[me] = entry
                        self._wake_all()
                        return
                    if turn is None:
                        wake = threading.Lock()
                        wake.acquire()
                        turn = next(self._turns)
                        self._queue[turn] = (writer, wake)
                if not wake.acquire(timeout=_POLL):
                    with self._lock:
                        self._forget_stale()
        except BaseException:
            with self._lock:
                self._queue.pop(turn, None)
                if writer:
                    self._unpin(me)
                else:
                    self._depths.pop(me, None)
                self._wake_all()
            raise

    def _unpin(self, me):
        """Under the lock: end ``me``'s pin if it holds one (again after an
        interruption: each step is idempotent)."""
        pin = self._pin
        if pin is None or pin[0] != me:
            return
        # Restored only where the pin still holds: a size set meanwhile
        # (threadpool_limits leaving its block in another thread) is the
        # newer setting, and putting back the one read at the pin would
        # leave the pool at that stale size. (A block that restores one
        # thread cannot be told from the pin, and is undone.)
        if self._get() == 1:
            self._set(pin[1])
        self._pin = None

    def reap(self):
        """Forget this thread's sections whose ``with`` statement no longer
        runs (an exit interrupted at its call), now rather than at the
        thread's next call: a pin left so keeps the pool at one thread for
        the user's own products, and its frame keeps the fit's arrays."""
        me = threading.get_ident()
        if self._depths.get(me) is None and self._pinner() != me:
            return
        with self._lock:
            self._forget_stale(me, sys._getframe())

    def __enter__(self):
        me = _get_ident()
        top = _getframe(1)
        fresh = (1, top)
        # The common case (no pin, no one waiting, not nested) without
        # _admit's turn taking, which made the uncontended section half as
        # dear again (a one-row prediction pays it). The undo pops only the
        # entry stored here.
        try:
            with self._lock:
                if self._pin is None and not self._queue and me not in self._depths:
                    self._depths[me] = fresh
                    return
        except BaseException:
            with self._lock:
                if self._depths.get(me) is fresh:
                    del self._depths[me]
                    if self._queue:
                        self._wake_all()
            raise
        entry = self._depths.get(me)
        # Nested, or the pinning thread's own products between its slices
        # (a split fit's validation score): they run on the pool as the
        # thread already holds it, unless what it holds was left by an
        # interrupted exit.
        if entry is not None or self._pinner() == me:
            with self._lock:
                self._forget_stale(me, top)
                entry = self._depths.get(me)
                if entry is not None:
                    self._depths[me] = (entry[0] + 1, entry[1])
                    return
                if self._pinner() == me:
                    self._depths[me] = fresh
                    return
        self._admit(me, False, fresh)

    def __exit__(self, exc_type, exc, tb):
        interrupted = None
        while True:
            try:
                me = _get_ident()
                entry = self._depths.get(me)
                if entry is not None and entry[0] > 1:
                    self._depths[me] = (entry[0] - 1, entry[1])
                elif entry is not None:
                    with self._lock:
                        self._depths.pop(me, None)
                        if self._queue:
                            self._wake_all()
                # (None: left already, by an interrupted released().)
                break
            except KeyboardInterrupt as err:
                interrupted = err
        if interrupted is not None:
            raise interrupted

    def after_fork_in_child(self):
        """Make the gate of a child made by fork a fresh one.

        Only the forking thread lives in the child: the readers, the
        pinning writer and the waiting callers of the parent's other
        threads never leave their sections there, and a lock one of them
        held at the fork is never released, so that the child's first fit
        or prediction would wait for good. The forking thread keeps its own
        part (it leaves its sections in the child as in the parent); a pin
        it does not hold is undone, restoring the pool size the user set
        (the child inherits the parent's pinned size of one thread).
        """
        me = _get_ident()
        entry = self._depths.get(me)
        self._lock = threading.Lock()
        self._depths = {me: entry} if entry is not None else {}
        self._queue = {}
        pin = self._pin
        if pin is not None and pin[0] != me:
            self._set(pin[1])
            self._pin = None


class _Pinned:
    """:meth:`_PoolGate.pinned`'s context (a class rather than a generator:
    an interrupted generator's cleanup would run whenever it is collected,
    after the gate moved on)."""

    def __init__(self, gate):
        self._gate = gate

    def __enter__(self):
        gate = self._gate
        me = threading.get_ident()
        top = sys._getframe(1)
        if gate._depths.get(me) is not None or gate._pinner() == me:
            with gate._lock:
                gate._forget_stale(me, top)
            if gate._depths.get(me) is not None or gate._pinner() == me:
                raise RuntimeError("a thread inside a BLAS section cannot pin the pool")
        gate._admit(me, True, top)

    def __exit__(self, *exc):
        gate = self._gate
        interrupted = None
        while True:
            try:
                me = threading.get_ident()
                with gate._lock:
                    gate._unpin(me)
                    gate._wake_all()
                break
            except KeyboardInterrupt as err:
                interrupted = err
        if interrupted is not None:
            raise interrupted


class _Released:
    """:meth:`_PoolGate.released`'s context."""

    def __init__(self, gate):
        self._gate = gate
        self._entry = None

    def __enter__(self):
        gate = self._gate
        me = threading.get_ident()
        entry = gate._depths.get(me)
        if entry is None or gate._pinner() == me:
            return
        # Interrupted after the thread left, the enclosing sections' exits
        # find nothing to leave.
        with gate._lock:
            gate._depths.pop(me, None)
            gate._wake_all()
        self._entry = entry

    def __exit__(self, *exc):
        if self._entry is not None:
            # Back in as it was, waiting as a new reader does; interrupted
            # while waiting, the thread stays out (as above).
            self._gate._admit(threading.get_ident(), False, self._entry)


_gate = _PoolGate(*_pool) if _pool is not None else None


def blas_pool_size():
    """Threads in the kernels' BLAS pool (NumPy's OpenBLAS), as the user
    set it (never a pinned size); None where fastbp cannot set it (another
    BLAS)."""
    return None if _gate is None else _gate.size()


def outside_blas_section():
    """A block of a thread inside :func:`blas_section` that runs none of
    the section's products (it waits for another process's compile) and
    may run fits of its own, split ones included: the thread leaves the
    section for the block."""
    return nullcontext() if _gate is None else _gate.released()


def blas_section(pin=False):
    """The context in which a compiled call that runs BLAS products runs.

    Parameters
    ----------
    pin : bool
        False: the call's products run on the pool as the user set it,
        which no split epoch may pin meanwhile (calls of this kind run
        together). True: the call is a split epoch's slice, whose threads
        each call one-thread products: the pool is pinned to one thread
        while it runs, after the calls in flight, and restored after.
    """
    if _gate is None:
        return nullcontext()
    return _gate.pinned() if pin else _gate.shared()


def reap_blas_sections():
    """Forget this thread's :func:`blas_section` blocks whose exit Ctrl-C
    interrupted at its very call (see :class:`_PoolGate`): a fit's cleanup
    calls it, so that a pin left so does not keep the pool at one thread,
    and the fit's arrays alive, until the thread's next compiled call."""
    if _gate is not None:
        _gate.reap()


def host_blas_section(backend):
    """:func:`blas_section` for a compiled call of ``backend``'s kernels:
    a reader's where they run products on the host's BLAS pool."""
    return blas_section() if backend.name == "cpu" else nullcontext()


_lock = threading.Lock()
_active = 0
# The BLAS pool size at the last oversubscription check, or _WARNED once
# it has warned: overlapping fits are checked again where the size changed
# (the first overlap may run inside threadpool_limits(1), a later one not).
_WARNED, _UNCHECKED = object(), object()
_checked_at = _UNCHECKED
# Whether this thread is running a fit: one inside another (the warm-up a
# fit runs while another process compiles its kernels) does not run at
# once with it, so it is not counted.
_running = threading.local()


def _after_fork_in_child():
    # The child runs none of the parent's other threads' fits (a count
    # that included them would warn of oversubscription for nothing), and
    # a lock one of them held at the fork would never be released in it.
    global _lock, _active
    _lock = threading.Lock()
    _active = 1 if getattr(_running, "fit", False) else 0
    if _gate is not None:
        _gate.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def active_fits():
    """Fits running in this process now."""
    return _active


@contextmanager
def fit_slot():
    """Count one running fit (one that runs inside another, in its thread,
    counts as that one); where two overlap under a BLAS pool size not yet
    checked, check that their BLAS threads fit the machine's cores (a
    warning is given once per process)."""
    global _active, _checked_at
    if getattr(_running, "fit", False):
        yield
        return
    with _lock:
        _active += 1
        check = False
        if _active >= 2 and _checked_at is not _WARNED:
            # (Read only where fits overlap: a lone partial_fit asks here.)
            size = blas_pool_size()
            check = _checked_at != size
            if check:
                _checked_at = size
        active = _active
    try:
        _running.fit = True
        if check and _warn_if_oversubscribed(active):
            _checked_at = _WARNED
        yield
    finally:
        _running.fit = False
        with _lock:
            _active -= 1


def _warn_if_oversubscribed(active):
    """Warn where ``active`` fits' BLAS threads exceed the cores; return
    whether it warned."""
    cores = cpu_count()
    pools = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    threads = max((lib["num_threads"] for lib in pools), default=1)
    if threads * active > cores:
        warn_at_caller(
            f"{active} fastbp fits are running at once in threads of this process, and "
            f"each may use {threads} BLAS threads on {cores} cores: the BLAS pool "
            "oversubscribes the cores, and a parallel search can run slower than a "
            "sequential one. Run the search inside threadpoolctl.threadpool_limits(1) "
            "(for example `with threadpool_limits(1), parallel_backend('threading'): "
            "search.fit(X, y)`), or use joblib's default process backend. See "
            "'Scaling a search' in fastbp's documentation (docs/scaling-search.md).",
            OversubscriptionWarning, at_once=True)
        return True
    return False
