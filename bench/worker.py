"""Process isolation: every timed system runs in its own worker subprocess.

Why: each library brings its own thread pool -- fastbp's kernels and
scikit-learn call NumPy's OpenBLAS (Numba's np.dot, SciPy's),
PyTorch its own OpenMP pool -- and an OpenBLAS pool's threads keep spinning
for about 0.1 s after each call. Interleaving systems in one process lets
the previous system's spinning pool steal the cores from the next one (on 2
cores, fastbp's 2-thread MNIST epochs took ~1.1 s interleaved with
scikit-learn in one process, 0.10 s in a process of their own). So:

* one **persistent worker process per system** (fresh for every case in
  ``bench.report``; see :class:`WorkerPool`)
  (``python -m bench.worker``, stdin/stdout pipes, one JSON line per request
  and per reply), started with the case's thread count in
  ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``/
  ``NUMBA_NUM_THREADS`` (and the other pools' variables, see
  :func:`bench.threads.thread_env`) before any library loads, and inside
  :func:`bench.threads.limit_threads` for its whole life;
* each worker loads the case's training data itself, through the same
  loader as the rest of the suite (:func:`bench.workloads.load`: same
  workload, subset and dtype, hence the same bytes for every system), and
  builds its runner (:mod:`bench.peers`);
* the parent then asks one worker at a time for one epoch (or one turn of
  epochs, see :meth:`_Child.epoch`); the worker times it itself
  (``gc.collect()`` first, then ``perf_counter`` around the epoch) and
  replies with the seconds. Meanwhile the other workers sit in a
  blocking read, so their pools sleep. Before each request the parent waits
  until every worker has gone quiet (:func:`wait_quiet`: no
  more CPU time on any of their threads, read from ``/proc``), so the
  previous system's spinning pool has gone to sleep;
* a separate worker, started with the others, measures the case's GEMM peak
  (:func:`bench.gemm_peak.measure`) at the same thread count, after the
  epochs.

:class:`WorkerPool` owns the processes (one per system and thread count,
plus a GEMM-peak worker per thread count) and sets them up for a case;
:class:`CaseWorkers` is one case's view of it. By default a pool serves one
case and a new case gets fresh processes; the pytest session's pool
(``reuse_across_cases``) sets its processes up afresh for each case instead.
A worker's stdout is its reply channel only: at start it moves fd 1 onto
stderr, so a library printing cannot corrupt the protocol; its stderr goes
to a temporary file whose tail is quoted when it fails.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Seconds the parent waits for one reply (an epoch of the full grid's
#: slowest cell takes well under a minute). Override with the variable.
TIMEOUT_ENV = "FASTBP_BENCH_WORKER_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0

#: :func:`wait_quiet`: poll window, windows in a row that must be quiet, CPU
#: share of one core below which a window counts as quiet, longest wait.
QUIET_WINDOW_S = 0.01
QUIET_WINDOWS = 2
QUIET_SHARE = 0.1
QUIET_MAX_S = 1.0
#: Without /proc (not Linux): a fixed pause, longer than OpenBLAS's spin.
FALLBACK_SETTLE_S = 0.2

PEAK = "gemm_peak"  # the GEMM-peak worker's name (in place of a system)


# ===========================================================================
# parent side
# ===========================================================================


class WorkerError(RuntimeError):
    """A worker failed a request (its traceback is in the message) or died."""


def _timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def worker_env(threads: int) -> dict:
    from .threads import thread_env

    env = dict(os.environ)
    env.update(thread_env(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """One worker subprocess at ``threads`` threads; see module doc."""

    def __init__(self, threads: int, name: str):
        self.name, self.threads = name, int(threads)
        self.info: dict = {}
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"], cwd=str(REPO_ROOT), env=worker_env(threads),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
        )
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def label(self) -> str:
        return self.info.get("label", self.name)

    def stderr_tail(self, n: int = 1500) -> str:
        try:  # pread: the child shares the file offset, leave it alone
            fd = self._err.fileno()
            size = os.fstat(fd).st_size
            return os.pread(fd, n, max(0, size - n)).decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _died(self, what: str) -> WorkerError:
        rc = self.proc.poll()
        tail = self.stderr_tail()
        return WorkerError(f"{self.name} worker {what} (exit code {rc})"
                           + (f"; stderr: {tail}" if tail else ""))

    def send(self, cmd: str, **kw) -> None:
        try:
            self.proc.stdin.write((json.dumps({"cmd": cmd, **kw}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._died("is gone") from None

    def receive(self, timeout: float | None = None) -> dict:
        timeout = _timeout() if timeout is None else timeout
        if not self._sel.select(timeout):
            self.kill()
            raise WorkerError(f"{self.name} worker gave no reply in {timeout:.0f} s (killed; "
                              f"raise {TIMEOUT_ENV} for slower machines)")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise self._died("exited")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"{self.name} worker: {reply['error']}\n{reply.get('traceback', '')}".strip())
        return reply

    def call(self, cmd: str, timeout: float | None = None, **kw) -> dict:
        self.send(cmd, **kw)
        return self.receive(timeout)

    #: Seconds of back-to-back epochs per timed turn, after the turn's
    #: first epoch (see :meth:`_Child.epoch`); 0: one epoch per turn.
    turn_s: float = 0.0

    def epoch(self, collect: bool = True) -> float:
        """One turn of epochs (one epoch unless :attr:`turn_s` is set); the
        wall time per timed epoch in seconds as measured inside the worker
        (with a turn, the mean of its epochs after the first)."""
        return self.call("epoch", collect=collect, turn_s=self.turn_s)["s"]

    def timed_epoch(self) -> float:  # the bench.timing runner interface
        return self.epoch(collect=True)

    def collect(self) -> None:
        self.call("collect")

    def state(self) -> dict:
        return self.call("state")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def request_quit(self) -> None:
        """Ask the worker to exit (without waiting: see :meth:`close`)."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (WorkerError, OSError, ValueError):
                pass

    def close(self, timeout: float = 5.0) -> None:
        self.request_quit()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self._err):
            try:
                f.close()
            except OSError:
                pass
        self._sel.close()


