"""A saved or copied model holds each per-epoch record once.

``history_``, ``loss_curve_`` and ``validation_scores_`` are, in memory,
views and lists of the training record's (``_progress``); pickle and skops
wrote them apart, so that a long ``partial_fit`` stream saved every epoch
twice (rev-320), and a loaded model's ``history_`` no longer shared its
record's storage. They are now left out of the state and rebuilt from the
record; what is not the record's (a ``history_`` the user replaced, an
L-BFGS fit's) is kept as it is.
"""

import collections
import copy
import io
import json
import pickle
import re
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import fastbp
from fastbp import MLPClassifier, MLPRegressor

try:
    from .support import edited_archive, quiet
except ImportError:  # run as a plain module
    from support import edited_archive, quiet

N_CALLS = 2000


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.rand(32, 8), rng.randint(0, 3, 32)


def _stream(data, n_calls, **params):
    X, y = data
    model = MLPClassifier((8,), random_state=0, **params)
    for _ in range(n_calls):
        quiet(model.partial_fit, X, y, classes=[0, 1, 2])
    return model


@pytest.fixture(scope="module")
def long_stream(data):
    return _stream(data, N_CALLS)


def _archive(path):
    """``(schema text, {member: array})`` of a fastbp file's skops archive."""
    with zipfile.ZipFile(path) as outer:
        payload = outer.read("model.skops")
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        schema = inner.read("schema.json").decode()
        arrays = {name: np.load(io.BytesIO(inner.read(name)), allow_pickle=False)
                  for name in inner.namelist() if name.endswith(".npy")}
    return schema, arrays


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_rebuilt(model):
    """``history_`` views of the record's storage, the record's own lists."""
    progress = model._progress
    expected = progress.history_arrays()
    assert list(model.history_) == list(expected)
    for key, values in expected.items():
        assert np.shares_memory(model.history_[key], values), key
        assert not model.history_[key].flags.writeable
    assert model.loss_curve_ is progress.loss_curve
    if progress.validation_scores is not None:
        assert model.validation_scores_ is progress.validation_scores


def test_a_saved_stream_holds_each_record_once(long_stream, data, tmp_path):
    model = long_stream
    path = tmp_path / "stream.fastbp"
    fastbp.save(model, path)
    schema, arrays = _archive(path)
    # The loss curve is written as JSON values: each epoch's as many
    # times as it is in the curve (twice before: loss_curve_ and
    # _progress.loss_curve).
    written = collections.Counter(re.findall(r'"content": "([^"]*)"', schema))
    # (The last loss also is loss_ and best_loss_, and the record's.)
    scalars = {model.loss_, model.best_loss_}
    curve = collections.Counter(json.dumps(v) for v in model.loss_curve_ if v not in scalars)
    assert len(model.loss_curve_) == N_CALLS
    # (A count of the mismatches: pytest's diff of 2,000-entry dicts takes minutes.)
    mismatched = [v for v, n in curve.items() if written[v] != n]
    assert not mismatched, f"{len(mismatched)} losses written other than once each"
    # Each history record as one .npy member (twice before: history_ and
    # the record's Series).
    for key, values in model.history_.items():
        assert len(values) == N_CALLS
        holding = [name for name, a in arrays.items() if _same(a, values)]
        assert len(holding) == 1, (key, holding)
    # The file grows by one copy of the records (the loss curve's JSON, the
    # history's arrays), not two; JSON sizes as json.dumps writes them.
    def size(schema, arrays):
        return len(json.dumps(json.loads(schema))) + sum(a.nbytes for a in arrays.values())

    progress_curve = json.loads(schema)["content"]["content"]["_progress"]["content"][
        "content"]["loss_curve"]
    one_copy = (len(json.dumps(progress_curve))
                + sum(values.nbytes for values in model.history_.values()))
    small = tmp_path / "small.fastbp"
    fastbp.save(_stream(data, 1), small)
    grown = size(schema, arrays) - size(*_archive(small))
    assert 0.9 * one_copy < grown < 1.5 * one_copy

    loaded = fastbp.load(path)
    _assert_rebuilt(loaded)
    for key, values in model.history_.items():
        assert _same(loaded.history_[key], values)
    assert loaded.loss_curve_ == model.loss_curve_


def test_a_pickle_holds_each_history_record_once(long_stream):
    payload = pickle.dumps(long_stream)
    for key, values in long_stream.history_.items():
        assert payload.count(np.ascontiguousarray(values).tobytes()) == 1, key


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_copy_holds_views_of_its_record(data, how, early_stopping, monkeypatch):
    if early_stopping:  # (partial_fit trains without it)
        model = quiet(MLPClassifier((8,), early_stopping=True, validation_fraction=0.25,
                                    max_iter=20, random_state=0).fit, *data)
    else:
        model = _stream(data, 20)
    # scikit-learn's __setstate__ (its pickle version check) still runs.
    calls = []
    original = BaseEstimator.__setstate__

    def counted(self, state):
        calls.append(type(self))
        return original(self, state)

    monkeypatch.setattr(BaseEstimator, "__setstate__", counted)
    copied = {"pickle": lambda m: pickle.loads(pickle.dumps(m)),
              "deepcopy": copy.deepcopy, "copy": copy.copy}[how](model)
    assert MLPClassifier in calls
    assert copied._progress is not model._progress or how == "copy"
    _assert_rebuilt(copied)
    # In the same order (less the packed parameters and caches no copy holds).
    assert list(copied.__dict__) == [name for name in model.__dict__ if name in copied.__dict__]
    for key, values in model.history_.items():
        assert _same(copied.history_[key], values)
    assert copied.loss_curve_ == model.loss_curve_
    if early_stopping:
        assert copied.validation_scores_ == model.validation_scores_


