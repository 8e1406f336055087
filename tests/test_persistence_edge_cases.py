"""fix-186: fastbp.save and fastbp.load, after a review of persistence.

A model saved from an epoch hook while it is being fitted is refused; a file
whose skops content is damaged, with its checksum recomputed, is refused
with a ValueError naming the path; models that predict correctly in memory
(memmapped, mixed dtypes, big-endian, tuples) are saved; and load imports no
scikit-learn module that a refused file names.
"""

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier

try:
    from .support import Hook, edited_archive, quiet
except ImportError:  # run as a plain module
    from support import Hook, edited_archive, quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


# ------------------------------------------------- 1: saving mid-fit


@pytest.mark.parametrize("solver, refit", [("adam", False), ("adam", True),
                                           ("lbfgs", False)])
def test_saving_the_estimator_being_fitted_is_refused(data, tmp_path, solver, refit):
    X, y = data
    model = MLPClassifier((6,), solver=solver, max_iter=3, random_state=0)
    if refit:
        quiet(model.fit, X, y)
    errors = []

    def on_epoch(estimator, fitted, context):
        with pytest.raises(ValueError) as info:
            fastbp.save(estimator, tmp_path / "mid.fastbp")
        errors.append(str(info.value))

    quiet(model.set_callbacks(Hook(on_epoch)).fit, X, y)
    assert len(errors) >= model.n_iter_ == 3
    assert errors[0].startswith("MLPClassifier is being fitted (a fit or partial_fit call")
    assert "save the fitted_estimator a callback hook receives" in errors[0]
    assert not os.path.exists(tmp_path / "mid.fastbp")
    # Once fit has returned, the model saves.
    fastbp.save(model.set_callbacks(), tmp_path / "after.fastbp")
    assert fastbp.load(tmp_path / "after.fastbp").n_iter_ == 3


def test_saving_a_pipeline_whose_model_is_being_fitted_is_refused(data, tmp_path):
    X, y = data
    model = MLPClassifier((6,), max_iter=2, random_state=0)
    pipe = make_pipeline(StandardScaler(), model)
    errors = []

    def on_epoch(estimator, fitted, context):
        with pytest.raises(ValueError) as info:
            fastbp.save(pipe, tmp_path / "mid.fastbp")
        errors.append(str(info.value))

    model.set_callbacks(Hook(on_epoch))
    quiet(pipe.fit, X, y)
    assert errors and "MLPClassifier (in this Pipeline) is being fitted" in errors[0]


def test_the_hooks_snapshot_saves_with_that_epochs_model(data, tmp_path):
    X, y = data
    model = MLPClassifier((6,), max_iter=3, random_state=0)
    saved = []

    def on_epoch(estimator, fitted, context):
        path = tmp_path / f"epoch{len(saved)}.fastbp"
        fastbp.save(fitted, path)
        saved.append((path, fitted.n_iter_, [c.copy() for c in fitted.coefs_]))

    def on_root(estimator, fitted, context):
        # The root hook runs once the model is set: the estimator saves.
        fastbp.save(estimator, tmp_path / "root.fastbp")

    quiet(model.set_callbacks(Hook(on_epoch, on_root)).fit, X, y)
    assert [n for _, n, _ in saved] == list(range(1, len(saved) + 1)) and saved
    for path, n_iter, coefs in saved:
        loaded = fastbp.load(path)
        assert loaded.n_iter_ == n_iter
        for a, b in zip(loaded.coefs_, coefs):
            np.testing.assert_array_equal(a, b)
    root = fastbp.load(tmp_path / "root.fastbp")
    assert root.n_iter_ == model.n_iter_
    np.testing.assert_array_equal(root.predict_proba(X), model.predict_proba(X))


def test_a_failed_fit_leaves_no_mark(data, tmp_path):
    X, y = data
    model = quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X, y)

    def fail(estimator, fitted, context):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        quiet(model.set_callbacks(Hook(fail)).fit, X, y)
    # Rolled back, and no longer being fitted: it saves.
    fastbp.save(model.set_callbacks(), tmp_path / "m.fastbp")
    assert fastbp.load(tmp_path / "m.fastbp").n_iter_ == 2


# ------------------------------------------- 2: damaged skops content


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    X, y = data
    model = quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X, y)
    path = tmp_path_factory.mktemp("saved") / "model.fastbp"
    fastbp.save(model, path)
    return path


