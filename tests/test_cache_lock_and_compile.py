"""Review 222 of the kernel cache and compilation: a stalled lock holder is
named after a few seconds and the wait is settable, ``fastbp compile``
fails where NUMBA_CACHE_DIR went unused, an index entry without its data
file is not taken as cached, a relative NUMBA_CACHE_DIR is made absolute at
import, and ``fastbp compile --estimator`` warms the regressor.

The cold compiles run in fresh interpreters with an empty
``NUMBA_CACHE_DIR`` of their own, one configuration (L-BFGS, float64).
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest
from filelock import FileLock

from fastbp import cli
from fastbp._cache import directory, locks, warning

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(cache_dir, **extra):
    return dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
                PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
                **extra)


def _python(code, env, cwd=ROOT):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- 1: a wait for a stalled holder is said, and its length settable ----------

@pytest.fixture
def fresh_lock_state(monkeypatch):
    monkeypatch.setattr(locks, "_warned_lock", False)
    monkeypatch.setattr(locks, "_hurry_until", 0.0)
    monkeypatch.setattr(locks, "_noticed_locks", set())


def _held_by(path, pid):
    """A lock on ``path`` held by another lock object (flock conflicts
    between two open files, in one process too), naming ``pid``."""
    holder = FileLock(str(path), thread_local=False)
    holder.acquire()
    _holder_file(path).write_text(str(pid))
    return holder


def _holder_file(path):
    # Beside the lock file: filelock 3.x truncates the lock file itself at
    # every try to take it (rev-233).
    return path.parent / (path.name + ".pid")


def test_a_long_wait_names_the_holder_then_gives_up(tmp_path, monkeypatch, fresh_lock_state):
    monkeypatch.setattr(locks, "LOCK_NOTICE_AFTER", 0.2)
    monkeypatch.setattr(locks, "LOCK_TIMEOUT", 0.6)
    path = tmp_path / "kernel.lock"
    holder = _held_by(path, 424242)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            held = locks._acquire(FileLock(str(path), thread_local=False), "compiling 'k'")
    finally:
        holder.release()
    assert held is False
    messages = [str(w.message) for w in seen if issubclass(w.category, warning.CacheWarning)]
    # First the notice (before review 222 there was none: 600 s of silence),
    # then the warning of giving up.
    assert len(messages) == 2, messages
    notice = messages[0]
    assert "424242" in notice and str(path) in notice and "FASTBP_LOCK_TIMEOUT" in notice
    assert "0.4 s more" in notice
    assert "gave up" in messages[1]


def test_a_wait_that_ends_takes_the_lock_and_names_this_process(tmp_path, monkeypatch,
                                                                fresh_lock_state):
    monkeypatch.setattr(locks, "LOCK_NOTICE_AFTER", 0.1)
    monkeypatch.setattr(locks, "LOCK_TIMEOUT", 30.0)
    path = tmp_path / "kernel.lock"
    holder = _held_by(path, 515151)
    timer = threading.Timer(0.4, holder.release)
    timer.start()
    lock = FileLock(str(path), thread_local=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with locks._holding(lock, "compiling 'k'"):
            # The holder's ID, for the processes that wait in turn.
            assert _holder_file(path).read_text() == str(os.getpid())
    timer.join()
    notices = [str(w.message) for w in seen if issubclass(w.category, warning.CacheWarning)]
    assert len(notices) == 1 and "515151" in notices[0], notices


@pytest.mark.parametrize("value, expected, warns", [
    (None, 600.0, False), ("", 600.0, False), ("45", 45.0, False), ("2.5", 2.5, False),
    ("0", 0.0, False), ("ten", 600.0, True), ("-3", 600.0, True), ("nan", 600.0, True),
    ("inf", float("inf"), False)])
def test_the_lock_timeout_comes_from_the_environment(monkeypatch, value, expected, warns):
    if value is None:
        monkeypatch.delenv("FASTBP_LOCK_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("FASTBP_LOCK_TIMEOUT", value)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert locks._lock_timeout_from_env() == expected
    said = [str(w.message) for w in seen if issubclass(w.category, warning.CacheWarning)]
    assert bool(said) == warns, said
    if warns:
        assert "FASTBP_LOCK_TIMEOUT" in said[0] and repr(value) in said[0]


def test_fastbp_lock_timeout_sets_the_wait_at_import():
    out = _python("""
        import json
        from fastbp._cache import locks
        print(json.dumps(locks.LOCK_TIMEOUT))
    """, dict(_env(os.environ.get("NUMBA_CACHE_DIR", "")), FASTBP_LOCK_TIMEOUT="45"))
    assert out == 45.0


# --- 2: fastbp compile fails where NUMBA_CACHE_DIR is not used ------------------

def test_compile_fails_where_numba_cache_dir_is_a_file(tmp_path):
    afile = tmp_path / "x-afile"
    afile.write_text("not a directory")
    proc = subprocess.run([sys.executable, "-m", "fastbp", "compile", "--dtype", "float64",
                           "--solver", "lbfgs"], cwd=ROOT, env=_env(afile),
                          capture_output=True, text=True, timeout=600)
    # Before review 222: it compiled 31 kernels into the package's
    # __pycache__ and exited 0.
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("fastbp: error: NUMBA_CACHE_DIR=" + str(afile)), error
    assert "instead" in error and os.sep in error.split("instead")[0].split("in ")[-1]
    assert "kernels compiled" not in proc.stdout  # failed before compiling


# --- 6: --estimator -----------------------------------------------------------------

class _Report:
    unsaved = compiled = 0

    def __str__(self):
        return "a report"


@pytest.mark.parametrize("argv, expected", [
    ([], ["MLPClassifier"]),
    (["--estimator", "regressor"], ["MLPRegressor"]),
    (["--estimator", "regressor", "--estimator", "classifier", "--estimator", "regressor"],
     ["MLPRegressor", "MLPClassifier"]),
])
def test_compile_warms_the_estimators_named(monkeypatch, capsys, argv, expected):
    import fastbp

    warmed = []

    def fake_warmup(*estimators, **kwargs):
        warmed.extend(estimators)
        return _Report()

    monkeypatch.setattr(fastbp, "warmup", fake_warmup)
    monkeypatch.setattr(directory, "_misplaced", None)
    assert cli.main(["compile", "--solver", "lbfgs", *argv]) == 0
    assert [type(e).__name__ for e in warmed] == expected
    assert all(e.solver == "lbfgs" for e in warmed)
    # The report says where the kernels were saved.
    assert "kernels cached in: " in capsys.readouterr().out


def test_compile_all_refuses_estimator(capsys):
    assert cli.main(["compile", "--all", "--estimator", "regressor"]) == 2
    assert "--estimator" in capsys.readouterr().err


def test_compile_help_names_the_estimators(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compile", "--help"])
    out = capsys.readouterr().out
    assert "--estimator" in out and "MLPRegressor" in out


# --- 5: a relative NUMBA_CACHE_DIR ---------------------------------------------------

def test_a_relative_cache_dir_is_made_absolute_at_import(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    out = _python(f"""
        import json, os
        import fastbp
        from numba.core import config
        os.chdir({str(b)!r})
        print(json.dumps({{"config": config.CACHE_DIR, "env": os.environ["NUMBA_CACHE_DIR"],
                          "dirs": fastbp.compile_cache_info()["directories"]}}))
    """, _env("relcache"), cwd=str(a))
    wanted = str(a / "relcache")
    assert out["config"] == wanted and out["env"] == wanted, out
    assert out["dirs"] and all(d.startswith(wanted + os.sep) for d in out["dirs"]), out
    assert not (b / "relcache").exists()


# --- 3: an entry without its data ---------------------------------------------------

_WARM = """
    import json
    import fastbp
    report = fastbp.warmup(fastbp.MLPClassifier(solver="lbfgs"), dtypes=["float64"])
    print(json.dumps([report.compiled, report.loaded]))