def _continued(model, data):
    X, y = data
    quiet(model.partial_fit, X, y)
    return model


@pytest.mark.parametrize("how", ["save", "pickle"])
def test_a_loaded_stream_goes_on_as_its_unsaved_twin(data, tmp_path, how):
    model = _stream(data, 30)
    twin = _stream(data, 30)
    if how == "save":
        fastbp.save(model, tmp_path / "m.fastbp")
        loaded = fastbp.load(tmp_path / "m.fastbp")
    else:
        loaded = pickle.loads(pickle.dumps(model))
    _assert_rebuilt(loaded)
    _continued(loaded, data)
    _continued(twin, data)
    _assert_rebuilt(loaded)
    assert list(loaded.history_) == list(twin.history_)
    for key, values in twin.history_.items():
        assert len(loaded.history_[key]) == 31
        if key != "epoch_time":  # wall time, never twice the same
            assert _same(loaded.history_[key], values), key
    assert len(loaded.loss_curve_) == 31
    assert np.array(loaded.loss_curve_).tobytes() == np.array(twin.loss_curve_).tobytes()
    for a, b in zip(loaded.coefs_, twin.coefs_):
        assert _same(a, b)


@pytest.mark.parametrize("how", ["save", "pickle", "deepcopy"])
def test_a_history_the_user_replaced_is_kept(data, tmp_path, how):
    model = _stream(data, 10)
    replaced = {"loss": np.arange(3.0)}
    model.history_ = replaced
    # Equal values, but a list of its own: kept apart from the record's.
    model.loss_curve_ = list(model.loss_curve_)
    if how == "save":
        fastbp.save(model, tmp_path / "m.fastbp")
        copied = fastbp.load(tmp_path / "m.fastbp")
    elif how == "pickle":
        copied = pickle.loads(pickle.dumps(model))
    else:
        copied = copy.deepcopy(model)
    assert list(copied.history_) == ["loss"]
    assert _same(copied.history_["loss"], replaced["loss"])
    assert copied.loss_curve_ == model.loss_curve_
    assert copied.loss_curve_ is not copied._progress.loss_curve


def test_a_history_with_a_key_more_is_kept(data):
    model = _stream(data, 5)
    model.history_ = dict(model.history_, extra=np.ones(5))
    copied = pickle.loads(pickle.dumps(model))
    assert list(copied.history_) == list(model.history_)
    assert _same(copied.history_["extra"], np.ones(5))
    assert not np.shares_memory(copied.history_["loss"],
                                copied._progress.history["loss"].view())


def test_an_lbfgs_history_after_a_stream_is_kept(data, tmp_path):
    X, y = data
    model = MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5)
    for _ in range(3):
        quiet(model.partial_fit, X, y.astype(float))
    model.set_params(solver="lbfgs", warm_start=True)
    quiet(model.fit, X, y.astype(float))
    assert set(model.history_) == {"loss", "epoch_time"}
    fastbp.save(model, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert list(loaded.history_) == list(model.history_)
    for key, values in model.history_.items():
        assert _same(loaded.history_[key], values)
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.loss_curve_ is loaded._progress.loss_curve


def test_an_edited_rebuild_entry_is_refused(data, tmp_path):
    path = tmp_path / "m.fastbp"
    fastbp.save(_stream(data, 3), path)

    def rename(schema):
        entries = schema["content"]["content"]["_rebuilt_from_progress"]["content"]
        entries["coefs_"] = entries.pop("history_")

    edited = edited_archive(path, tmp_path / "edited.fastbp", rename)
    with pytest.raises(ValueError, match=r"is damaged: .*_rebuilt_from_progress .*coefs_"):
        fastbp.load(edited)


def test_a_version_1_file_loads_with_its_records(data, tmp_path, monkeypatch):
    # Format version 2 saves the records once; a file of version 1, which
    # held them twice, loads as before, its history_ rebuilt as views once
    # a fit goes on. A version-1 fastbp told of version 2 asks for an
    # upgrade rather than load a model without its records.
    from fastbp.estimators import base
    from fastbp.persistence import container

    model = _stream(data, 30)
    new = _saved(model, tmp_path / "new.fastbp")
    assert json.loads(zipfile.ZipFile(new).read("fastbp.json"))["format_version"] == 2
    with monkeypatch.context() as patch:
        patch.setattr(base, "without_rebuilt", lambda state: state)
        patch.setattr(container, "FORMAT_VERSION", 1)
        old = _saved(model, tmp_path / "old.fastbp")
    meta = json.loads(zipfile.ZipFile(old).read("fastbp.json"))
    assert meta["format_version"] == 1
    schema, _ = _archive(old)
    assert "_rebuilt_from_progress" not in schema and '"history_"' in schema
    loaded = fastbp.load(old)
    assert list(loaded.history_) == list(model.history_)
    for key, values in model.history_.items():
        assert _same(np.asarray(loaded.history_[key]), values), key
    assert loaded.loss_curve_ == model.loss_curve_
    _continued(loaded, data)
    _assert_rebuilt(loaded)
    assert len(loaded.loss_curve_) == 31

    with monkeypatch.context() as patch:
        patch.setattr(container, "FORMAT_VERSION", 1)
        with pytest.raises(ValueError, match="in format version 2; this fastbp reads up to "
                                             "version 1. Upgrade fastbp"):
            fastbp.load(new)


def _saved(model, path):
    fastbp.save(model, path)
    return path
