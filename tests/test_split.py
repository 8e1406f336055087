"""Mini-batch steps split between threads (fastbp.training.split) through
the estimators: when a fit splits, that a split fit trains the same model
as an unsplit one up to rounding, repeatably, and leaves the BLAS pool as
it found it. The kernels themselves are checked against the NumPy
reference in ``test_kernels.py`` (``test_train_epoch_split_vs_naive``)."""

import dis
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from fastbp import MLPClassifier, MLPRegressor
from fastbp.training import split
from fastbp.training import threads
from fastbp.training.threads import blas_pool_size, blas_section

try:
    from .support import quiet
except ImportError:  # run as a script
    from support import quiet

CPU = SimpleNamespace(name="cpu")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.fixture
def two_cores(monkeypatch):
    """A 2-core machine whose BLAS pool has 2 threads, where every step is
    worth a split (the suite's fits are small)."""
    monkeypatch.setattr(split, "cpu_count", lambda: 2)
    monkeypatch.setattr(split, "MIN_STEP_MACS", 0)
    monkeypatch.delenv("FASTBP_SPLIT", raising=False)
    assert blas_pool_size() is not None, "the kernels' BLAS pool size is not controllable"
    with threadpool_limits(2, user_api="blas"):
        yield


# (split_epochs, the SplitEpoch runners that fits create, is in conftest.py:
# tests/test_mutants_stopping_and_loss_sums.py records them too.)


# -- the decision -------------------------------------------------------------

@pytest.mark.parametrize("pool, cores, expected", [(2, 2, 2), (2, 8, 2), (1, 2, 1),
                                                   (2, 1, 1), (4, 4, 1), (None, 2, 1)])
def test_split_follows_the_blas_pool(monkeypatch, pool, cores, expected):
    """Split where BLAS would run 2 threads (at most MAX_PARTS, at most the
    cores); a larger pool keeps BLAS's threads, and an unknown one is left
    alone."""
    monkeypatch.setattr(split, "blas_pool_size", lambda: pool)
    monkeypatch.setattr(split, "cpu_count", lambda: cores)
    monkeypatch.delenv("FASTBP_SPLIT", raising=False)
    assert split.split_parts(CPU, False, False, 32, 60000, 235_000) == expected


@pytest.mark.parametrize("backend, toolkit, sparse, batch, n, weights, env", [
    (CPU, True, False, 32, 60000, 235_000, None),        # toolkit kernels
    (CPU, False, True, 32, 60000, 235_000, None),        # sparse X
    (SimpleNamespace(name="cuda"), False, False, 32, 60000, 235_000, None),
    (CPU, False, False, 32, 60000, 1_600, None),          # 51k MACs per step
    (CPU, False, False, 200, 10, 235_000, None),           # 10 rows: < 2 x MIN_ROWS
    (CPU, False, False, 12, 60000, 235_000, None),         # batch < 2 x MIN_ROWS
    (CPU, False, False, 32, 60000, 235_000, "off"),
    (CPU, False, False, 32, 60000, 235_000, " OFF "),
])
def test_no_split(monkeypatch, backend, toolkit, sparse, batch, n, weights, env):
    monkeypatch.setattr(split, "blas_pool_size", lambda: 2)
    monkeypatch.setattr(split, "cpu_count", lambda: 2)
    if env is None:
        monkeypatch.delenv("FASTBP_SPLIT", raising=False)
    else:
        monkeypatch.setenv("FASTBP_SPLIT", env)
    assert split.split_parts(backend, toolkit, sparse, batch, n, weights) == 1


def test_threshold_is_the_steps_size(monkeypatch):
    monkeypatch.setattr(split, "blas_pool_size", lambda: 2)
    monkeypatch.setattr(split, "cpu_count", lambda: 2)
    monkeypatch.delenv("FASTBP_SPLIT", raising=False)
    weights = split.MIN_STEP_MACS // 100
    assert split.split_parts(CPU, False, False, 100, 1000, weights) == 2
    assert split.split_parts(CPU, False, False, 99, 1000, weights) == 1
    # a batch larger than the data is the data
    assert split.split_parts(CPU, False, False, 500, 99, weights) == 1


# -- through the estimators ---------------------------------------------------

