"""Running an epoch's compiled calls: whole, or with each mini-batch step
split between threads.

:class:`WholeEpoch` calls the backend's ``train_epoch``. Where the
kernels' products would run on a BLAS pool of several threads,
:class:`SplitEpoch` runs ``train_epoch_split`` in that many threads of its
own instead, each with one-thread products (see
:mod:`fastbp.kernels.split`): every BLAS product forks and joins its pool,
which on the small products of a mini-batch cost more than it gained (on 2
cores, MNIST at batch 32 trained slower with two BLAS threads than with
one). :func:`split_parts` decides, once per fit, from the pool size the
user set (``threadpoolctl``, ``OPENBLAS_NUM_THREADS``) and the step's
size; ``FASTBP_SPLIT=off`` (or 0, false, no) in the environment turns
splitting off.

A split fit's results depend on that decision, as a fit's float32 results
already depend on the pool size through OpenBLAS's rounding: they are the
same from run to run, and they differ from an unsplit fit's by rounding.
"""

import os
import queue
import threading
from contextlib import contextmanager

import numpy as np
from joblib import cpu_count

from ..exceptions import warn_at_caller
from ..kernels import codes
from ..kernels.records import Split
from ..kernels.sync import ABORT, sync_size
from .threads import blas_pool_size, blas_section, host_blas_section, reap_blas_sections

#: The most threads a step is split between: the largest split measured
#: (on 2 cores). With a larger pool the products keep BLAS's threads.
MAX_PARTS = 2
#: The fewest batch rows per part.
MIN_ROWS = 8
#: The fewest multiply-adds per step (batch rows x weights) worth a split:
#: below it the two barriers per step cost more than the halved products
#: save (measured with ``python -m bench.split``).
MIN_STEP_MACS = 1_000_000


def split_parts(backend, toolkit, sparse, batch_size, n_samples, n_weights):
    """How many threads to split each mini-batch step between (1: none).

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    toolkit : bool
        Whether the fit runs the toolkit's kernels (``NetworkSpec.uses_toolkit``):
        the split exists for the default path only.
    sparse : bool
    batch_size, n_samples, n_weights : int

    Returns
    -------
    int
    """
    if backend.name != "cpu" or toolkit or sparse:
        return 1
    rows = min(batch_size, n_samples)
    forced = getattr(_forced, "parts", 0)
    # The step's size first: it rules out most small fits (each
    # partial_fit call asks) before the environment and the pool are read.
    if (not forced and rows * n_weights < MIN_STEP_MACS) or _switched_off():
        return 1
    pool = blas_pool_size()
    if pool is None:
        return 1
    if forced:
        return forced if rows >= forced * MIN_ROWS else 1
    if not 2 <= pool <= MAX_PARTS:
        return 1
    # Last: joblib reads the cgroup files on every call (about 0.1 ms, a
    # twentieth of a small network's partial_fit).
    parts = min(pool, cpu_count())
    return parts if parts >= 2 and rows >= parts * MIN_ROWS else 1


def splits_here():
    """Whether a process of this machine whose BLAS pool has every core (a
    process's default) splits large steps (:func:`split_parts`): a search's
    refit, say, where its fits ran in one-thread workers.

    Returns
    -------
    bool
    """
    return not _switched_off() and 2 <= cpu_count() <= MAX_PARTS


ENV = "FASTBP_SPLIT"
_OFF = ("0", "off", "false", "no")
_warned_mode = False


def _switched_off():
    """Whether :data:`ENV` turns splitting off (0, off, false or no; auto
    or unset splits where it pays; any other value is taken as auto, with
    one warning)."""
    global _warned_mode
    value = os.environ.get(ENV, "auto").strip().lower()
    if value in _OFF:
        return True
    if value not in ("", "auto") and not _warned_mode:
        _warned_mode = True
        warn_at_caller(f"{ENV}={value!r} is not one of auto, 0/off/false/no: taken as auto "
                       "(steps are split where it pays; set it to off to never split).",
                       RuntimeWarning, at_once=True)
    return False


_forced = threading.local()


