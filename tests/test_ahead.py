"""The helper process that compiles a cold fit's prediction kernel while the
fit compiles its training kernel (``fastbp.training.ahead``).

Cold compiles run in fresh interpreters with a temporary
``NUMBA_CACHE_DIR``, as in ``tests/test_warmup.py``.
"""

import json
import os
import pickle
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from fastbp._cache import compile_locks, dispatchers
from fastbp.training import ahead
from fastbp.training.backend import CPUBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_COLD_FIT = """
import json, warnings
import numpy as np
import fastbp
from fastbp.training import ahead
from fastbp.warmup import _cache_counts
rng = np.random.RandomState(0)
X = rng.standard_normal((64, 8)).astype({dtype!r})
y = np.arange(64) % 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # two iterations do not converge
    model = fastbp.MLPClassifier((8,), max_iter=2, random_state=0, **{params!r}).fit(X, y)
helpers = list(ahead._helpers)
codes = [helper.wait(timeout=300) for helper in helpers]
loaded, compiled = _cache_counts()
proba = model.predict_proba(X)
new_loaded, new_compiled = _cache_counts()
print(json.dumps({{"helpers": len(helpers), "codes": codes,
                   "predict_compiled": new_compiled - compiled,
                   "predict_loaded": new_loaded - loaded, "proba": proba.tolist()}}))
"""


def cold_fit(cache_dir, mode, dtype="float32", **params):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), FASTBP_COMPILE_AHEAD=mode)
    proc = subprocess.run([sys.executable, "-c", _COLD_FIT.format(dtype=dtype, params=params)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("params", [{}, {"normalization": "batch", "dropout": 0.1}],
                         ids=["default", "toolkit"])
def test_a_cold_fit_has_its_prediction_kernel_compiled_by_a_helper(tmp_path, params):
    ahead_on = cold_fit(tmp_path / "on", "1", **params)
    assert ahead_on["helpers"] == 1 and ahead_on["codes"] == [0]
    # The model's first prediction loads what the helper saved.
    assert ahead_on["predict_compiled"] == 0, "the helper did not compile the prediction kernel"
    assert ahead_on["predict_loaded"] > 0
    # Without the helper, the same prediction compiles its kernel, and gives
    # the same bits.
    ahead_off = cold_fit(tmp_path / "off", "0", **params)
    assert ahead_off["helpers"] == 0 and ahead_off["predict_compiled"] > 0
    assert ahead_on["proba"] == ahead_off["proba"]


def _spec(dropout=0.0):
    # Nothing below compiles: compile_ahead's checks are replaced (starts).
    from fastbp.kernels.codes import HIDDEN_ACTIVATIONS, NORM_NONE, OUT_IDENTITY
    from fastbp.training.spec import build_spec

    return build_spec([3, 4, 1], [HIDDEN_ACTIVATIONS["relu"]], NORM_NONE, [False], [dropout],
                      OUT_IDENTITY)


@pytest.fixture
def starts(monkeypatch, tmp_path):
    """The helpers ``compile_ahead`` would start, recorded instead, with the
    kernels looking uncompiled, a clean record of what was asked, and the
    claims in ``tmp_path``."""
    started = []
    monkeypatch.setattr(ahead, "_start", lambda spec, dtype, *rest: started.append((spec, dtype)))
    monkeypatch.setattr(ahead, "_asked", set())
    monkeypatch.setattr(dispatchers, "will_compile", lambda kernel, dtype: True)
    monkeypatch.setattr(compile_locks, "ahead_claim_path",
                        lambda kernel, dtype: str(tmp_path / f"{id(kernel)}-{dtype}.lock"))
    monkeypatch.setattr(ahead, "idle_core", lambda: True)
    return started


def _train_kernel(spec):
    return CPUBackend().network(spec.uses_toolkit(False), spec.out_code).train_epoch


@pytest.mark.parametrize("mode, idle, expected", [
    ("auto", True, 1), ("auto", False, 0), ("1", False, 1), ("0", True, 0), ("on", False, 1),
    (" Off ", True, 0), ("false", True, 0), ("no", True, 0), ("true", False, 1)])
def test_a_helper_starts_where_the_mode_and_the_load_allow(monkeypatch, starts, mode, idle,
                                                          expected):
    spec = _spec()
    monkeypatch.setenv(ahead.ENV, mode)
    monkeypatch.setattr(ahead, "idle_core", lambda: idle)
    ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec))
    assert len(starts) == expected


def test_an_unknown_mode_is_auto_and_said_once(monkeypatch, starts):
    monkeypatch.setenv(ahead.ENV, "sometimes")
    monkeypatch.setattr(ahead, "_warned_mode", False)
    spec = _spec()
    with pytest.warns(RuntimeWarning, match="FASTBP_COMPILE_AHEAD='sometimes'"):
        ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec))
    assert len(starts) == 1
    with warnings.catch_warnings():
        # compile_ahead swallows exceptions: a second warning, made one
        # here, would show as a helper not started.
        warnings.simplefilter("error")
        ahead.compile_ahead(CPUBackend(), spec, np.float32, _train_kernel(spec))
    assert len(starts) == 2


def test_a_helper_starts_once_per_kernel_and_dtype(monkeypatch, starts):
    spec = _spec()
    monkeypatch.setenv(ahead.ENV, "1")
    for dtype in (np.float64, np.float64, np.float32, np.float32):
        ahead.compile_ahead(CPUBackend(), spec, dtype, _train_kernel(spec))
    assert [np.dtype(d) for _, d in starts] == [np.dtype(np.float64), np.dtype(np.float32)]


