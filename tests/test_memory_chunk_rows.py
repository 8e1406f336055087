"""Chunks whose rows follow the layers' widths (fix-230).

rev-224 measured prediction, early-stopping validation and L-BFGS working
in chunks of 4,096 rows whatever the widths: 4,096 rows of a 65,536-unit
layer took 988 MiB more to predict 10,000 rows, of a 300,000-unit one a
4.6 GiB allocation that failed. The chunk's rows now keep its buffers
within ``CHUNK_BYTES``; a buffer that still cannot be allocated raises a
MemoryError naming the rows and the widths.
"""

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from fastbp import MLPClassifier
from fastbp.training import lbfgs
from fastbp.kernels.codes import NORM_NONE, OUT_SOFTMAX, RELU
from fastbp.training.backend import CPUBackend
from fastbp.training.data import KernelInput
from fastbp.training import workspace
from fastbp.training.predict import CHUNK, InferencePlan, chunk_rows, inference_plan
from fastbp.training.spec import build_spec
from fastbp.training.workspace import CHUNK_BYTES, chunk_rows_within

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet



def spec_of(units):
    n_hidden = len(units) - 2
    return build_spec(tuple(units), (RELU,) * n_hidden, NORM_NONE, (False,) * n_hidden,
                      [0.0] * n_hidden, OUT_SOFTMAX)


def test_chunk_rows_narrow_and_wide():
    narrow = spec_of((20, 100, 10)).layout
    assert chunk_rows_within(narrow, np.float32, chunk_rows(10_000)) == CHUNK
    assert chunk_rows_within(narrow, np.float64, chunk_rows(10_000)) == CHUNK
    # (powers of two below CHUNK)
    assert chunk_rows_within(narrow, np.float32, chunk_rows(3)) == 4
    assert chunk_rows(10_000) == CHUNK  # no widths: the row count alone
    wide = spec_of((20, 20_000, 10)).layout
    rows32 = chunk_rows_within(wide, np.float32, chunk_rows(10_000))
    rows64 = chunk_rows_within(wide, np.float64, chunk_rows(10_000))
    # The inference workspace holds the hidden and output layers a row.
    assert rows32 == CHUNK_BYTES // ((20_000 + 10) * 4)
    assert rows64 == rows32 // 2
    assert 1 <= rows32 < CHUNK
    # A layer wider than the budget still predicts, a row at a time.
    assert chunk_rows_within(spec_of((5, CHUNK_BYTES, 2)).layout, np.float32,
                             chunk_rows(10_000)) == 1


def test_inference_plan_keeps_its_buffers_within_the_budget():
    spec = spec_of((5, 300_000, 2))
    plan = InferencePlan(spec, np.float32, CHUNK)
    assert plan.chunk == chunk_rows_within(spec.layout, np.float32, chunk_rows(CHUNK)) < CHUNK
    assert plan.work(np.zeros(0, np.float32)).acts.nbytes <= CHUNK_BYTES
    # Narrow networks keep the chunk they ask for.
    assert InferencePlan(spec_of((784, 100, 10)), np.float64, CHUNK).chunk == CHUNK


