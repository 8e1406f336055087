"""Property-based fuzzing of the estimators' whole public surface.

Hypothesis draws data (shapes 0-60 x 0-30; bool, int, float16/32/64,
complex, object, string and big-endian dtypes; NaN, inf, huge and subnormal
values; lists, DataFrames, non-contiguous, Fortran-order, read-only and
memory-mapped arrays; CSR, CSC, COO and LIL matrices, malformed ones
included), targets of every kind, sample weights and extreme parameters, and
runs ``fit``, ``predict``, ``score``, ``partial_fit`` and a warm refit. Every
call must end in one of two ways:

- a result, with no NaN in any prediction;
- a ``ValueError`` or ``TypeError`` whose message is fastbp's or
  scikit-learn's own (not a compiler or NumPy internal error),

and a failed call must leave a fitted model and the caller's arrays exactly
as they were.

Profiles: ``ci`` (the default, seeded, 400 cases, under a minute) and
``long`` (10,000 cases)::

    HYPOTHESIS_PROFILE=long FASTBP_FUZZ_LOG=fuzz.jsonl python -m pytest tests/test_fuzz.py

``FASTBP_FUZZ_LOG`` appends one JSON line per call (its outcome and, for
errors, the message), from which ``bench/fuzz_report.py`` counts outcomes.
"""

import copy
import json
import os
import tempfile
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from fastbp import DivergenceError, MLPClassifier, MLPRegressor