def test_no_helper_where_a_kernel_is_compiled_or_cached(monkeypatch, starts):
    spec = _spec()
    monkeypatch.setenv(ahead.ENV, "1")
    kernels = CPUBackend().network(False, spec.out_code)
    compiled = {kernels.train_epoch}
    monkeypatch.setattr(dispatchers, "will_compile", lambda kernel, dtype: kernel not in compiled)
    ahead.compile_ahead(CPUBackend(), spec, np.float64, kernels.train_epoch)
    # The training kernel cold, the prediction kernel compiled: nothing to gain.
    compiled = {kernels.predict}
    ahead.compile_ahead(CPUBackend(), spec, np.float32, kernels.train_epoch)
    assert starts == []
    # Control: both cold, a helper.
    compiled = set()
    monkeypatch.setattr(ahead, "_asked", set())
    ahead.compile_ahead(CPUBackend(), spec, np.float32, kernels.train_epoch)
    assert len(starts) == 1


def test_the_prediction_kernel_asked_about_is_the_one_predict_runs(monkeypatch, starts):
    # Inference applies no dropout: a dropout network's model predicts with
    # the default path's kernel, not the toolkit's that its fit trains with.
    asked = []
    monkeypatch.setattr(dispatchers, "will_compile",
                        lambda kernel, dtype: asked.append(kernel) or True)
    monkeypatch.setenv(ahead.ENV, "1")
    spec = _spec(dropout=0.5)
    ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec))
    backend = CPUBackend()
    assert asked == [backend.network(True, spec.out_code).train_epoch,
                     backend.network(False, spec.out_code).predict]
    assert len(starts) == 1


def test_no_helper_for_sparse_x_a_frozen_app_or_a_claimed_kernel(monkeypatch, starts, tmp_path):
    from filelock import FileLock

    monkeypatch.setenv(ahead.ENV, "1")
    spec = _spec()
    ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec), sparse=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    ahead.compile_ahead(CPUBackend(), spec, np.float32, _train_kernel(spec))
    monkeypatch.delattr(sys, "frozen")
    assert starts == []
    # Another process's helper holds the claim on this kernel and dtype.
    monkeypatch.setattr(ahead, "_asked", set())
    claim = compile_locks.ahead_claim_path(CPUBackend().network(False, spec.out_code).predict,
                                    np.dtype(np.float64))
    with FileLock(claim):
        ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec))
        assert starts == []
    ahead.compile_ahead(CPUBackend(), spec, np.float32, _train_kernel(spec))
    assert len(starts) == 1


def test_compile_ahead_never_raises(monkeypatch, starts):
    calls = []

    def broken(*args):
        calls.append(args)
        raise RuntimeError("no helper today")

    monkeypatch.setattr(ahead, "_start", broken)
    monkeypatch.setenv(ahead.ENV, "1")
    spec = _spec()
    assert ahead.compile_ahead(CPUBackend(), spec, np.float64, _train_kernel(spec)) is None
    assert len(calls) == 1  # it got as far as starting one


@pytest.mark.parametrize("held", [True, False])
def test_a_helper_leaves_at_once_where_another_holds_the_claim(tmp_path, held):
    # The payload is not a pickle: a helper that went on past the claim
    # would fail on it (exit 1); one that finds the claim held exits 0
    # before reading it.
    from filelock import FileLock

    claim = str(tmp_path / "claim.lock")
    lock = FileLock(claim)
    if held:
        lock.acquire()
    try:
        helper = subprocess.Popen([sys.executable, "-c", ahead._BOOTSTRAP], cwd=ROOT,
                                  stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        with helper.stdin:
            pickle.dump((sys.path, claim, b"not a pickle"), helper.stdin)
        assert helper.wait(timeout=120) == (0 if held else 1)
    finally:
        if held:
            lock.release()


def test_idle_core_reads_the_cores_and_the_runnable_tasks(monkeypatch):
    import joblib

    monkeypatch.setattr(joblib, "cpu_count", lambda: 2)
    # The calling thread is one of the runnable tasks.
    monkeypatch.setattr(ahead, "_runnable", lambda: 1)
    assert ahead.idle_core()
    monkeypatch.setattr(ahead, "_runnable", lambda: 2)
    assert not ahead.idle_core()
    # A median: one sample's burst of another process does not count.
    samples = iter([1, 3, 1, 1, 1])
    monkeypatch.setattr(ahead, "_runnable", lambda: next(samples))
    assert ahead.idle_core()
    monkeypatch.setattr(joblib, "cpu_count", lambda: 1)  # one core (a cgroup's quota, say)
    monkeypatch.setattr(ahead, "_runnable", lambda: 1)
    assert not ahead.idle_core()
    # Without /proc/stat: the load average.
    monkeypatch.setattr(joblib, "cpu_count", lambda: 2)
    monkeypatch.setattr(ahead, "_runnable", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.0, 0.0))
    assert ahead.idle_core()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 0.0, 0.0))
    assert not ahead.idle_core()


def test_runnable_counts_the_calling_thread():
    runnable = ahead._runnable()
    assert runnable is None or runnable >= 1
    if sys.platform.startswith("linux"):
        assert runnable is not None


def _alive(pid):
    """Whether process ``pid`` runs (a zombie, which a container's first
    process may never reap, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_helper_still_running_at_exit_is_stopped(tmp_path):
    # A stand-in helper that would run for a minute, kept by a process that
    # then exits at once.
    code = ("import subprocess, sys; from fastbp.training import ahead; "
            "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True); "
            "ahead._keep(helper); print(helper.pid, flush=True)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    pytest.fail("the helper outlived the process that started it")
