"""A warm fit judges another library's float dtype as NumPy's (rev-252).

A float64 torch tensor went into a float32 model's warm fit, which refuses
a float64 NumPy array: the dtype check read only NumPy dtypes. The
container here stands in for a tensor (torch is the benchmarks' extra):
a ``dtype`` that is not NumPy's, named ``torch.float64``, and ``__array__``.
"""

import numpy as np
import pytest

from fastbp import MLPClassifier


class _Dtype:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f"torch.{self.name}"


class _Tensor:
    def __init__(self, values):
        self.values = values
        self.dtype = _Dtype(values.dtype.name)
        self.shape = values.shape
        self.ndim = values.ndim

    def __len__(self):
        return len(self.values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def _warm(data):
    X, y = data
    return MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0).fit(X, y)


def test_a_float64_tensor_is_refused_by_a_float32_warm_model_as_an_array_is(data):
    X, y = data
    model = _warm(data)
    before = [c.copy() for c in model.coefs_]
    for X64 in (X.astype(np.float64), _Tensor(X.astype(np.float64))):
        with pytest.raises(ValueError, match="X has dtype float64 but the model was fitted "
                                             "with float32"):
            model.fit(X64, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.coefs_))


def test_a_float32_tensor_goes_on_training(data):
    X, y = data
    model = _warm(data)
    model.fit(_Tensor(X), y)
    assert model.coefs_[0].dtype == np.float32