def _fit(model, X, y, **kw):
    return quiet(model.fit, X, y, **kw)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 2e-3)])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_split_fit_trains_the_unsplit_model(two_cores, split_epochs, monkeypatch, digits,
                                            dtype, rtol, solver):
    X, y = digits
    X = X.astype(dtype)
    params = dict(hidden_layer_sizes=(24, 12), batch_size=40, max_iter=4, solver=solver,
                  learning_rate_init=0.01, random_state=0)
    model = _fit(MLPClassifier(**params), X, y)
    assert len(split_epochs) == 1 and split_epochs[0].parts == 2
    again = _fit(MLPClassifier(**params), X, y)
    for a, b in zip(model.coefs_ + model.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(a, b)  # repeatable to the bit
    assert model.loss_curve_ == again.loss_curve_

    monkeypatch.setenv("FASTBP_SPLIT", "off")
    whole = _fit(MLPClassifier(**params), X, y)
    assert len(split_epochs) == 2
    assert model.coefs_[0].dtype == dtype
    for a, b in zip(model.coefs_ + model.intercepts_, whole.coefs_ + whole.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    np.testing.assert_allclose(model.loss_curve_, whole.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(model.history_["grad_norm"], whole.history_["grad_norm"],
                               rtol=max(rtol, 1e-7))
    if dtype == np.float64:
        np.testing.assert_array_equal(model.predict(X), whole.predict(X))
    assert blas_pool_size() == 2  # unpinned after every slice


def test_split_keeps_what_the_epoch_loop_reads(two_cores, split_epochs, monkeypatch, digits):
    """Early stopping on a validation fraction, sample weights, an
    uneven last batch, and the dead-unit and gradient-norm diagnostics
    gathered from both threads."""
    X, y = digits
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    params = dict(hidden_layer_sizes=(30,), batch_size=70, max_iter=6, early_stopping=True,
                  validation_fraction=0.2, n_iter_no_change=20, random_state=1)
    model = _fit(MLPClassifier(**params), X, y, sample_weight=sw)
    assert split_epochs
    monkeypatch.setenv("FASTBP_SPLIT", "off")
    whole = _fit(MLPClassifier(**params), X, y, sample_weight=sw)
    np.testing.assert_allclose(model.validation_scores_, whole.validation_scores_, rtol=1e-12)
    np.testing.assert_allclose(model.loss_curve_, whole.loss_curve_, rtol=1e-10)
    for key in ("grad_norm", "dead_fraction"):
        np.testing.assert_allclose(np.asarray(model.history_[key], float),
                                   np.asarray(whole.history_[key], float), rtol=1e-9)


def test_split_partial_fit_continues_the_optimizer(two_cores, split_epochs, monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 30))
    y = X @ rng.normal(size=(30, 2)) + 0.1 * rng.normal(size=(400, 2))
    params = dict(hidden_layer_sizes=(40,), batch_size=50, random_state=0)
    model = MLPRegressor(**params)
    for _ in range(3):
        model.partial_fit(X, y)
    assert len(split_epochs) == 3
    monkeypatch.setenv("FASTBP_SPLIT", "off")
    whole = MLPRegressor(**params)
    for _ in range(3):
        whole.partial_fit(X, y)
    for a, b in zip(model.coefs_, whole.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert model.t_ == whole.t_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_in_threads_next_to_a_split_fit(two_cores, digits):
    """A split fit pins the pool while its slices run; fits in other
    threads (split or not) still train what they train alone, and the pool
    ends as it began."""
    X, y = digits
    configs = [dict(hidden_layer_sizes=(32,), batch_size=64),
               dict(hidden_layer_sizes=(8,), batch_size=10),     # < 2 x MIN_ROWS: whole
               dict(hidden_layer_sizes=(16, 16), batch_size=100, solver="sgd")]
    alone = [_fit(MLPClassifier(max_iter=3, random_state=0, **c), X, y) for c in configs]
    results = [None] * 6

    def work(i):
        results[i] = _fit(MLPClassifier(max_iter=3, random_state=0, **configs[i % 3]), X, y)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, model in enumerate(results):
        for a, b in zip(model.coefs_, alone[i % 3].coefs_):
            np.testing.assert_array_equal(a, b)
    assert blas_pool_size() == 2


def test_a_scorer_that_hands_its_work_to_another_thread_runs_outside_the_pin(
        two_cores, split_epochs, digits):
    """A split fit pins the BLAS pool around its own validation kernels,
    not around the user's scorer: a scorer whose predictions run in another
    thread (which would wait for the pin while the fit waited for it) ends,
    and scores what the same scorer scores in the fit's own thread."""
    X, y = digits
    params = dict(hidden_layer_sizes=(24,), batch_size=40, max_iter=3, early_stopping=True,
                  validation_fraction=0.2, n_iter_no_change=20, random_state=0)
    worker = ThreadPoolExecutor(1)

    def offloaded(est, X_val, y_val):
        # Bounded, so that a deadlock fails the fit (and releases the pin)
        # rather than hanging the run.
        return worker.submit(est.score, X_val, y_val).result(timeout=60)

    results = {}

    def fit():
        try:
            results["model"] = _fit(MLPClassifier(scoring=offloaded, **params), X, y)
        except BaseException as exc:
            results["error"] = exc

    thread = _started(fit)
    thread.join(120)
    worker.shutdown(wait=False)
    assert not thread.is_alive(), "the split fit is still waiting for its scorer's thread"
    assert "error" not in results, f"the split fit failed: {results['error']!r}"
    assert split_epochs and split_epochs[0].parts == 2
    inline = _fit(MLPClassifier(scoring=lambda est, X_val, y_val: est.score(X_val, y_val),
                                **params), X, y)
    assert results["model"].validation_scores_ == inline.validation_scores_
    assert blas_pool_size() == 2 and not threads._gate._depths


# -- the gate on the BLAS pool's size ------------------------------------------

class _FakePool:
    """A pool size that records what the gate sets."""

    def __init__(self, size):
        self.size = size

    def get(self):
        return self.size

    def set(self, n):
        self.size = n


def _gate(size=2):
    from fastbp.training.threads import _PoolGate
    pool = _FakePool(size)
    return _PoolGate(pool.get, pool.set), pool


def _started(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_pinning_waits_for_the_calls_in_flight_and_blocks_new_ones():
    gate, pool = _gate()
    seen = []
    reading, pinned, release_reader, release_pin = (threading.Event() for _ in range(4))

    def reader():
        with gate.shared():
            reading.set()
            release_reader.wait(5)
            seen.append(("read", pool.size))

    def writer():
        with gate.pinned():
            pinned.set()
            seen.append(("pinned", pool.size))
            release_pin.wait(5)

    r = _started(reader)
    assert reading.wait(5)
    w = _started(writer)
    assert not pinned.wait(0.2), "the pool was pinned under a call in flight"
    assert gate.size() == 2
    release_reader.set()
    r.join(5)
    assert pinned.wait(5)
    assert gate.size() == 2, "the user's size is reported while pinned"
    late = threading.Event()
    r2 = _started(lambda: (gate.shared().__enter__(), late.set(), gate.__exit__(None, None, None)))
    assert not late.wait(0.2), "a call ran on the pinned pool"
    release_pin.set()
    w.join(5)
    r2.join(5)
    assert late.is_set()
    assert seen == [("read", 2), ("pinned", 1)]
    assert pool.size == 2


def test_nested_calls_and_the_pinning_thread_do_not_deadlock():
    gate, pool = _gate()
    inner, writer_waiting = threading.Event(), threading.Event()

    def writer():
        writer_waiting.set()
        with gate.pinned():
            pass

    with gate.shared():
        w = _started(writer)
        assert writer_waiting.wait(5)
        while not gate._queue:  # the writer is queued behind this call
            pass
        with gate.shared():  # the same thread enters again at once
            inner.set()
    w.join(5)
    assert inner.is_set() and not w.is_alive()
    with gate.pinned():
        with gate.shared():  # the pinning thread's own products (validation)
            assert pool.size == 1
    assert pool.size == 2
    with gate.shared(), pytest.raises(RuntimeError, match="cannot pin"):
        with gate.pinned():
            pass


def test_a_reader_may_leave_its_section_for_a_block_and_pin_inside_it():
    # A fit waiting for another process's compile is inside its compiled
    # call's section but runs no products: it leaves the section to warm
    # the split kernels, whose fit pins the pool, then enters it again.
    gate, pool = _gate()
    with gate.shared():
        with gate.shared():
            with gate.released():
                assert not gate._depths
                with gate.pinned():
                    assert pool.size == 1
            assert gate._depths[threading.get_ident()][0] == 2 and len(gate._depths) == 1
    assert not gate._depths and pool.size == 2
    with gate.released():  # no reader: nothing to leave
        assert not gate._depths
    with gate.pinned(), gate.released():  # the pinning thread keeps its pin
        assert pool.size == 1
    with gate.shared():
        with pytest.raises(ValueError), gate.released():
            raise ValueError("a failed warm-up")
        assert gate._depths[threading.get_ident()][0] == 1 and len(gate._depths) == 1
    assert not gate._depths


def test_a_reader_that_left_waits_for_a_pin_to_end_before_it_comes_back():
    gate, pool = _gate()
    out, go, back, pinned, release_pin = (threading.Event() for _ in range(5))

    sizes = []

    def reader():
        with gate.shared():
            with gate.released():
                out.set()
                go.wait(5)
            back.set()
            sizes.append(pool.size)

    def writer():
        with gate.pinned():
            pinned.set()
            release_pin.wait(5)

    r = _started(reader)
    assert out.wait(5)
    w = _started(writer)
    assert pinned.wait(5), "the pool could not be pinned while the reader was out"
    go.set()
    assert not back.wait(0.2), "the reader came back into a pinned pool"
    release_pin.set()
    assert back.wait(5)
    r.join(5)
    w.join(5)
    assert sizes == [2], "the reader came back into a pinned pool"
    assert not gate._depths and pool.size == 2


def _exit_code_of_a_forked_child(check, timeout=60):
    """Run ``check()`` in a child made by fork and return the child's exit
    code (0: it returned). A child still running after ``timeout`` seconds
    is killed and fails the test, so that a hang cannot hang the run."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            check()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            # Never back into the parent's test run.
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the child made by fork was still running after {timeout} s")
        time.sleep(0.02)


@pytest.mark.parametrize("held", ["pin", "reader", "lock"])
def test_a_child_forked_while_another_thread_holds_the_gate_fits_and_predicts(
        two_cores, split_epochs, digits, held):
    """A child made by fork (multiprocessing's default on Linux) while
    another thread of the parent pins the pool (a split fit's slice), reads
    it (a prediction) or holds the gate's lock: only the forking thread
    lives in the child, so that none of those would ever be released
    there. The child starts with a gate of its own and the pool size the
    user set, and fits (split) and predicts as the parent does."""
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), batch_size=64, max_iter=2, random_state=0)
    # Compiled here: the child only runs the kernels.
    model = _fit(MLPClassifier(**params), X, y)
    assert len(split_epochs) == 1
    expected = model.predict(X)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with (threads._gate._lock if held == "lock" else blas_section(pin=held == "pin")):
            inside.set()
            release.wait(120)

    def child():
        assert threads._pool[0]() == 2, "the child's pool is left pinned to one thread"
        again = _fit(MLPClassifier(**params), X, y)
        assert len(split_epochs) == 2, "the child's fit did not split"
        for a, b in zip(model.coefs_ + model.intercepts_, again.coefs_ + again.intercepts_):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(again.predict(X), expected)
        np.testing.assert_array_equal(model.predict(X), expected)
        assert threads._pool[0]() == 2 and blas_pool_size() == 2

    thread = _started(hold)
    try:
        assert inside.wait(5)
        assert threads._pool[0]() == (1 if held == "pin" else 2)
        assert _exit_code_of_a_forked_child(child) == 0
    finally:
        release.set()
        thread.join(5)
    assert blas_pool_size() == 2 and not threads._gate._depths


def test_a_fit_inside_another_in_one_thread_is_not_counted():
    from fastbp.training import threads

    before = threads.active_fits()
    with threads.fit_slot():
        with threads.fit_slot():
            assert threads.active_fits() == before + 1
        assert threads.active_fits() == before + 1
    assert threads.active_fits() == before


def test_warmup_compiles_the_split_kernels(two_cores, split_epochs, digits):
    import fastbp
    from fastbp.warmup import _cache_counts, warmup

    X, y = digits
    est = MLPClassifier((32,), max_iter=2, random_state=0)
    with split.forced_split(2):
        assert split.split_parts(CPU, False, False, 200, 64, 10) == 2
        assert split.split_parts(CPU, True, False, 200, 64, 10) == 1  # toolkit: never
    warmup(est, dtypes=["float32"])
    before = _cache_counts()
    n_signatures = sum(len(d.signatures) for d in fastbp._cache.dispatchers._dispatchers)
    split_epochs.clear()
    quiet(est.fit, X.astype(np.float32), y)
    assert split_epochs, "the fit did not split"
    assert _cache_counts() == before, "the warm-up left a split kernel to compile"
    assert (sum(len(d.signatures) for d in fastbp._cache.dispatchers._dispatchers)
            == n_signatures)


def test_a_size_set_during_a_pin_is_not_overwritten_at_its_end():
    # helper-61: threadpool_limits(1) entered in another thread before a
    # pin (saving 2) and left during it (restoring 2) was undone when the
    # pin ended and put back the 1 it had read: the pool stayed at one
    # thread for the rest of the process.
    gate, pool = _gate(2)
    pool.size = 1  # the other thread's limits, entered first
    with gate.pinned():
        assert pool.size == 1
        pool.size = 2  # ... and left during the pin
    assert pool.size == 2
    with gate.pinned():
        assert pool.size == 1
    assert pool.size == 2  # an undisturbed pin restores what it found


# -- Ctrl-C, starvation and the interpreter's exit (helper-87) -----------------

def _gate_is_clear(gate, size=2):
    """Whether a reader and a writer in another thread get through, after
    which the pool has ``size`` threads."""
    def other():
        with gate.shared():
            pass
        with gate.pinned():
            pass

    thread = _started(other)
    thread.join(10)
    return not thread.is_alive() and threads._pool[0]() == size


def _interrupted_at(event, scenario):
    """Run ``scenario()`` with KeyboardInterrupt raised at the ``event``-th
    point of the gate's code where CPython runs a signal's handler (its
    eval breaker: a function's start, right after a call, a loop's jump
    back); returns whether it was raised (False: there are fewer points).
    Line events would also stop where no signal can (inside a ``with``
    statement's exit, before the lock's ``__exit__`` is called)."""
    seen = [0]
    raised = [False]
    last = {}

    def local(frame, kind, arg):
        if kind == "opcode":
            before = last.get(frame)
            last[frame] = dis.opname[frame.f_code.co_code[frame.f_lasti]]
            if before in (None, "CALL", "CALL_FUNCTION_EX", "JUMP_BACKWARD"):
                seen[0] += 1
                if seen[0] == event:
                    raised[0] = True
                    raise KeyboardInterrupt
        return local

    def tracer(frame, kind, arg):
        if frame.f_code.co_filename != threads.__file__:
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    sys.settrace(tracer)
    try:
        scenario()
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    return raised[0]


def test_ctrl_c_anywhere_in_the_gate_leaves_it_usable(two_cores, split_epochs, digits):
    # helper-87: a Ctrl-C between a change of the gate's state and the try
    # that undoes it (a reader counted before its depth was set, a pin or a
    # waiting writer before their try) left the BLAS gate held for good:
    # 3 of 200 single Ctrl-Cs during a loop of predictions, after which a
    # split fit waited forever. Here Ctrl-C is raised at every line of the
    # gate in turn, in the calls a fit and a prediction make (where an
    # exit is interrupted at its very call, which no context manager can
    # guard, the next caller finds its section over).
    gate = threads._gate
    X, y = digits

    def nested():
        with gate.shared(), gate.shared():
            pass

    def pinned_with_validation():
        with gate.pinned(), gate.shared():
            pass

    def released():
        with gate.shared(), gate.released():
            pass

    def queued():
        # A reader and a writer that wait their turns behind another
        # thread's pin.
        holding, release = threading.Event(), threading.Event()

        def pin():
            with gate.pinned():
                holding.set()
                release.wait(10)

        thread = _started(pin)
        holding.wait(10)
        waiter = _started(lambda: (time.sleep(0.05), release.set()))
        try:
            with gate.shared():
                pass
            with gate.pinned():
                pass
        finally:
            release.set()
            waiter.join(10)
            thread.join(10)

    for scenario in (nested, pinned_with_validation, released, queued):
        event = 1
        while _interrupted_at(event, scenario):
            assert _gate_is_clear(gate), (
                f"Ctrl-C at point {event} of {scenario.__name__} left the gate held")
            event += 1
        assert event > 5, f"{scenario.__name__} ran no lines of the gate"
    results = {}
    fit = _started(lambda: results.update(model=_fit(MLPClassifier((16,), max_iter=2,
                                                                   batch_size=64), X, y)))
    fit.join(120)
    assert not fit.is_alive(), "a split fit after the interrupts is still waiting"
    assert "model" in results and split_epochs


def test_a_prediction_queued_behind_a_pin_goes_before_the_same_fits_next_pin():
    # helper-87: a split fit that released its pin pinned again at once
    # (holding the GIL), so that predictions queued behind its slice found
    # the pool pinned again and waited for the whole fit (11.5 s beside
    # two split fits, where the README promises the wait of a slice).
    gate, pool = _gate()
    order = []
    first, go = threading.Event(), threading.Event()

    def fit():
        for i in range(20):
            with gate.pinned():
                order.append(f"pin {i}")
                if i == 0:
                    first.set()
                    go.wait(10)

    def predict():
        with gate.shared():
            order.append("read")

    writer = _started(fit)
    assert first.wait(10)
    reader = _started(predict)
    while not gate._queue:  # the prediction queues behind the slice
        time.sleep(0.001)
    go.set()
    writer.join(10)
    reader.join(10)
    assert order.index("read") == 1, f"the prediction waited for pins {order}"
    assert pool.size == 2 and not gate._depths and not gate._queue


def test_a_split_fit_in_a_thread_outlives_the_main_script(tmp_path):
    # helper-87: CPython shuts every concurrent.futures executor down when
    # the main script ends, before it joins the threads still running; a
    # split fit in one of them then failed with "cannot schedule new
    # futures after shutdown" (and so did one in an atexit handler).
    script = tmp_path / "background.py"
    script.write_text(textwrap.dedent("""
        import atexit, threading, time, warnings
        import numpy as np
        from threadpoolctl import threadpool_limits
        from sklearn.datasets import load_digits
        from fastbp import MLPClassifier
        from fastbp.training import split
        warnings.simplefilter("ignore")
        X, y = load_digits(return_X_y=True)
        X = X[:600] / 16.0
        y = y[:600]
        made, started = [], threading.Event()

        class Recorded(split.SplitEpoch):
            def __init__(self, *args):
                super().__init__(*args)
                made.append(self)
                started.set()

        import fastbp.training.stochastic as stochastic
        stochastic.SplitEpoch = Recorded

        def fit(name):
            with threadpool_limits(2, user_api="blas"), split.forced_split(2):
                model = MLPClassifier((16,), max_iter=40, batch_size=64, tol=0,
                                      n_iter_no_change=1000, random_state=0)
                model.fit(X, y)
            print(name, "fitted", model.n_iter_, len(made), flush=True)

        atexit.register(fit, "atexit")
        threading.Thread(target=fit, args=("thread",)).start()
        started.wait(60)
        print("main ends", flush=True)
    """))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=root,
                          env=dict(os.environ, PYTHONPATH=root + os.pathsep
                                   + os.environ.get("PYTHONPATH", "")))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert "main ends" in lines, proc.stdout
    assert any(line.startswith("thread fitted 40") for line in lines), proc.stdout + proc.stderr
    assert any(line.startswith("atexit fitted 40") for line in lines), proc.stdout + proc.stderr
    assert lines.index("main ends") < [i for i, line in enumerate(lines)
                                       if line.startswith("thread fitted")][0], proc.stdout


@pytest.mark.parametrize("value, parts", [("off", 1), ("0", 1), ("False", 1), (" no ", 1),
                                          ("auto", 2), ("", 2)])
def test_fastbp_split_reads_the_usual_spellings_of_off(monkeypatch, value, parts):
    # helper-87: only "off" turned the split off; 0, false and no were
    # ignored without a word.
    monkeypatch.setattr(split, "blas_pool_size", lambda: 2)
    monkeypatch.setattr(split, "cpu_count", lambda: 2)
    monkeypatch.setenv("FASTBP_SPLIT", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert split.split_parts(CPU, False, False, 32, 60000, 235_000) == parts


def test_an_unknown_fastbp_split_value_is_named_once(monkeypatch):
    monkeypatch.setattr(split, "blas_pool_size", lambda: 2)
    monkeypatch.setattr(split, "cpu_count", lambda: 2)
    monkeypatch.setattr(split, "_warned_mode", False)
    monkeypatch.setenv("FASTBP_SPLIT", "never")
    with pytest.warns(RuntimeWarning, match="FASTBP_SPLIT='never' is not one of auto, "
                                            "0/off/false/no: taken as auto"):
        assert split.split_parts(CPU, False, False, 32, 60000, 235_000) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert split.split_parts(CPU, False, False, 32, 60000, 235_000) == 2


# -- interrupts around a slice, failing parts, fork (helper-96) ----------------

def _raising_at(code, kind):
    """A trace function that raises KeyboardInterrupt once, at the first
    ``kind`` event ('call' or 'return') of ``code``; its ``fired`` list
    says whether it did."""
    fired = []

    def local(frame, event, arg):
        if event == kind and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        if frame.f_code is not code or fired:
            return None
        return local(frame, event, arg)

    tracer.fired = fired
    return tracer


def test_a_pin_whose_exit_ctrl_c_interrupts_at_its_call_ends_with_the_fit(two_cores, digits):
    # helper-96: Ctrl-C on the first line of _Pinned.__exit__ (where CPython
    # runs signal handlers, before any try) left the pool pinned to one
    # thread, and the pin's frame (SplitEpoch.run's, holding the fit's
    # arrays) alive, until the thread's next fastbp call or another
    # thread's wait: the user's own NumPy products ran on one thread
    # meanwhile. The fit's cleanup now forgets the stale pin.
    import gc
    import weakref

    X = digits[0].astype(np.float32)  # taken as it is: the fit's records hold it
    ref = weakref.ref(X)
    tracer = _raising_at(threads._Pinned.__exit__.__code__, "call")
    sys.settrace(tracer)
    try:
        _fit(MLPClassifier((16,), max_iter=2, batch_size=64, random_state=0), X, digits[1])
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    assert tracer.fired  # (a split fit's pin: no recorded runner, which would keep X)
    del X
    gc.collect()
    gate = threads._gate
    assert gate._pin is None and threads._pool[0]() == 2, "the pool is still pinned"
    assert not gate._depths
    assert ref() is None, "the interrupted pin still holds the fit's arrays"


def _late_part_1_under_ctrl_c(monkeypatch, digits, tracer, interrupt_part_0=False):
    """Fit a split model in a thread under the trace function ``tracer``
    (:func:`_raising_at`), with part 1 late by 0.2 s (as a busy core makes
    it) and, where ``interrupt_part_0``, a KeyboardInterrupt as part 0
    starts; check that the fit ends in the interrupt, and return the order
    of part 1's start and end and the pin's release."""
    log = []
    part = split.SplitEpoch._part

    def logged(self, p, *args):
        if p == 0:
            if interrupt_part_0:
                raise KeyboardInterrupt
            return part(self, p, *args)
        log.append("part 1 starts")
        time.sleep(0.2)
        try:
            return part(self, p, *args)
        finally:
            log.append("part 1 ends")

    pinned_exit = threads._Pinned.__exit__

    def exit_logged(self, *exc):
        try:
            return pinned_exit(self, *exc)
        finally:
            log.append("pin released")

    monkeypatch.setattr(split.SplitEpoch, "_part", logged)
    monkeypatch.setattr(threads._Pinned, "__exit__", exit_logged)
    results = {}

    def fit():
        sys.settrace(tracer)
        try:
            _fit(MLPClassifier((16,), max_iter=2, batch_size=64, random_state=0), *digits)
        except BaseException as exc:
            results["error"] = exc
        finally:
            sys.settrace(None)

    thread = _started(fit)
    thread.join(120)
    assert not thread.is_alive(), "the interrupted split fit is still running"
    assert tracer.fired and isinstance(results.get("error"), KeyboardInterrupt), results
    return log


def test_a_part_handed_just_before_ctrl_c_ends_before_the_pin(
        two_cores, split_epochs, digits, monkeypatch):
    # helper-96: Ctrl-C right after _Worker.hand queued its part (its put
    # had run; the list of handed parts was not yet updated) left that part
    # unawaited: it ran on after the pin was released, and while the fit
    # restored the buffers it writes.
    tracer = _raising_at(split._Worker.hand.__code__, "return")
    log = _late_part_1_under_ctrl_c(monkeypatch, digits, tracer)
    for epoch in split_epochs:  # every part ended (the workers are closed)
        assert all(not worker._thread.is_alive() for worker in epoch.workers)
    assert "part 1 starts" in log and log.index("part 1 ends") < log.index("pin released"), (
        f"the handed part ran on after the pin ended: {log}")
    assert _gate_is_clear(threads._gate)


def test_ctrl_c_in_a_worker_threads_start_is_an_interrupt(
        two_cores, split_epochs, digits, monkeypatch):
    # fix-325: Ctrl-C that lands in threading's Condition.wait inside
    # Thread.start (the wait for the new thread to run), in its
    # _acquire_restore, leaves the condition's lock unheld; the wait's
    # ``with`` then fails with RuntimeError("release unlocked lock"), which
    # replaced the KeyboardInterrupt: the split fit's first slice raised a
    # RuntimeError, and the command line's exit status was 1, not 130. (The
    # thread did start.) Here the start fails as CPython's does then.
    real_start = threading.Thread.start

    def start(self):
        real_start(self)
        if self.name.startswith("fastbp-split-"):
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise RuntimeError("release unlocked lock")

    monkeypatch.setattr(threading.Thread, "start", start)
    model = MLPClassifier((16,), max_iter=2, batch_size=64, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, *digits)
    assert not hasattr(model, "coefs_")  # the call was rolled back
    for epoch in split_epochs:  # the started worker was ended
        assert epoch.workers and all(not w._thread.is_alive() for w in epoch.workers)
    assert _gate_is_clear(threads._gate)


def test_a_part_failing_before_its_own_handler_releases_the_other_parts(
        two_cores, split_epochs, digits, monkeypatch):
    # helper-96: only SplitEpoch._part's own except raised the abort flag;
    # a handed part failing before that try (in the worker's call) left
    # part 0 waiting at the step's first barrier for good.
    part = split.SplitEpoch._part

    def failing(self, p, *args):
        if p == 1:
            raise ValueError("part 1 failed")
        return part(self, p, *args)

    monkeypatch.setattr(split.SplitEpoch, "_part", failing)
    results = {}

    def fit():
        try:
            _fit(MLPClassifier((16,), max_iter=2, batch_size=64, random_state=0), *digits)
        except BaseException as exc:
            results["error"] = exc

    thread = _started(fit)
    thread.join(120)
    if thread.is_alive():
        # Release part 0 (as the fix does), so that the run goes on.
        split_epochs[0].sync[split.ABORT] = 1
        thread.join(30)
        pytest.fail("part 0 still waited for the failed part at a barrier")
    assert isinstance(results.get("error"), ValueError), results
    assert _gate_is_clear(threads._gate)


def test_a_child_forked_by_an_epoch_callback_continues_the_split_fit(two_cores, digits):
    # helper-96: the child of a fork made between two slices (an epoch
    # callback) inherited the runner's worker threads as objects only, and
    # waited for good for the first part it handed one.
    forked = []

    def callback(n, *args):
        if n == 1 and not forked:
            forked.append(os.fork())

    model = MLPClassifier((16,), max_iter=3, batch_size=64, tol=0, random_state=0)
    model._on_epoch_end = callback
    code = 1
    try:
        _fit(model, *digits)
        code = 0 if model.n_iter_ == 3 else 2
    finally:
        if forked == [0]:
            # Never back into the parent's test run.
            os._exit(code)
    assert forked and forked[0] > 0
    pid, deadline = forked[0], time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child's split fit was still running after 60 s")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0 and model.n_iter_ == 3


def test_a_reader_whose_exit_ctrl_c_interrupts_at_its_call_ends_with_the_fit(digits):
    # helper-96: as a pin above, a whole (unsplit) fit's reader section
    # whose exit was interrupted at its call stayed counted, holding the
    # fit's arrays and making the next pin wait for a waiter's poll, until
    # the thread's next fastbp call.
    tracer = _raising_at(threads._PoolGate.__exit__.__code__, "call")
    with threadpool_limits(1, user_api="blas"):
        sys.settrace(tracer)
        try:
            _fit(MLPClassifier((16,), max_iter=2, batch_size=64, random_state=0), *digits)
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)
        assert tracer.fired
        assert not threads._gate._depths, "the interrupted reader is still counted"


def test_an_uncontended_reader_takes_no_turn_and_wakes_no_one(monkeypatch):
    # helper-96: every reader went through _admit's turn taking and woke
    # the (empty) queue at its exit: the uncontended section cost 1.2 us
    # against 0.8 us before the gate's rewrite, a one-row prediction 4-5 %
    # more. Those steps are for callers that wait or are waited for.
    gate, pool = _gate()
    calls = []
    monkeypatch.setattr(gate, "_admit", lambda *args: calls.append("admit"))
    monkeypatch.setattr(gate, "_wake_all", lambda: calls.append("wake"))
    with gate.shared():
        assert threading.get_ident() in gate._depths
        with gate.shared():
            pass
    assert calls == [] and not gate._depths and pool.size == 2


def test_a_second_ctrl_c_just_after_a_parts_wait_returned_does_not_hang():
    # helper-99: the worker's done signal was a lock the waiter acquired;
    # Ctrl-C landing just after the acquire returned (a signal handler runs
    # right after a C call returns, inside the loop's try) made result()
    # acquire it again, and wait for good.
    worker = split._Worker("fastbp-split-test", np.zeros(8, dtype=np.int64))

    class InterruptedOnceAfterReturning:
        """The worker's done signal, whose first wait is interrupted just
        after it returned."""

        def __init__(self, real):
            self.real, self.fired = real, False

        def __getattr__(self, name):
            return getattr(self.real, name)

        def _after(self, result):
            if not self.fired:
                self.fired = True
                raise KeyboardInterrupt
            return result

        def wait(self, *args, **kwargs):  # an Event's
            return self._after(self.real.wait(*args, **kwargs))

        def acquire(self, *args, **kwargs):  # a Lock's
            return self._after(self.real.acquire(*args, **kwargs))

    worker._done = InterruptedOnceAfterReturning(worker._done)
    worker.start()
    outcome = []

    def wait():
        try:
            outcome.append(worker.result())
        except KeyboardInterrupt:
            outcome.append("interrupted")

    try:
        # A part that takes a while, so that the wait blocks and returns.
        worker.hand(lambda: (time.sleep(0.3), 42)[1])
        t = threading.Thread(target=wait, daemon=True)
        t.start()
        t.join(20)
        assert not t.is_alive(), "result() waited for good after an interrupted wait"
        assert worker._done.fired and outcome == ["interrupted"] and not worker.pending
        # The next part's result is its own.
        worker.hand(lambda: 7)
        assert worker.result() == 7
    finally:
        worker.close()


def test_a_second_ctrl_c_at_a_results_call_still_waits_for_the_part(
        two_cores, split_epochs, digits, monkeypatch):
    # helper-100: a first Ctrl-C as part 0 starts, and a second at the very
    # call of _Worker.result (before its own retry loop), let the pin end
    # while part 1 still ran: result() never waited.
    tracer = _raising_at(split._Worker.result.__code__, "call")
    # The first Ctrl-C as part 0 starts, before its try.
    log = _late_part_1_under_ctrl_c(monkeypatch, digits, tracer, interrupt_part_0=True)
    assert "part 1 starts" in log and log.index("part 1 ends") < log.index("pin released"), (
        f"the part ran on after the pin ended: {log}")
    assert _gate_is_clear(threads._gate)