"""

_STATE = """
    import json
    import numpy as np
    from fastbp._cache import dispatchers
    from fastbp.kernels import lean
    from fastbp.kernels.codes import OUTPUT_FUNCTIONS
    kernel = lean.for_output(OUTPUT_FUNCTIONS["softmax"]).loss_and_gradient
    print(json.dumps(dispatchers.will_compile(kernel, np.float64)))
"""


@pytest.fixture(scope="module")
def cold_warmup(tmp_path_factory):
    """A cache filled by one cold warm-up with its compile-ahead helper on,
    and that warm-up's (compiled, loaded)."""
    cache_dir = tmp_path_factory.mktemp("cold") / "cache"
    return cache_dir, _python(_WARM, _env(cache_dir, FASTBP_COMPILE_AHEAD="1"))


def test_an_index_entry_without_its_data_file_is_cold(cold_warmup, tmp_path):
    import shutil

    cache_dir = tmp_path / "cache"
    shutil.copytree(cold_warmup[0], cache_dir)
    assert _python(_STATE, _env(cache_dir)) is False
    # The index stays; the data files go.
    removed = 0
    for root, _, names in os.walk(cache_dir):
        for name in names:
            if name.endswith(".nbc"):
                os.remove(os.path.join(root, name))
                removed += 1
    assert removed
    # Before review 222: False ("warm"), and a fit announced nothing but
    # compiled everything, outside the compile locks.
    assert _python(_STATE, _env(cache_dir)) is True
    info = subprocess.run([sys.executable, "-m", "fastbp", "info"], cwd=ROOT, env=_env(cache_dir),
                          capture_output=True, text=True, timeout=600)
    warm = [line for line in info.stdout.splitlines() if line.startswith("warm for:")]
    assert warm and "nothing yet" in warm[0], info.stdout