def edited(saved, path, edit_schema=None, edit_members=None):
    """The file ``saved`` with its skops archive edited as a reviewer would
    (:func:`support.edited_archive`)."""
    return edited_archive(saved, path, edit_schema, edit_members)


def nodes(node, where):
    """The schema's nodes for which ``where(node)`` holds, depth first."""
    if isinstance(node, dict):
        if where(node):
            yield node
        for value in node.values():
            yield from nodes(value, where)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value, where)


def _series(schema):
    return next(nodes(schema, lambda n: n.get("__class__") == "Series"))


def _drop_values(schema):
    del _series(schema)["content"]["content"]["values"]


def _int_values(schema):
    _series(schema)["content"]["content"]["values"] = {
        "__class__": "int", "__module__": "builtins", "__loader__": "JsonNode",
        "content": "5", "is_json": True, "__id__": 1}


def _bad_json(schema):
    node = next(nodes(schema, lambda n: n.get("__loader__") == "JsonNode"
                      and n.get("content") not in ("null", None)))
    node["content"] = "{not json"


def _npy_names(members):
    return sorted(name for name in members if name.endswith(".npy"))


def _truncated_npy(members):
    name = _npy_names(members)[0]
    members[name] = members[name][:20]


def _huge_npy(members):
    name = _npy_names(members)[0]
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    members[name] = buf.getvalue() + b"\0" * 64


@pytest.mark.parametrize("schema_edit, member_edit, detail", [
    (_drop_values, None, r"Series\) holds a dict without values"),
    (_int_values, None, r"Series\) holds values int"),
    (_bad_json, None, "JSONDecodeError"),
    (None, _truncated_npy, r"array \d+\.npy has no valid \.npy header"),
    (None, _huge_npy, r"declares shape \(1000000000000,\) of float64"),
])
def test_damaged_skops_content_is_a_value_error_naming_the_path(
        saved, tmp_path, schema_edit, member_edit, detail):
    path = edited(saved, tmp_path / "edited.fastbp", schema_edit, member_edit)
    with pytest.raises(ValueError, match=rf"^{__import__('re').escape(str(path))} is "
                       rf"damaged: .*{detail}"):
        fastbp.load(path)


def test_the_unedited_copy_loads(saved, tmp_path, data):
    # The editing itself keeps a file loadable: the errors above are the edits'.
    X, _ = data
    path = edited(saved, tmp_path / "same.fastbp")
    np.testing.assert_array_equal(fastbp.load(path).predict_proba(X),
                                  fastbp.load(saved).predict_proba(X))


def test_series_and_progress_refuse_a_state_that_is_not_theirs():
    from fastbp.training.progress import Progress, Series

    with pytest.raises(ValueError, match="Series"):
        Series().__setstate__({"values": np.array(["a"])})
    series = Series()
    series.__setstate__({"values": [1.0, 2.0]})
    np.testing.assert_array_equal(series.view(), [1.0, 2.0])
    progress = object.__new__(Progress)
    with pytest.raises(ValueError, match="history 'loss' is not a sequence of numbers"):
        progress.__setstate__({"history": {"loss": 3}})
    with pytest.raises(ValueError, match="holds a list, not its attributes"):
        progress.__setstate__([])


# ------------------------------- 3: models that predict, saved as they predict


def _saved_and_loaded(model, tmp_path):
    fastbp.save(model, tmp_path / "m.fastbp")
    return fastbp.load(tmp_path / "m.fastbp")


def _assert_same_predictions(loaded, model, X):
    a, b = loaded.predict_proba(X), model.predict_proba(X)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def float32_model(data):
    X, y = data
    return quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X.astype(np.float32), y)


