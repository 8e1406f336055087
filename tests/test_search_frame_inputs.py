"""fix-278: what fit_on_dask and fit_on_ray warm on every worker for a
DataFrame ``X``: the dtype its fit trains in, where float32 columns promote
with bool, float16 or small integer ones to float32 (rev-272), and the
sparse kernels for a frame of pandas sparse columns, which the fit trains
from CSR (rev-274)."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import fastbp
from fastbp import search
from fastbp.estimators import base

pd = pytest.importorskip("pandas")

N = 40
Y = np.arange(N) % 2
VALUES = np.random.default_rng(0).normal(size=N)


def _search():
    return GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]})


def _fit_kernel_input(X, monkeypatch):
    """The dtype and sparsity of what the kernels of ``X``'s fit receive."""
    seen = []

    class Recording(base.KernelInput):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append((self.dtype.name, self.is_sparse))

    monkeypatch.setattr(base, "KernelInput", Recording)
    with warnings.catch_warnings():
        # Convergence after one epoch; a partly sparse frame's conversion.
        warnings.simplefilter("ignore")
        clf = fastbp.MLPClassifier(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
        clf.fit(X, Y)
    assert seen, "the fit built no kernel input"
    # The dtype the model trained in, as the brief defines it.
    assert seen[0][0] == clf.coefs_[0].dtype.name
    return seen[0]


# --- rev-272: a DataFrame's columns promote as scikit-learn promotes them -----

def _f32():
    return VALUES.astype(np.float32)


DENSE_FRAMES = {
    "float32+int8": lambda: pd.DataFrame({"a": _f32(), "b": Y.astype(np.int8)}),
    "float32+bool": lambda: pd.DataFrame({"a": _f32(), "b": Y.astype(bool)}),
    "float32+float16": lambda: pd.DataFrame({"a": _f32(), "b": VALUES.astype(np.float16)}),
    "float32+uint8": lambda: pd.DataFrame({"a": _f32(), "b": Y.astype(np.uint8)}),
    "float32+int16": lambda: pd.DataFrame({"a": _f32(), "b": Y.astype(np.int16)}),
    "big-endian float32+int8": lambda: pd.DataFrame({"a": VALUES.astype(">f4"),
                                                     "b": Y.astype(np.int8)}),
    "float32": lambda: pd.DataFrame({"a": _f32()}),
    "float32+int32": lambda: pd.DataFrame({"a": _f32(), "b": Y.astype(np.int32)}),
    "float32+float64": lambda: pd.DataFrame({"a": _f32(), "b": VALUES}),
    "int8": lambda: pd.DataFrame({"a": Y.astype(np.int8)}),
    "float32+object": lambda: pd.DataFrame({"a": _f32(), "b": VALUES.astype(object)}),
    "Float32": lambda: pd.DataFrame({"a": pd.array(_f32(), dtype="Float32")}),
    "Int8+float32": lambda: pd.DataFrame({"a": pd.array(Y, dtype="Int8"), "b": _f32()}),
    "boolean+float32": lambda: pd.DataFrame({"a": pd.array(Y.astype(bool), dtype="boolean"),
                                             "b": _f32()}),
}


@pytest.mark.parametrize("name", list(DENSE_FRAMES))
def test_warmed_dtype_is_the_one_a_dense_frame_trains_in(name, monkeypatch):
    X = DENSE_FRAMES[name]()
    dtype, sparse = _fit_kernel_input(X, monkeypatch)
    assert not sparse
    assert search._fit_dtypes(X) == (dtype,)
    assert search._warm_inputs(_search(), X, None, None) == ((dtype,), False)


@pytest.mark.parametrize("name", ["float32+int8", "float32+bool", "float32+float16"])
def test_float32_promoting_frames_warm_float32(name):
    # The rev-272 cases by value, whatever the fit does.
    assert search._fit_dtypes(DENSE_FRAMES[name]()) == ("float32",)


def test_frame_without_a_common_dtype_warms_float64():
    X = pd.DataFrame({"a": _f32(), "t": pd.date_range("2020", periods=N)})
    assert search._fit_dtypes(X) == ("float64",)


# --- rev-274: a frame of sparse columns only trains from CSR ------------------

def _sparse_frame(dtype, names):
    import scipy.sparse as sp

    m = sp.random(N, len(names), density=0.3, format="csr", random_state=0)
    return pd.DataFrame.sparse.from_spmatrix(m.astype(dtype), columns=names)


def test_sparse_frame_warms_the_sparse_kernels_as_its_matrix_does():
    import scipy.sparse as sp

    X = sp.random(50, 6, density=0.2, format="csr", random_state=0)
    df = pd.DataFrame.sparse.from_spmatrix(X)
    assert search._warm_inputs(_search(), X, None, None) == (("float64",), True)
    assert search._warm_inputs(_search(), df, None, None) == (("float64",), True)


SPARSE_FRAMES = {
    # check_array converts these to CSR, in float64 whatever the subtype.
    "sparse float64": lambda: _sparse_frame(np.float64, ["a", "b"]),
    "sparse float32": lambda: _sparse_frame(np.float32, ["a", "b"]),
    "sparse int8": lambda: _sparse_frame(np.int8, ["a", "b"]),
    "sparse float32+sparse int8": lambda: pd.concat(
        [_sparse_frame(np.float32, ["a"]), _sparse_frame(np.int8, ["b"])], axis=1),
    # and these, with a dense column, to a dense array (with a warning).
    "sparse float32+dense float32": lambda: pd.concat(
        [_sparse_frame(np.float32, ["a"]), pd.DataFrame({"d": _f32()})], axis=1),
    "sparse float64+dense bool": lambda: pd.concat(
        [_sparse_frame(np.float64, ["a"]), pd.DataFrame({"d": Y.astype(bool)})], axis=1),
}


@pytest.mark.parametrize("name", list(SPARSE_FRAMES))
def test_warmed_kernels_are_the_ones_a_frame_with_sparse_columns_trains_on(name, monkeypatch):
    X = SPARSE_FRAMES[name]()
    dtype, sparse = _fit_kernel_input(X, monkeypatch)
    assert sparse == ("dense" not in name)
    assert search._warm_inputs(_search(), X, None, None) == ((dtype,), sparse)


def test_sparse_frame_behind_steps_is_not_dense_numbers():
    # As for a sparse matrix: the steps may pass on sparse data (a scaler
    # with_mean=False does), so both dtypes and the sparse kernels warm.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s = GridSearchCV(make_pipeline(StandardScaler(with_mean=False), fastbp.MLPClassifier()),
                     {"mlpclassifier__alpha": [1e-4]})
    X = _sparse_frame(np.float64, ["a", "b"])
    assert not search._numeric_dense(X)
    assert search._warm_inputs(s, X, None, None) == (search.DTYPES, True)
    mixed = SPARSE_FRAMES["sparse float32+dense float32"]()
    assert search._numeric_dense(mixed)
    assert search._warm_inputs(s, mixed, None, None) == (("float64",), False)