@contextmanager
def forced_split(parts=2):
    """Split every fit of this thread that can be split (the default path,
    dense ``X``, a BLAS pool fastbp controls) into ``parts``, whatever its
    step's size and the pool's: :func:`fastbp.warmup` compiles the split
    kernels on tiny data this way. Other threads' fits are unaffected."""
    saved = getattr(_forced, "parts", 0)
    _forced.parts = parts
    try:
        yield
    finally:
        _forced.parts = saved


class WholeEpoch:
    """An epoch's calls of ``train_epoch``, one thread per call.

    Parameters
    ----------
    kernels : module or namespace
        The backend's whole-network kernels.
    records : tuple
        ``(inputs, targets, tables, work, solver)``, as the kernels take them.
    backend : CPUBackend or CUDABackend
        Whose kernels they are (see
        :func:`fastbp.training.threads.host_blas_section`).
    """

    parts = 1

    def __init__(self, kernels, records, backend):
        self.kernels = kernels
        self.records = records
        self.backend = backend
        self.loss_sum = 0.0

    def begin(self):
        """Start an epoch: its loss sum from zero."""
        self.loss_sum = 0.0

    def run(self, hyper, rows, batch_size, t, layer_sq, first_sq):
        """Train on the mini-batches of ``rows``, after the epoch's earlier
        slices; returns the updates done after it (``train_epoch``'s
        ``t``). ``loss_sum`` holds the epoch's sum so far."""
        with self.section():
            self.loss_sum, t = self.kernels.train_epoch(
                *self.records, hyper, rows, batch_size, t, self.loss_sum, layer_sq, first_sq)
        return t

    def section(self):
        """The context for the fit's other products between slices (the
        validation kernels; the user's scorer runs outside it, see
        :meth:`fastbp.training.predict.Validator.evaluate`): the pool as the
        slices find it."""
        return host_blas_section(self.backend)

    def end(self, layer_sq, alive):
        """End an epoch (nothing to gather here)."""

    def close(self):
        """Release what the runner holds: the sections of this thread that
        an interrupted exit left (see
        :func:`fastbp.training.threads.reap_blas_sections`)."""
        reap_blas_sections()