def process_cpu_ns(pid: int) -> int | None:
    """CPU time of all threads of ``pid`` in ns (None without /proc)."""
    total, found = 0, False
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as fh:
                total += int(fh.read().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited
    return total if found else None


def wait_quiet(pids, window: float = QUIET_WINDOW_S, windows: int = QUIET_WINDOWS,
               share: float = QUIET_SHARE, max_wait: float = QUIET_MAX_S) -> float:
    """Wait until the processes ``pids`` use (almost) no CPU; seconds waited.

    Quiet = ``windows`` consecutive ``window``-second polls in which all
    their threads together ran less than ``share`` of one core; gives up
    after ``max_wait``. Without /proc, sleeps :data:`FALLBACK_SETTLE_S`.
    """
    pids = list(pids)
    t0 = time.perf_counter()
    if not pids:
        return 0.0

    def cpu():
        vals = [process_cpu_ns(p) for p in pids]
        return None if all(v is None for v in vals) else sum(v for v in vals if v is not None)

    last = cpu()
    if last is None:
        time.sleep(FALLBACK_SETTLE_S)
        return time.perf_counter() - t0
    quiet = 0
    while quiet < windows and time.perf_counter() - t0 < max_wait:
        time.sleep(window)
        now = cpu() or 0
        quiet = quiet + 1 if now - last < share * window * 1e9 else 0
        last = now
    return time.perf_counter() - t0


class CaseWorkers:
    """One case's view of a :class:`WorkerPool`: its system workers and peak worker."""

    def __init__(self, pool: WorkerPool, case, workers: dict, failed: dict):
        self.pool, self.case = pool, case
        self.workers: dict[str, Worker] = workers
        self.failed: dict[str, str] = failed

    @property
    def settle_s(self) -> list[float]:
        return self.pool.settle_s

    def worker(self, system: str) -> Worker:
        if system in self.failed:
            raise WorkerError(self.failed[system])
        if system not in self.workers:
            raise KeyError(f"no worker for {system!r} in case {self.case.id}")
        return self.workers[system]

    def quiesce(self, *_ignored) -> float:
        """Wait until every worker is idle (see :func:`wait_quiet`)."""
        return self.pool.quiesce()

    def gemm_peak(self, n_samples: int, batch: int, sizes: list[int], dtype) -> dict:
        """The case's GEMM peak, measured in the peak worker (see gemm_peak.measure)."""
        return self.pool.gemm_peak(self.case.threads, n_samples, batch, sizes, dtype)


class WorkerPool:
    """Worker processes, one per (system, thread count), plus one GEMM-peak worker.

    :meth:`for_case` sets the workers up for a case: it starts the missing
    ones (all at once) and sends each its setup. By default a pool serves one
    case: asking for another case closes every worker first, so each case
    gets fresh processes. With ``reuse_across_cases`` (the pytest smoke run,
    where process start-up would dominate) a worker started for one thread
    count serves every later case with that thread count: the new setup
    drops the old runner and data and builds the new case's in the same
    process (same libraries, same pools, same thread count); the peak worker
    is kept per thread count too.
    """

    def __init__(self, reuse_across_cases: bool = False):
        self.reuse = bool(reuse_across_cases)
        self.workers: dict[tuple[str, int], Worker] = {}
        self.case_of: dict[tuple[str, int], object] = {}  # the case a worker is set up for
        self.failed: dict[tuple[str, str], str] = {}  # (system, case id) -> why
        self.settle_s: list[float] = []
        self.standin: bool | None = None

    # -- workers -----------------------------------------------------------

    def _drop(self, key) -> None:
        w = self.workers.pop(key, None)
        self.case_of.pop(key, None)
        if w is not None:
            w.close()

    def for_case(self, case, systems, standin: bool | None = None, peak: bool = True) -> CaseWorkers:
        """Workers for ``case``: system -> set-up worker, and why others failed."""
        import dataclasses

        from . import subject
        from .peers import TrainSpec

        standin = subject.standin_requested() if standin is None else bool(standin)
        if self.standin is not None and standin != self.standin:
            self.close()
        self.standin = standin
        if not self.reuse:
            stale = [k for k, c in self.case_of.items() if c != case]
            if stale:
                self.close()
        t = int(case.threads)
        spec = TrainSpec(case.workload.hidden, case.batch_size)
        pending = {}
        for s in list(systems) + ([PEAK] if peak else []):
            key = (s, t)
            if (s, case.id) in self.failed:
                continue
            w = self.workers.get(key)
            if w is not None and w.proc.poll() is not None:  # died since: start afresh
                self._drop(key)
                w = None
            if w is not None and (s == PEAK or self.case_of.get(key) == case):
                continue
            if w is None:
                w = self.workers[key] = Worker(t, s)
            try:
                if s == PEAK:
                    w.send("setup", role="peak", threads=t)
                else:
                    w.send("setup", role="system", system=s, threads=t, standin=standin,
                           workload=dataclasses.asdict(case.workload), dtype=case.dtype,
                           hidden=list(spec.hidden), batch_size=spec.batch_size)
                pending[key] = w
            except WorkerError as exc:
                self.failed[(s, case.id)] = f"worker setup failed: {exc}"[:2000]
                self._drop(key)
        for key, w in pending.items():  # the setups run concurrently; collect them
            try:
                w.info = w.receive()
                self.case_of[key] = case
            except WorkerError as exc:
                self.failed[(key[0], case.id)] = f"worker setup failed: {exc}"[:2000]
                self._drop(key)
        workers = {s: self.workers[(s, t)] for s in systems if self.case_of.get((s, t)) == case}
        failed = {s: self.failed[(s, case.id)] for s in systems if (s, case.id) in self.failed}
        return CaseWorkers(self, case, workers, failed)

    def quiesce(self) -> float:
        """Wait until every worker of the pool is idle (see :func:`wait_quiet`)."""
        waited = wait_quiet(w.pid for w in self.workers.values() if w.proc.poll() is None)
        self.settle_s.append(waited)
        return waited

    def gemm_peak(self, threads: int, n_samples: int, batch: int, sizes: list[int], dtype) -> dict:
        """:func:`bench.gemm_peak.measure` in the pool's peak worker for ``threads``."""
        import numpy as np

        key = (PEAK, int(threads))
        w = self.workers.get(key)
        if w is None or w.proc.poll() is not None:
            self._drop(key)
            w = self.workers[key] = Worker(threads, PEAK)
            try:
                w.info = w.call("setup", role="peak", threads=int(threads))
            except WorkerError:
                self._drop(key)
                raise
        self.quiesce()
        return w.call("gemm_peak", n_samples=int(n_samples), batch=int(batch),
                      sizes=[int(s) for s in sizes], dtype=str(np.dtype(dtype)),
                      threads=int(threads))["result"]

    def close(self) -> None:
        for w in self.workers.values():  # all exit at once
            w.request_quit()
        for w in self.workers.values():
            w.close()
        self.workers.clear()
        self.case_of.clear()
        self.failed.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ===========================================================================
# worker side: python -m bench.worker
# ===========================================================================


def thread_report() -> dict:
    """The thread settings as this process sees them (recorded in the results)."""
    out = {"env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                  "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}}
    try:
        import threadpoolctl

        out["pools"] = [{"api": i.get("internal_api"), "lib": os.path.basename(i.get("filepath") or ""),
                         "num_threads": i.get("num_threads")} for i in threadpoolctl.threadpool_info()]
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        out["pools"] = f"threadpool_info failed: {exc}"
    if "numba" in sys.modules:
        out["numba"] = sys.modules["numba"].get_num_threads()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


