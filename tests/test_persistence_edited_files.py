"""fix-187: model files edited by hand (their checksum recomputed) that
fastbp.load accepted, and that failed later, deep inside predict,
partial_fit or the command line."""

import hashlib
import json
import re
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier, MLPRegressor



def edited_copy(saved, path, edit):
    """A copy at ``path`` of the fastbp file ``saved`` whose object
    ``edit(obj)`` changed (or replaced, where it returns one), rebuilt with
    skops and its checksum recomputed: it passes the integrity check, as
    the reviewer's files did."""
    import skops.io as sio

    with zipfile.ZipFile(saved) as zf:
        meta = json.loads(zf.read("fastbp.json"))
        payload = zf.read("model.skops")
    obj = sio.loads(payload, trusted=sio.get_untrusted_types(data=payload))
    replaced = edit(obj)
    if replaced is not None:
        obj = replaced
    payload = sio.dumps(obj)
    # The metadata names the object it describes, as save writes it (load
    # cross-checks the type since fix-310): an edit that replaces the object
    # must name the new one to reach the checks these tests are about.
    meta["type"] = type(obj).__name__
    meta["sha256"] = hashlib.sha256(payload).hexdigest()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fastbp.json", json.dumps(meta))
        zf.writestr("model.skops", payload)
    return path


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _fit(cls, X, y, **kw):
    params = dict(hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**params).fit(X, y)


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A batch-normalised classifier trained with Adam, saved."""
    X, y = data
    path = tmp_path_factory.mktemp("saved") / "m.fastbp"
    fastbp.save(_fit(MLPClassifier, X, y, normalization="batch", solver="adam"), path)
    return path


def _delete(name):
    def edit(model):
        del model.__dict__[name]
    return edit


# ---------------------------------------------------------------- finding 1

@pytest.mark.parametrize("name", [
    "running_mean_", "running_var_", "normalization_scales_", "normalization_shifts_",
    "_normalization", "_residual", "n_outputs_", "n_layers_", "_activations",
    "out_activation_", "n_features_in_", "_optimizer", "intercepts_"])
def test_a_fitted_attribute_deleted_is_refused_at_load(saved, tmp_path, data, name):
    # Before: load succeeded, and predict raised "AttributeError:
    # 'MLPClassifier' object has no attribute ..." (the checks read a
    # missing attribute as its default).
    path = edited_copy(saved, tmp_path / "e.fastbp", _delete(name))
    with pytest.raises(ValueError, match=f"e.fastbp holds an MLPClassifier whose fitted "
                                         f"state is inconsistent: .*missing .*{name}"):
        fastbp.load(path)


@pytest.mark.parametrize("name", [
    "running_mean_", "running_var_", "normalization_scales_", "normalization_shifts_"])
def test_statistics_deleted_from_a_model_without_normalization_are_refused(
        data, tmp_path, name):
    # The reviewer's case: the check read a missing list as the empty one a
    # model without normalization holds, and predict raised AttributeError.
    X, y = data
    fastbp.save(_fit(MLPClassifier, X, y), tmp_path / "m.fastbp")
    path = edited_copy(tmp_path / "m.fastbp", tmp_path / "e.fastbp", _delete(name))
    with pytest.raises(ValueError, match=f"inconsistent: it is missing the fitted "
                                         f"attribute\\(s\\) {name}, "):
        fastbp.load(path)


def test_a_model_without_coefs_is_refused_as_unfitted_or_incomplete(saved, tmp_path):
    # Before: it loaded, and predict raised NotFittedError, though save
    # refuses an unfitted model.
    path = edited_copy(saved, tmp_path / "e.fastbp", _delete("coefs_"))
    with pytest.raises(ValueError, match="unfitted or incomplete model: it has "
                                         "intercepts_, .* but no coefs_"):
        fastbp.load(path)


def test_weights_set_by_hand_still_save_and_load(tmp_path):
    # What predict fills in for weights set by hand is no missing attribute.
    rng = np.random.default_rng(0)
    model = MLPRegressor(hidden_layer_sizes=(3,))
    model.coefs_ = [rng.normal(size=(4, 3)), rng.normal(size=(3, 1))]
    model.intercepts_ = [np.zeros(3), np.zeros(1)]
    fastbp.save(model, tmp_path / "h.fastbp")
    X = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(fastbp.load(tmp_path / "h.fastbp").predict(X),
                                  model.predict(X))


def test_a_search_template_without_coefs_still_loads(data, tmp_path):
    from sklearn.model_selection import GridSearchCV

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=1,
                                            random_state=0),
                              {"alpha": [1e-4, 1e-3]}, cv=2).fit(X, y)
    fastbp.save(search, tmp_path / "s.fastbp")
    loaded = fastbp.load(tmp_path / "s.fastbp")
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


# ---------------------------------------------------------------- finding 2

def _set_optimizer(name, value):
    def edit(model):
        setattr(model._optimizer, name, value)
    return edit


@pytest.mark.parametrize("name, value, message", [
    # Before: a Numba TypingError after compiling for a str, an
    # OverflowError, a DivergenceError blaming the learning rate.
    ("t", "x", "t is 'x'"),
    ("t", 2 ** 70, "t is 1180591620717411303424"),
    ("t", -1e6, "t is -1000000.0"),
    ("t", -1, "t is -1"),
    ("t", True, "t is True"),
    # Before: a TypeError in the schedule.
    ("epoch", "x", "epoch is 'x'"),
    ("epoch", -3, "epoch is -3"),
    # Before: a TypeError inside training.
    ("rng_state", None, "rng_state is None"),
    ("rng_state", np.float64(3), "rng_state is np.float64\\(3.0\\)"),
    ("rng_state", np.zeros(2, np.uint64), "rng_state is"),
    ("learning_rate", float("nan"), "learning_rate is nan"),
    ("learning_rate", "x", "learning_rate is 'x'"),
    ("beta_1", None, "beta_1 is None"),
    ("lr_schedule", "bogus", "lr_schedule is 'bogus'"),
    ("step_size", 0, "step_size is 0"),
    ("nesterov", "yes", "nesterov is 'yes'"),
])
def test_an_edited_optimizer_state_is_refused_at_load(saved, tmp_path, name, value,
                                                      message):
    path = edited_copy(saved, tmp_path / "e.fastbp", _set_optimizer(name, value))
    with pytest.raises(ValueError, match=f"inconsistent: The optimizer state's "
                                         f"{message}"):
        fastbp.load(path)


@pytest.mark.parametrize("name, value", [
    ("t_", "x"), ("t_", -1), ("t_", 1.5), ("n_iter_", "x"), ("n_iter_", True),
    ("n_iter_", np.int64(-2)), ("best_loss_", None), ("best_loss_", "x"),
    ("best_loss_", float("nan"))])
def test_edited_public_training_counts_are_refused_at_load(saved, tmp_path, name, value):
    # Before: they loaded, and were shown as the model's until its next fit.
    path = edited_copy(saved, tmp_path / "e.fastbp",
                       lambda model: setattr(model, name, value))
    with pytest.raises(ValueError, match=re.escape(f"inconsistent: {name} is {value!r}")):
        fastbp.load(path)


@pytest.mark.parametrize("name, value", [
    ("t", "x"), ("n_iter", -1), ("best_loss", None), ("no_improvement_count", 0.5)])
def test_edited_counts_of_the_training_record_are_refused_at_load(saved, tmp_path, name,
                                                                  value):
    path = edited_copy(saved, tmp_path / "e.fastbp",
                       lambda model: setattr(model._progress, name, value))
    with pytest.raises(ValueError, match=re.escape(f"inconsistent: the training record's "
                                                   f"{name} is {value!r}")):
        fastbp.load(path)


@pytest.mark.parametrize("kw", [dict(solver="sgd", early_stopping=True),
                                dict(solver="lbfgs"),
                                dict(solver="adam", learning_rate="step")])
def test_legitimate_training_states_load_and_continue(data, tmp_path, kw):
    # best_loss_ None (early stopping), no best_loss_ at all (lbfgs), NumPy
    # integers for the counts: as fits set them.
    X, y = data
    model = _fit(MLPClassifier, X, y, **kw)
    if model.__dict__.get("_optimizer") is not None:
        model._optimizer.t = np.int64(model._optimizer.t)
        model._optimizer.epoch = np.int32(model._optimizer.epoch)
    fastbp.save(model, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if kw["solver"] == "adam":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded.partial_fit(X, y)
            model.partial_fit(X, y)
        assert (loaded.n_iter_, loaded.t_) == (model.n_iter_, model.t_)
        np.testing.assert_array_equal(loaded.coefs_[0], model.coefs_[0])


# ---------------------------------------------------------------- finding 3

@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    import pandas as pd

    from fastbp.cli import main

    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"age": rng.integers(18, 80, n),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    frame["churn"] = np.where(frame.age + rng.normal(0, 10, n) > 50, "yes", "no")
    frame.to_csv(folder / "c.csv", index=False)
    assert main(["train", "--data", str(folder / "c.csv"), "--target", "churn",
                 "--epochs", "2", "--quiet", "--model-out", str(folder / "c.fastbp")]) == 0
    return folder / "c.fastbp", folder / "c.csv"


def _rename_preprocess(pipe):
    pipe.steps[0] = ("prep", pipe.steps[0][1])


def _bare_model(pipe):
    model = pipe.steps[-1][1]
    model.fastbp_target_ = "churn"
    return model


def _set(name, value):
    def edit(pipe):
        setattr(pipe, name, value)
    return edit


@pytest.mark.parametrize("edit, message", [
    # Before: KeyError 'preprocess' with a traceback (exit 1).
    (_rename_preprocess, "its steps are \\['prep', 'model'\\], not \\['preprocess', "
                         "'model'\\]"),
    # Before: AttributeError "no attribute 'steps'" with a traceback.
    (_bare_model, "what it holds is not a Pipeline but MLPClassifier"),
    # Before: "Value after * must be an iterable, not int".
    (_set("fastbp_marks_missing_", 5), "fastbp_marks_missing_ is 5, not a list of column "
                                       "names"),
    # Before: "could not convert string to float: 'yes'".
    (_set("fastbp_task_", "bogus"), "fastbp_task_ is 'bogus', not 'classification' or "
                                    "'regression'"),
    (_set("fastbp_task_", "regression"), "fastbp_task_ 'regression' does not fit its "
                                         "MLPClassifier"),
    (_set("fastbp_target_", 3), "fastbp_target_ is 3, not a column name"),
])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_an_edited_cli_model_is_a_one_line_error(cli_model, tmp_path, capsys, edit,
                                                 message, command):
    from fastbp.cli import main

    path, data = cli_model
    edited = edited_copy(path, tmp_path / "e.fastbp", edit)
    args = [command, "--model", str(edited), "--data", str(data)]
    if command == "predict":
        args += ["--out", str(tmp_path / "p.csv")]
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1 and err.endswith(lines[0] + "\n"), err
    assert "Traceback" not in err
    assert "was not written by 'fastbp train' (or was changed since)" in lines[0]
    assert re.search(message, lines[0]), lines[0]


def test_an_unedited_cli_model_still_predicts(cli_model, tmp_path, capsys):
    from fastbp.cli import main

    path, data = cli_model
    copy = edited_copy(path, tmp_path / "same.fastbp", lambda pipe: None)
    assert main(["predict", "--model", str(copy), "--data", str(data),
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().startswith("churn\n")
