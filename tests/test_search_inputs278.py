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
