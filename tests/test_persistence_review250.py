"""fix-250: fastbp.save and fastbp.load, after a review of saving and
loading (rev-248).

A file whose model lacks a constructor parameter (saved by an older fastbp,
or edited) is refused with a ValueError naming the file, the parameter and
the fastbp that saved it, rather than a bare AttributeError from inside
scikit-learn; names that are no parameters of this fastbp's class load with
a warning; an unknown ``out_activation_`` makes ``predict`` raise the
ValueError that save and load raise, not a KeyError; a model with NaN or
infinite weights is refused by save (and by load); and
``fastbp.read_metadata`` is exported.
"""

import pytest
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier, persistence

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X, y)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.fastbp"
    fastbp.save(fitted, path)
    return path


# (4) read_metadata.

def test_read_metadata_is_exported(saved):
    assert "read_metadata" in fastbp.__all__
    assert fastbp.read_metadata is persistence.read_metadata
    meta = fastbp.read_metadata(saved)
    assert meta["fastbp"] == fastbp.__version__
    assert meta["type"] == "MLPClassifier"