def test_a_memory_mapped_model_saves(data, tmp_path):
    import joblib

    X, y = data
    model = quiet(MLPClassifier((6,), normalization="batch", max_iter=2,
                                random_state=0).fit, X, y)
    joblib.dump(model, tmp_path / "m.joblib")
    mapped = joblib.load(tmp_path / "m.joblib", mmap_mode="r")
    assert isinstance(mapped.coefs_[0], np.memmap)
    loaded = _saved_and_loaded(mapped, tmp_path)
    _assert_same_predictions(loaded, mapped, X)
    assert type(loaded.coefs_[0]) is np.ndarray and type(loaded.classes_) is np.ndarray
    # The model in memory is as it was.
    assert isinstance(mapped.coefs_[0], np.memmap)
    assert isinstance(mapped._optimizer.state_1, np.memmap)
    # And the loaded copy trains on as the mapped one does.
    a = quiet(loaded.partial_fit, X, y)
    b = quiet(mapped.partial_fit, X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_a_float64_output_layer_on_a_float32_model_saves(float32_model, data, tmp_path):
    X, _ = data
    model = float32_model
    model.coefs_[-1] = model.coefs_[-1].astype(np.float64) * 1.1
    loaded = _saved_and_loaded(model, tmp_path)
    _assert_same_predictions(loaded, model, X.astype(np.float32))
    assert model.coefs_[-1].dtype == np.float64  # unchanged in memory
    assert fastbp.persistence.read_metadata(tmp_path / "m.fastbp")["dtypes"] == ["float32"]


def test_big_endian_weights_save(float32_model, data, tmp_path):
    X, _ = data
    model = float32_model
    model.coefs_ = [c.astype(">f4") for c in model.coefs_]
    model.intercepts_ = [b.astype(">f4") for b in model.intercepts_]
    loaded = _saved_and_loaded(model, tmp_path)
    _assert_same_predictions(loaded, model, X.astype(np.float32))
    assert not model.coefs_[0].dtype.isnative  # unchanged in memory
    assert loaded.coefs_[0].dtype == np.float32 and loaded.coefs_[0].dtype.isnative


def test_weights_in_a_tuple_or_a_list_save(float32_model, data, tmp_path):
    X, _ = data
    model = float32_model
    model.coefs_ = tuple(model.coefs_)
    model.intercepts_[1] = model.intercepts_[1].tolist()
    loaded = _saved_and_loaded(model, tmp_path)
    _assert_same_predictions(loaded, model, X.astype(np.float32))
    assert type(model.coefs_) is tuple and type(model.intercepts_[1]) is list
    assert type(loaded.coefs_) is list and type(loaded.intercepts_[1]) is np.ndarray


# ------------------------------------- 4: no import for a refused file


def test_a_refused_file_imports_no_experimental_module(saved, data, tmp_path):
    X, y = data

    def rename(schema):
        schema["__module__"] = "sklearn.experimental.enable_halving_search_cv"
        schema["__class__"] = "NoSuchThing"

    forged = edited(saved, tmp_path / "forged.fastbp", rename)
    pipe = quiet(make_pipeline(StandardScaler(), MLPClassifier((6,), max_iter=2,
                                                                random_state=0)).fit, X, y)
    fastbp.save(pipe, tmp_path / "pipe.fastbp")
    expected = pipe.predict_proba(X[:5]).tolist()
    code = textwrap.dedent(f"""
        import json, sys
        import fastbp, sklearn.model_selection
        try:
            fastbp.load({str(forged)!r})
        except ValueError as exc:
            refused = "holds types that fastbp does not load" in str(exc)
        else:
            refused = False
        halving = "HalvingGridSearchCV" in vars(sklearn.model_selection)
        # (Importing skops imports sklearn.experimental itself, not its enablers.)
        experimental = [m for m in sys.modules if m.startswith("sklearn.experimental.enable")]
        # scikit-learn's classes in its private modules still load.
        pipe = fastbp.load({str(tmp_path / "pipe.fastbp")!r})
        print(json.dumps([refused, halving, experimental,
                          pipe.predict_proba({X[:5].tolist()!r}).tolist()]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    refused, halving, experimental, proba = json.loads(proc.stdout.splitlines()[-1])
    assert refused and not halving and experimental == []
    assert proba == expected


@pytest.mark.parametrize("name", [
    "sklearn.experimental.enable_halving_search_cv.NoSuchThing",
    "sklearn.utils.tests.test_pprint.LogisticRegression",
    "sklearn.conftest.NoSuchThing",
    "sklearn.__check_build.NoSuchThing",
])
def test_allowed_refuses_names_in_modules_it_does_not_import(name):
    import sys

    from fastbp.persistence.trust import _allowed

    module = name.rpartition(".")[0]
    was_imported = module in sys.modules
    assert not _allowed(name)
    assert (module in sys.modules) == was_imported


@pytest.mark.parametrize("name", [
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._split.KFold",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.metrics._classification.accuracy_score",
])
def test_allowed_still_allows_scikit_learns_classes(name):
    from fastbp.persistence.trust import _allowed

    assert _allowed(name)