class _Child:
    def __init__(self):
        self.runner = None
        self.epochs = 0
        self.first_epoch_s = None
        self._limits = None

    def _limit(self, threads: int, torch: bool, numba: bool) -> None:
        if self._limits is None:  # once, for the worker's whole life
            from .threads import limit_threads

            self._limits = limit_threads(int(threads), torch=torch or None, numba=numba or None)
            self._limits.__enter__()

    def setup(self, role: str, threads: int, **kw) -> dict:
        if role == "peak":
            # The peak's products run in Numba-compiled loops (bench.gemm_peak):
            # Numba's pool and SciPy's OpenBLAS get the limit too.
            self._limit(threads, torch=False, numba=True)
            from . import gemm_peak, small_products  # noqa: F401 - import before the first request

            return {"pid": os.getpid(), "threads": thread_report()}
        from . import peers, workloads

        # A new case in the same process: drop the previous runner and data.
        self.runner, self.epochs, self.first_epoch_s = None, 0, None
        gc.collect()
        system = kw["system"]
        spec = peers.TrainSpec(tuple(kw["hidden"]), int(kw["batch_size"]))
        runner = peers.make_runner(system, spec, kw.get("standin"))  # imports the library
        # Limit the pools now loaded (the environment already did, at load).
        self._limit(threads, torch=system.startswith("torch"),
                    numba=system in ("fastbp", "cuda") and not kw.get("standin"))
        wl = dict(kw["workload"])
        wl["hidden"] = tuple(wl["hidden"])
        # The same loader as everywhere else, uncached (a later case frees it).
        # Loading here, not from .npy files the parent wrote, also leaves the
        # process's memory as a user's script leaves it: np.load'ed arrays in
        # an otherwise fresh process made scikit-learn's epochs ~30% slower.
        data = workloads.load_uncached(workloads.Workload(**wl), kw["dtype"], standalone=True)
        self.runner = runner.prepare(data.X_train, data.y_train, data.classes)
        return {"pid": os.getpid(), "label": runner.label, "n_samples": int(data.X_train.shape[0]),
                "threads": thread_report()}

    def epoch(self, collect: bool = True, turn_s: float = 0.0) -> dict:
        """One turn: the mean seconds per epoch of its timed epochs.

        ``turn_s`` 0: one epoch, timed alone. It follows ``gc.collect()``
        and the other systems' turns, so it starts with cold caches: noise
        for a 40 ms epoch, a large share of a 2 ms one.

        ``turn_s`` > 0: a first epoch, then epochs back to back until those
        after the first have lasted ``turn_s`` together (at least one); the
        turn's figure is their mean, and the first epoch, the one made cold
        by the switch of systems, is left out (its time is returned as
        ``first_s``). Every system's turn so runs at least two epochs, and
        every system's figure is of warm epochs (helper-77: when the turn
        averaged all its epochs, a 50 ms turn compared the mean of 25 warm
        2 ms epochs of one system with one cold 60 ms epoch of another).

        A worker's very first epoch (initialisation, compilation) is always
        timed alone and only recorded (``first_epoch_s``).
        """
        if self.runner is None:
            raise RuntimeError("epoch before setup")
        if collect:
            gc.collect()
        t0 = time.perf_counter()
        self.runner.epoch()
        first = time.perf_counter() - t0
        self.epochs += 1
        if self.first_epoch_s is None:
            self.first_epoch_s = first  # initialisation and compilation, alone
            turn_s = 0.0
        if turn_s <= 0:
            return {"s": first, "epochs": self.epochs, "turn_epochs": 1}
        n = 0
        t0 = time.perf_counter()
        while True:
            self.runner.epoch()
            n += 1
            t = time.perf_counter() - t0
            if t >= turn_s:
                break
        self.epochs += n
        return {"s": t / n, "first_s": first, "epochs": self.epochs, "turn_epochs": n + 1}

    def collect(self) -> dict:
        gc.collect()
        return {}

    def state(self) -> dict:
        """The worker's counts: ``epochs`` run since the setup, and
        ``samples`` the runner trained on in them (checked by the parent,
        :func:`bench.epochs.check_trained`)."""
        samples = self.runner.samples_trained() if self.runner is not None else None
        return {"pid": os.getpid(), "epochs": self.epochs, "samples": samples,
                "first_epoch_s": self.first_epoch_s, "threads": thread_report()}

    def gemm_peak(self, n_samples, batch, sizes, dtype, threads) -> dict:
        from . import gemm_peak

        return {"result": gemm_peak.measure(n_samples, batch, sizes, dtype, threads)}


def main() -> int:
    # Replies go to a private copy of stdout; fd 1 becomes stderr, so
    # anything a library prints cannot corrupt the protocol.
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(reply_fd, "w", buffering=1, encoding="utf-8")
    child = _Child()
    handlers = {"setup": child.setup, "epoch": child.epoch, "collect": child.collect,
                "state": child.state, "gemm_peak": child.gemm_peak}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "quit":
            break
        try:
            reply = handlers[cmd](**req)
        except Exception as exc:  # noqa: BLE001 - report it, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"[:1000],
                     "traceback": traceback.format_exc()[-3000:]}
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()
    # Nothing left to save: skip the interpreter's (torch's slow) teardown.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