class SplitEpoch(WholeEpoch):
    """An epoch's calls of ``train_epoch_split``, in ``parts`` threads.

    The calling thread runs part 0; ``parts - 1`` threads of the runner's
    own (:class:`_Worker`), kept for the fit, run the others. Each part has
    its own dead-unit tracker, gradient-norm sums and loss sum, gathered at
    the epoch's end (loss sums in part order, so that the epoch's loss does
    not depend on timing or on how the epoch is sliced).
    """

    def __init__(self, kernels, records, parts):
        # The CPU backend's kernels by construction (split_parts); section()
        # is its own, so no backend is kept.
        super().__init__(kernels, records, None)
        inputs, targets, tables, work, solver = records
        self.parts = parts
        self.sync = np.zeros(sync_size(parts), dtype=np.int64)
        self.works = [work] + [work._replace(alive=np.zeros_like(work.alive))
                               for _ in range(parts - 1)]
        self.splits = [Split(p, parts, np.empty_like(tables.buf), self.sync)
                       for p in range(parts)]
        # The other parts' gradient-norm sums, made at the first call (they
        # take the caller's arrays' shape and dtype).
        self.layer_sq = [None] * parts
        self.first_sq = [None] * parts
        self.sums = [0.0] * parts
        # Started at the first slice, inside the fit's try whose finally
        # closes the runner.
        self.workers = []
        # The process they were started in: a child made by fork (an epoch
        # callback's) has none of their threads.
        self._pid = os.getpid()

    def begin(self):
        self.sums = [0.0] * self.parts
        self.loss_sum = 0.0
        for work in self.works[1:]:
            work.alive[:] = 0
        for sq in self.layer_sq[1:]:
            if sq is not None:
                sq[:] = 0

    def _part(self, p, hyper, rows, batch_size, t):
        inputs, targets, tables, _, solver = self.records
        try:
            return self.kernels.train_epoch_split(
                inputs, targets, tables, self.works[p], solver, hyper, rows, batch_size, t,
                self.sums[p], self.layer_sq[p], self.first_sq[p], self.splits[p])
        except BaseException:
            # The other parts wait at a barrier for this one: release them.
            self.sync[ABORT] = 1
            raise

    def section(self):
        # Pinned as the slices are: products on two BLAS threads between
        # slices would leave OpenBLAS's idle worker spinning for about
        # 0.1 s (its THREAD_TIMEOUT) on the core a part needs, which
        # measured twice as slow a split epoch (``python -m bench.split``).
        return blas_section(pin=True)

    def run(self, hyper, rows, batch_size, t, layer_sq, first_sq):
        if hyper.solver not in (codes.SGD, codes.ADAM):
            # The split kernel writes the sgd and adam steps only: another
            # solver (the toolkit's, which split_parts never splits) would
            # silently take a different step there.
            name = next((k for k, v in codes.SOLVERS.items() if v == hyper.solver),
                        str(hyper.solver))
            raise ValueError(f"A split epoch runs solver sgd or adam (the steps that "
                             f"train_epoch_split implements), not {name}.")
        if self.layer_sq[1] is None:
            self.layer_sq[1:] = [np.zeros_like(layer_sq) for _ in range(self.parts - 1)]
            self.first_sq[1:] = [np.zeros_like(first_sq) for _ in range(self.parts - 1)]
        self.layer_sq[0] = layer_sq
        self.first_sq[0] = first_sq
        self.sync[:] = 0
        t_before = t
        if os.getpid() != self._pid:
            # The parent's threads, idle between slices at the fork, do not
            # run here: parts handed to them would never end. They hold
            # nothing to release in this process.
            self.workers = []
            self._pid = os.getpid()
        with blas_section(pin=True):
            try:
                while len(self.workers) < self.parts - 1:
                    worker = _Worker(f"fastbp-split-{len(self.workers) + 1}", self.sync)
                    # Kept before it starts: a start that Ctrl-C interrupts
                    # may still have started the thread, which close() ends.
                    self.workers.append(worker)
                    worker.start()
                for p, worker in enumerate(self.workers, 1):
                    worker.hand(self._part, p, hyper, rows, batch_size, t)
                own = self._part(0, hyper, rows, batch_size, t)
            except BaseException:
                # Ctrl-C (or an error) before part 0 ran: the parts already
                # started wait for it at a barrier, so release them. After
                # it ran, the flag changes nothing: the epoch is abandoned.
                self.sync[ABORT] = 1
                raise
            finally:
                # Every part ends before the caller reads or restores the
                # buffers they write, and before the pin ends. Pending, not
                # a list of the parts handed: Ctrl-C right after a hand
                # queued its part would leave that part out of the list.
                # The waits first, each repeated however often Ctrl-C
                # interrupts it: an interrupt at the call of result() (or
                # of _results) would skip its own retries.
                interrupted = None
                while True:
                    try:
                        for worker in self.workers:
                            worker.wait()
                        break
                    except KeyboardInterrupt as exc:
                        interrupted = exc
                others = _results(self.workers)
                if interrupted is not None:
                    raise interrupted
        results = [own] + others
        for p, (loss_sum, t_after, completed) in enumerate(results):
            if not completed:
                raise RuntimeError("a split training step was abandoned by one of its threads")
            self.sums[p] = loss_sum
        if t_before == 0 and t_after > 0:
            for other in self.first_sq[1:]:
                first_sq += other
        self.loss_sum = sum(self.sums)
        return t_after

    def end(self, layer_sq, alive):
        """Add the other parts' gradient-norm sums into ``layer_sq`` and
        their dead-unit trackers into ``alive``."""
        for sq in self.layer_sq[1:]:
            if sq is not None:
                layer_sq += sq
        for work in self.works[1:]:
            np.maximum(alive, work.alive, out=alive)

    def close(self):
        try:
            for worker in self.workers:
                worker.close()
        finally:
            reap_blas_sections()