settings.register_profile(
    "ci", max_examples=400, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "long", max_examples=10_000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Messages of errors that escaped fastbp's validation: a compiler, NumPy
# or Python internal failure rather than an explanation.
INTERNAL = ("TypingError", "nopython", "numba", "UFuncTypeError", "ufunc", "object of type",
            "unsupported operand", "has no attribute", "index out of bounds",
            "is not subscriptable", "NoneType")

DTYPES = ["bool", "int8", "int64", "uint8", "float16", "float32", "float64", ">f8", ">f4",
          "complex128", "object", "str"]
CONTAINERS = ["array", "list", "dataframe", "noncontiguous", "fortran", "readonly",
              "memmap", "csr", "csc", "coo", "lil", "malformed_csr"]
VALUES = ["normal", "nan", "inf", "huge", "huge32", "subnormal", "zeros", "integers"]
TARGETS = ["binary", "multiclass", "strings", "multilabel", "continuous", "single_class",
           "nan", "wrong_length", "2d_continuous", "huge", "negative"]
WEIGHTS = [None, "positive", "zeros", "negative", "nan", "wrong_length", "huge", "tiny"]


def _log(record):
    path = os.environ.get("FASTBP_FUZZ_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def _values(rng, kind, n, m):
    X = rng.standard_normal((n, m))
    if kind == "nan" and X.size:
        X.flat[rng.integers(X.size)] = np.nan
    elif kind == "inf" and X.size:
        X.flat[rng.integers(X.size)] = np.inf
    elif kind == "huge":
        X *= 1e300
    elif kind == "huge32" and X.size:
        X.flat[rng.integers(X.size)] = 1e39
    elif kind == "subnormal":
        X *= 1e-310
    elif kind == "zeros":
        X[:] = 0
    elif kind == "integers":
        X = np.round(X * 3)
    return X


def _as_dtype(X, dtype):
    with np.errstate(all="ignore"):
        if dtype == "str":
            return X.astype(str)
        if dtype == "object":
            return X.astype(object)
        if dtype in ("bool",):
            return X > 0
        if dtype in ("int8", "int64", "uint8"):
            return np.nan_to_num(X, nan=0, posinf=100, neginf=-100).clip(-100, 100).astype(dtype)
        return X.astype(dtype)


def _container(X, kind, rng, tmpdir):
    if kind == "list":
        return X.tolist()
    if kind == "dataframe":
        import pandas as pd
        return pd.DataFrame(X)
    if kind == "noncontiguous":
        wide = np.repeat(X, 2, axis=1) if X.ndim == 2 else X
        return wide[:, ::2] if X.ndim == 2 else X
    if kind == "fortran":
        return np.asfortranarray(X)
    if kind == "readonly":
        X = X.copy()
        X.flags.writeable = False
        return X
    if kind == "memmap":
        if X.dtype.kind not in "biuf" or X.size == 0:
            return X
        path = os.path.join(tmpdir, f"x{rng.integers(1 << 30)}.bin")
        X.tofile(path)
        return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    if kind in ("csr", "csc", "coo", "lil", "malformed_csr"):
        if X.dtype.kind not in "biufc" or X.ndim != 2:
            return X
        # scipy.sparse holds native byte order only, and no float16.
        native = X.astype(np.float32 if X.dtype.kind == "f" and X.dtype.itemsize == 2
                          else X.dtype.newbyteorder("="))
        S = sp.csr_matrix(native)
        if kind == "malformed_csr":
            if S.nnz:
                S.indices = S.indices.copy()
                S.indices[rng.integers(S.nnz)] = X.shape[1] + int(rng.integers(0, 10**6))
            return S
        return S.asformat(kind)
    return X


def _targets(rng, kind, n):
    if kind == "binary":
        return rng.integers(0, 2, n)
    if kind == "multiclass":
        return rng.integers(0, 4, n)
    if kind == "strings":
        return np.array(["cat", "dog", "eel"])[rng.integers(0, 3, n)]
    if kind == "multilabel":
        return rng.integers(0, 2, (n, 3))
    if kind == "continuous":
        return rng.standard_normal(n)
    if kind == "single_class":
        return np.zeros(n, dtype=int)
    if kind == "nan":
        y = rng.standard_normal(n)
        if n:
            y[0] = np.nan
        return y
    if kind == "wrong_length":
        return rng.integers(0, 2, n + 1)
    if kind == "2d_continuous":
        return rng.standard_normal((n, 2))
    if kind == "huge":
        return rng.standard_normal(n) * 1e300
    return -np.abs(rng.standard_normal(n))


def _weights(rng, kind, n):
    if kind is None:
        return None
    if kind == "positive":
        return rng.uniform(0.1, 2, n)
    if kind == "zeros":
        return np.zeros(n)
    if kind == "negative":
        return -np.ones(n)
    if kind == "nan":
        w = np.ones(n)
        if n:
            w[0] = np.nan
        return w
    if kind == "wrong_length":
        return np.ones(n + 2)
    if kind == "huge":
        return np.full(n, 1e300)
    return np.full(n, 1e-320)


@st.composite
def cases(draw):
    # Half of the cases are valid input, so that training, prediction and
    # warm starts get exercised, not only validation.
    valid = draw(st.booleans())
    pick = lambda wild, tame: draw(st.sampled_from(tame if valid else wild))  # noqa: E731
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "n": pick([0, 1, 2, 3, 5, 10, 25, 60], [2, 3, 5, 10, 25, 60]),
        "m": pick([0, 1, 2, 5, 13, 30], [1, 2, 5, 13, 30]),
        "dtype": pick(DTYPES, ["float64", "float32", ">f8", ">f4", "int64", "uint8", "bool",
                               "float16", "object"]),
        "values": pick(VALUES, ["normal", "normal", "integers", "zeros", "subnormal"]),
        "container": pick(CONTAINERS, [c for c in CONTAINERS if c != "malformed_csr"]),
        "target": pick(TARGETS, ["binary", "multiclass", "strings", "multilabel",
                                 "continuous", "2d_continuous"]),
        "weights": pick(WEIGHTS, [None, None, "positive"]),
        "regressor": draw(st.booleans()),
        "params": {
            "hidden_layer_sizes": draw(st.sampled_from([(1,), (3,), (4, 2), (6, 6), ()])),
            "solver": draw(st.sampled_from(["adam", "sgd", "lbfgs", "rmsprop", "adamw"])),
            "activation": draw(st.sampled_from(["relu", "tanh", "logistic", "gelu",
                                                "identity"])),
            "max_iter": draw(st.integers(1, 3)),
            "batch_size": draw(st.sampled_from(["auto", 1, 2, 7, 1000])),
            "learning_rate_init": pick([1e-3, 1e-12, 10.0, 1e6], [1e-3, 1e-2]),
            "alpha": pick([1e-4, 0.0, 1e10], [1e-4, 0.0]),
            "normalization": draw(st.sampled_from([None, None, "batch", "layer"])),
            "dropout": draw(st.sampled_from([0.0, 0.0, 0.5])),
            "clip_grad_norm": draw(st.sampled_from([None, 1.0])),
            "early_stopping": draw(st.sampled_from([False, False, True])),
            "random_state": 0,
        },
    }


def _build(case, tmpdir, seed_offset=0):
    rng = np.random.default_rng(case["seed"] + seed_offset)
    X = _values(rng, case["values"], case["n"], case["m"])
    X = _as_dtype(X, case["dtype"])
    X = _container(X, case["container"], rng, tmpdir)
    y = _targets(rng, case["target"], case["n"])
    sw = _weights(rng, case["weights"], case["n"])
    return X, y, sw


def _snapshot(obj):
    if sp.issparse(obj):
        if obj.format in ("csr", "csc"):
            # Read the raw arrays: a malformed matrix must not be converted.
            parts = (obj.data, obj.indices, obj.indptr)
        else:
            parts = (obj.toarray(),)
        return ("sparse", obj.format, obj.shape, [np.array(p, copy=True) for p in parts])
    if isinstance(obj, np.ndarray):
        return np.array(obj, copy=True)
    return copy.deepcopy(obj)


def _same(a, b):
    if isinstance(a, tuple) and a and a[0] == "sparse":
        return a[1:3] == b[1:3] and all(
            np.array_equal(p, q, equal_nan=p.dtype.kind in "fc") for p, q in zip(a[3], b[3]))
    if isinstance(a, np.ndarray):
        if a.dtype.kind in "fc":
            return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        if a.dtype.kind == "O":  # NaN != NaN inside object arrays
            return a.shape == b.shape and repr(a.tolist()) == repr(b.tolist())
        return a.shape == b.shape and np.array_equal(a, b)
    try:
        import pandas as pd
        if isinstance(a, pd.DataFrame):
            return a.equals(b)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(a, list):
        return repr(a) == repr(b)
    return True


def _model_state(est):
    return {k: copy.deepcopy(v) for k, v in vars(est).items() if k.endswith("_")}


def _states_equal(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        u, v = a[k], b[k]
        if isinstance(u, list) and u and isinstance(u[0], np.ndarray):
            if len(u) != len(v) or not all(np.array_equal(p, q, equal_nan=True)
                                           for p, q in zip(u, v)):
                return False
        elif isinstance(u, np.ndarray):
            if not np.array_equal(u, v, equal_nan=u.dtype.kind in "fc"):
                return False
        elif isinstance(u, dict):
            if u.keys() != v.keys() or not all(
                    np.array_equal(np.asarray(u[q]), np.asarray(v[q]), equal_nan=True)
                    for q in u):
                return False
        elif isinstance(u, float) and np.isnan(u):
            if not (isinstance(v, float) and np.isnan(v)):
                return False
        elif not isinstance(u, (str, int, float, bool, type(None), list, tuple)):
            continue
        elif u != v and not (isinstance(u, list) and np.array_equal(u, v, equal_nan=True)):
            return False
    return True


def _check_output(name, out):
    arr = np.asarray(out)
    if arr.dtype.kind in "fc":
        assert not np.isnan(arr).any(), f"{name} returned NaN without an error"


def _call(case, name, fn, fitted_state, est, arrays):
    before = [_snapshot(a) for a in arrays]
    record = {"call": name, "case": {k: v for k, v in case.items() if k != "params"}}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        record.update(outcome=type(exc).__name__, message=message[:300])
        _log(record)
        assert message.strip(), f"{name}: {type(exc).__name__} with an empty message"
        internal = [w for w in INTERNAL if w in message]
        assert not internal, f"{name}: an internal error escaped: {type(exc).__name__}: {message}"
        if isinstance(exc, DivergenceError) and exc.epoch > 1:
            # Documented: the error holds the call's last finite epoch
            # (fix-210), and the call is undone as every failed one.
            kept = exc.last_finite_model
            assert all(np.isfinite(c).all() for c in kept.coefs_ + kept.intercepts_)
            assert kept.n_iter_ == exc.epoch - 1 == len(kept.history_["loss"]) - (
                0 if fitted_state is None else len(fitted_state["history_"]["loss"]))
        if fitted_state is not None:
            assert _states_equal(fitted_state, _model_state(est)), \
                f"{name} failed ({message}) and changed the fitted model"
        ok = False
    else:
        record.update(outcome="ok")
        _log(record)
        if name == "score" and any(issubclass(w.category, UndefinedMetricWarning)
                                   for w in caught):
            pass  # scikit-learn's documented NaN score (R^2 of fewer than 2 samples)
        elif name in ("predict", "predict_proba", "score"):
            _check_output(name, out)
        ok = True
    for a, b in zip(before, arrays):
        assert _same(a, _snapshot(b)), f"{name} modified an input array"
    return ok


@given(case=cases())
def test_fuzz_estimators(case):
    with tempfile.TemporaryDirectory() as tmpdir:
        X, y, sw = _build(case, tmpdir)
        cls = MLPRegressor if case["regressor"] else MLPClassifier
        est = cls(**case["params"])
        fitted = _call(case, "fit", lambda: est.fit(X, y, sample_weight=sw), None, est,
                       [X, y] + ([] if sw is None else [sw]))
        if not fitted:
            return
        state = _model_state(est)
        X2, y2, sw2 = _build(case, tmpdir, seed_offset=1)
        _call(case, "predict", lambda: est.predict(X2), state, est, [X2])
        if not case["regressor"]:
            _call(case, "predict_proba", lambda: est.predict_proba(X2), state, est, [X2])
        _call(case, "score", lambda: est.score(X2, y2), state, est, [X2, y2])
        state = _model_state(est)
        if case["params"]["solver"] != "lbfgs" and not case["params"]["early_stopping"]:
            if _call(case, "partial_fit", lambda: est.partial_fit(X2, y2, sample_weight=sw2),
                     state, est, [X2, y2] + ([] if sw2 is None else [sw2])):
                state = _model_state(est)
        est.set_params(warm_start=True)
        _call(case, "warm_fit", lambda: est.fit(X2, y2, sample_weight=sw2), state, est,
              [X2, y2] + ([] if sw2 is None else [sw2]))
