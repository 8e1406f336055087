"""Helpers shared by the test modules."""

import gc
import hashlib
import io
import json
import threading
import tracemalloc
import warnings
import zipfile

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from fastbp import MLPClassifier
from fastbp._config import python_twin


def peak(f):
    """``f()``'s result and the tracemalloc peak while it ran, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        out = f()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with warnings silenced (convergence warnings
    of deliberately short fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


class python_kernels:
    """A kernels module as Python can call it: its inner kernels (compiled
    without a CPython wrapper, see ``fastbp._config.InnerKernel``) are
    replaced by twins that have one; everything else passes through."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return python_twin(getattr(self._module, name))


def search_data():
    """Digits for the distributed-search tests (900 rows, scaled)."""
    X, y = load_digits(return_X_y=True)
    return X[:900] / 16, y[:900]


def search_grid():
    """The distributed-search tests' grid: 6 candidates x 3 folds."""
    return GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=40, random_state=0),
        {"alpha": [1e-4, 1e-3, 1e-2], "learning_rate_init": [1e-3, 1e-2]}, cv=3)


def assert_same_results(got, expected):
    """Two fitted searches agree bit for bit: every per-split and mean test
    score, the candidates, and the winner."""
    keys = [k for k in expected.cv_results_ if "test_score" in k and "rank" not in k]
    for key in keys:
        assert got.cv_results_[key].tobytes() == expected.cv_results_[key].tobytes(), key
    assert got.cv_results_["params"] == expected.cv_results_["params"]
    assert got.best_params_ == expected.best_params_
    assert got.best_index_ == expected.best_index_


class Hook:
    """A callback calling ``on_epoch(estimator, fitted_estimator, context)``
    at each epoch's end and ``on_root`` at the fit's; ``calls`` records its
    setups and teardowns, ``("setup", thread ident)``."""

    def __init__(self, on_epoch=None, on_root=None):
        self.on_epoch, self.on_root = on_epoch, on_root
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", threading.get_ident()))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", threading.get_ident()))

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name in ("epoch", "lbfgs-iter") and self.on_epoch is not None:
            self.on_epoch(estimator, fitted_estimator, context)
        if context.task_name == "fit" and self.on_root is not None:
            self.on_root(estimator, fitted_estimator, context)
        return False


def edited_archive(saved, path, edit_schema=None, edit_members=None, edit_meta=None):
    """The fastbp file ``saved`` written to ``path`` with its skops archive
    edited as a reviewer would: ``edit_schema(schema)`` changes the JSON
    schema in place, ``edit_members(members)`` the {name: bytes} of the
    archive's other members, ``edit_meta(meta)`` the fastbp.json record;
    the checksum in fastbp.json is recomputed, so that only the content is
    unusual."""
    with zipfile.ZipFile(saved) as outer:
        meta = json.loads(outer.read("fastbp.json"))
        payload = outer.read("model.skops")
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        members = {name: inner.read(name) for name in inner.namelist()}
    schema = json.loads(members.pop("schema.json"))
    if edit_schema is not None:
        edit_schema(schema)
    if edit_members is not None:
        edit_members(members)
    if edit_meta is not None:
        edit_meta(meta)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as inner:
        inner.writestr("schema.json", json.dumps(schema))
        for name, content in members.items():
            inner.writestr(name, content)
    payload = buf.getvalue()
    meta["sha256"] = hashlib.sha256(payload).hexdigest()
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr("fastbp.json", json.dumps(meta))
        outer.writestr("model.skops", payload)
    return path


def fresh_python(code, cache_dir, timeout=800):
    """The JSON object that ``code`` prints last, run as a fresh Python
    process from the repository, on the compile cache ``cache_dir`` (an
    empty one: nothing another test loaded stands in for what it needs).
    A failing run fails the test with its output."""
    import os
    import subprocess
    import sys
    import textwrap

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit_in_thread(model, X, y, paused):
    """Start ``model.fit(X, y)``, warnings silenced, in a new thread, which
    the test pauses in a hook of its own and signals with the event
    ``paused``; an exception the fit raises is recorded and sets
    ``paused`` too, so that the test's wait returns. Returns ``(thread,
    errors)``."""
    errors = []

    def run():
        try:
            quiet(model.fit, X, y)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
            paused.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


#: Warms the search that the code before it builds (``search``), then fits
#: it on 60 rows of 3 classes and prints the warm-up's entries and compile
#: count, and the cache hits and misses of the search's own fits (and of
#: ``predict_proba`` where ``PROBA``).
_WARM_THEN_SEARCH = """
import json, warnings
import numpy as np
import fastbp
from fastbp.warmup import _cache_counts

report = fastbp.warmup(search, dtypes="float64")
before = _cache_counts()
rng = np.random.RandomState(0)
X = rng.standard_normal((60, 4))
y = np.arange(60) % 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    search.fit(X, y)
if PROBA:
    search.predict_proba(X)
after = _cache_counts()
print(json.dumps({"entries": [e.estimator for e in report.entries],
                  "compiled": report.compiled,
                  "search": [a - b for a, b in zip(after, before)]}))
"""


def search_after_warmup(build, cache_dir, proba=False):
    """In a fresh process on the compile cache ``cache_dir`` (see
    :func:`fresh_python`): the code ``build`` makes ``search``, which is
    warmed up in float64 then fitted. Returns ``{"entries": the warm-up's
    configurations, "compiled": its compile count, "search": [cache hits,
    misses] of the search's fit}``."""
    import textwrap

    return fresh_python(textwrap.dedent(build) + f"PROBA = {bool(proba)}\n" + _WARM_THEN_SEARCH,
                        cache_dir)