def test_lbfgs_chunks_wide_layers_with_the_same_loss(monkeypatch):
    rng = np.random.RandomState(0)
    n, width = 600, 20_000
    spec = spec_of((5, width, 2))
    X = rng.standard_normal((n, 5)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[rng.randint(0, 2, n)]
    params = (rng.standard_normal(spec.layout.n_params) * 0.01).astype(np.float32)
    rows = []
    real = lbfgs.Workspace

    def recording(layout, batch_size, *args, **kwargs):
        rows.append(batch_size)
        return real(layout, batch_size, *args, **kwargs)

    monkeypatch.setattr(lbfgs, "Workspace", recording)
    f = lbfgs.loss_and_gradient_function(CPUBackend(), spec, KernelInput(X), Y, None,
                                         alpha=1e-4, l1=0.0, dtype=np.float32)
    loss, grad = f(params)
    grad = grad.copy()
    assert rows[-1] < n
    assert rows[-1] * (5 + 2 * (width + 2) + 3) * 4 <= CHUNK_BYTES
    # The loss and gradient of the whole batch in one chunk (what the
    # 4,096-row chunk computed): the same but for the order of the sums.
    whole = lbfgs.loss_and_gradient_function(CPUBackend(), spec, KernelInput(X), Y, None,
                                             alpha=1e-4, l1=0.0, dtype=np.float32,
                                             chunk=n)
    loss1, grad1 = whole(params)
    np.testing.assert_allclose(loss, loss1, rtol=1e-5)
    np.testing.assert_allclose(grad, grad1, rtol=1e-3, atol=1e-6 * np.abs(grad1).max())


def test_wide_predict_proba_stays_within_the_budget(monkeypatch):
    rng = np.random.RandomState(0)
    width, n = 20_000, 2_500
    X = rng.standard_normal((n, 10)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = quiet(MLPClassifier((width,), max_iter=1, batch_size=50, random_state=0).fit,
                X[:200], y[:200])
    assert clf.coefs_[0].dtype == np.float32
    clf.predict_proba(X)  # kernels compiled, the plan cached
    tracemalloc.start()
    try:
        proba = clf.predict_proba(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Before: a 4,096-row workspace, 4096 x 20002 x 4 B = 312 MiB. Now the
    # chunk's buffers, the outputs and the packed weights (under 2 MiB).
    old = 4096 * (width + 2) * 4
    assert peak < CHUNK_BYTES + (8 << 20) < old / 4
    by_row = np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(n)])
    ulps = np.abs(proba - by_row) / np.spacing(np.maximum(np.abs(by_row), 1e-30)
                                               .astype(np.float32))
    # (Softmax over a 20,000-term sum: a few float32 ulps of blocking.)
    np.testing.assert_allclose(proba, by_row, rtol=1e-5, atol=1e-6)
    assert np.nanmax(np.where(by_row > 1e-3, ulps, 0)) < 64
    # Against one block of 900 rows (two chunks now): to float32's rounding.
    # Chunks compute each row with the same code, but BLAS may pick another
    # kernel for another number of rows: bit for bit on the AVX-512 Xeon of
    # earlier sessions, 22 of 1,800 entries 1 ulp apart on an AVX2 EPYC.
    chunked = clf.predict_proba(X[:900])
    assert chunk_rows_within(spec_of((10, width, 2)).layout, np.float32, chunk_rows(900)) < 900
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1 << 40)
    inference_plan.cache_clear()
    try:
        one_block = clf.predict_proba(X[:900])
    finally:
        monkeypatch.undo()
        inference_plan.cache_clear()
    np.testing.assert_allclose(chunked, one_block, rtol=2e-6, atol=1e-7)


def run_limited(code):
    """Run ``code`` in a Python whose address space may grow 1 GiB past its
    size after importing fastbp: an allocation of several GiB fails there
    as it would on a machine without the memory (and none is made here)."""
    prelude = textwrap.dedent("""
        import resource
        import numpy as np
        import fastbp
        from fastbp.training.spec import build_spec
        with open("/proc/self/status") as status:
            vm = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), vm + (1 << 30)))
    """)
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc")
def test_memory_errors_name_the_rows_and_the_widths():
    out = run_limited("""
        from fastbp.training.predict import InferencePlan
        from fastbp.training.workspace import Workspace
        spec = build_spec((5, 1 << 31, 2), (3,), 0, (False,), [0.0], 1)
        try:
            InferencePlan(spec, np.float32, 4096)
        except MemoryError as exc:
            print("PREDICT", exc)
        try:
            Workspace(build_spec((5, 300000, 2), (3,), 0, (False,), [0.0], 1).layout,
                      4096, np.float32)
        except MemoryError as exc:
            print("TRAIN", exc)
    """)
    predict = next(l for l in out.splitlines() if l.startswith("PREDICT"))
    assert "1 row(s)" in predict and "(5, 2147483648, 2)" in predict
    assert "float32" in predict and "batch_size" not in predict
    train = next(l for l in out.splitlines() if l.startswith("TRAIN"))
    assert "4096 row(s)" in train and "(5, 300000, 2)" in train
    assert "Lower batch_size" in train


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc")
def test_wide_warm_fit_validates_and_predicts_within_memory():
    # rev-224's case: each of these asked 4.6 GiB for a 4,096-row chunk.
    out = run_limited("""
        import pickle
        from fastbp import MLPClassifier
        rng = np.random.RandomState(0)
        X = rng.standard_normal((1000, 5)).astype(np.float32)
        y = (X[:, 0] > 0).astype(int)
        clf = MLPClassifier((300000,), batch_size=10, max_iter=1, random_state=0)
        clf.fit(X[:50], y[:50])
        clf.set_params(warm_start=True, early_stopping=True, validation_fraction=0.9,
                       n_iter_no_change=1)
        clf.fit(X, y)  # validates on 900 rows
        assert clf.validation_scores_ is not None
        print("PROBA", clf.predict_proba(X).shape)
        try:
            clf.set_params(batch_size=1000, early_stopping=False)
            before = [c.copy() for c in clf.coefs_]
            clf.fit(X, y)
        except MemoryError as exc:
            same = all(np.array_equal(a, b) for a, b in zip(before, clf.coefs_))
            print("TRAIN", same, exc)
    """)
    assert "PROBA (1000, 2)" in out
    train = next(l for l in out.splitlines() if l.startswith("TRAIN"))
    assert train.startswith("TRAIN True") and "Lower batch_size" in train