def _results(workers):
    """Wait for the part of every pending worker of ``workers``, all of
    them even where one fails or Ctrl-C interrupts a wait; returns their
    results in order, or raises the first failure (an interruption
    first)."""
    results, failure = [], None
    for worker in workers:
        if not worker.pending:
            continue
        try:
            results.append(worker.result())
        except KeyboardInterrupt as exc:
            failure = exc
        except BaseException as exc:
            if failure is None:
                failure = exc
    if failure is not None:
        raise failure
    return results


class _Worker:
    """A thread of a split fit's own that runs the parts it is handed, one
    at a time, until closed.

    Not a ``ThreadPoolExecutor``: at the interpreter's exit,
    ``concurrent.futures`` shuts every executor down before it joins the
    threads still running, and a split fit running in one of them (or in
    an ``atexit`` handler) had its next slice refused ("cannot schedule new
    futures after shutdown"). A daemon thread: a fit's thread killed at
    exit (a daemon itself) never closes it, and it must not keep the
    process alive.

    Parameters
    ----------
    name : str
        The thread's name.
    sync : ndarray of int64
        The parts' barrier counters and abort flag (see
        :mod:`fastbp.kernels.sync`), raised where a part fails.
    """

    def __init__(self, name, sync):
        self._tasks = queue.SimpleQueue()
        self._sync = sync
        # Whether a part was handed whose result has not been taken:
        # set before the part is queued, so that an interruption right
        # after the queueing cannot leave it unawaited.
        self.pending = False
        # The part's outcome, (True, result) or (False, exception), set by
        # the thread when the part ends: what a wait checks. _done, held
        # but while released by the thread after it set the outcome, only
        # wakes the waiter. A wait that Ctrl-C interrupts anywhere repeats
        # a check (an Event's wait could lose its Condition's lock there,
        # "release unlocked lock", and a lock acquired a second time after
        # its release was taken would wait for good).
        self._outcome = None
        self._done = threading.Lock()
        self._done.acquire()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self):
        try:
            self._thread.start()
        except RuntimeError as exc:
            # Ctrl-C in Thread.start's wait for the thread (a Condition's,
            # in its re-acquire of the lock) leaves that lock released, and
            # the wait's with statement then fails to release it: the
            # interrupt, which started the thread anyway, is the context.
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise exc.__context__ from None
            raise

    def hand(self, fn, *args):
        """Run ``fn(*args)`` in the thread; :meth:`result` waits for it."""
        # (No signal handler runs between the store and the put's call.)
        self.pending = True
        self._tasks.put((fn, args))

    def result(self):
        """The result of the part handed last, waiting however often Ctrl-C
        interrupts the wait (a part must end before its buffers are read or
        restored); the part's exception is raised here."""
        interrupted = False
        while True:
            try:
                self.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
        ok, value = self._outcome
        self._outcome = None
        self.pending = False
        if interrupted:
            raise KeyboardInterrupt
        if not ok:
            raise value
        return value

    def wait(self):
        """Wait until the part handed last has ended (at once if none is
        pending); Ctrl-C interrupts it, and a repeated call checks again."""
        while self.pending and self._outcome is None:
            self._done.acquire(timeout=1.0)

    def close(self):
        """End the thread (after the part it runs, if any)."""
        self._tasks.put(None)
        if self._thread.is_alive():
            self._thread.join()

    def _serve(self):
        while True:
            task = self._tasks.get()
            if task is None:
                return
            fn, args = task
            try:
                outcome = (True, fn(*args))
            except BaseException as exc:
                # Failed before the part's own handler raised the flag
                # (SplitEpoch._part), the other parts would wait at a
                # barrier for this one for good: release them.
                self._sync[ABORT] = 1
                outcome = (False, exc)
            # Nothing of the fit is held while the thread waits.
            task = fn = args = None
            self._outcome = outcome
            outcome = None
            # Only this thread releases it, so the check cannot race; a
            # release the waiter did not need (it saw the outcome first) is
            # left standing, and its next wait takes it and checks again.
            if self._done.locked():
                self._done.release()
