"""fastbp.save / fastbp.load: pickle-free persistence.

Round trips in a fresh process for every solver, the toolkit options and
both dtypes, and for a Pipeline: the loaded model predicts bit for bit and
continues training exactly as the unsaved one. Damaged, modified and
foreign files are refused with a message that names the problem.
"""

import copy
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPRegressor

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIGS = [
    ("clf", dict(solver="adam")),
    ("clf", dict(solver="sgd", momentum=0.9, nesterovs_momentum=True)),
    ("clf", dict(solver="lbfgs")),
    ("clf", dict(solver="rmsprop", dropout=0.2, normalization="batch")),
    ("clf", dict(solver="adagrad", normalization="layer", hidden_layer_sizes=(6, 6),
                 residual=True)),
    ("clf", dict(solver="adamw", activation="gelu", l1=1e-3, clip_grad_norm=1.0,
                 early_stopping=True, learning_rate="cosine")),
    ("reg", dict(solver="adam", loss="poisson")),
    ("reg", dict(solver="sgd", learning_rate="step", step_size=1)),
]


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def _model(kind, cfg, dtype, X, y):
    kw = dict(hidden_layer_sizes=(7,), max_iter=3, random_state=0)
    kw.update(cfg)
    if kind == "clf":
        return quiet(MLPClassifier(**kw).fit, X.astype(dtype), y)
    return quiet(MLPRegressor(**kw).fit, X.astype(dtype), (y % 3).astype(dtype))


_CHILD_SETUP = """
import json, sys, warnings
import numpy as np
from sklearn.datasets import load_digits
import fastbp
warnings.simplefilter("ignore")
X, y = load_digits(return_X_y=True)
X, y = X[:400] / 16.0, y[:400]
def targets(kind, dtype):
    return y if kind == "clf" else (y % 3).astype(dtype)
"""


def _run_child(code, env=None):
    proc = subprocess.run([sys.executable, "-c", _CHILD_SETUP + textwrap.dedent(code)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_fit_does_not_depend_on_what_the_process_ran_first(data, tmp_path):
    """A fit gives the same model whether or not its process predicted
    first. Entry points share inner kernels, each linked and optimised into
    its caller. Until each entry kept its own copy (internal linkage,
    ``fastbp._link_only.EntryLibrary``), the JIT resolved a loaded
    ``train_epoch`` to the copy of a shared callee that ``predict`` had
    compiled first: float64 batch-norm fits came out 1e-15 apart. Here a
    fresh cache gets the training kernels only; then one process fits, and
    another compiles ``predict`` before it fits."""
    X, y = data
    cfg = dict(solver="rmsprop", dropout=0.2, normalization="batch")
    saved = tmp_path / "first.fastbp"
    fastbp.save(_model("clf", cfg, np.float64, X, y), saved)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    fit = f"""
        est = fastbp.MLPClassifier(hidden_layer_sizes=(7,), max_iter=3, random_state=0,
                                   **{cfg!r}).fit(X, y)
        est.partial_fit(X, y)
        print(json.dumps([w.tolist() for w in est.coefs_ + est.intercepts_]))
    """
    _run_child(fit, env)  # compiles the training kernels into the new cache
    fit_first = _run_child(fit, env)
    predict_first = _run_child(f"fastbp.load({str(saved)!r}).predict(X)\n" +
                               textwrap.dedent(fit), env)
    assert fit_first == predict_first


def test_round_trip_in_a_fresh_process(data, tmp_path):
    """Saved here, loaded in a fresh process: the same predictions. Saved
    in one fresh process after training and loaded in another, training
    continues exactly as it did in the first, without the save.

    (Continuation is compared between two processes that both load their
    kernels from the cache: a process that compiled a kernel itself can
    differ from one that loaded it by one ulp in float64 on the
    normalisation paths, with or without saving.)"""
    X, y = data
    cases = []
    for i, (kind, cfg) in enumerate(CONFIGS):
        for dtype in (np.float32, np.float64):
            est = _model(kind, cfg, dtype, X, y)   # also compiles what the children load
            path = tmp_path / f"m{i}-{np.dtype(dtype).name}.fastbp"
            fastbp.save(est, path)
            cases.append({"i": i, "path": str(path), "kind": kind, "cfg": cfg,
                          "dtype": np.dtype(dtype).name,
                          "expected": est.predict(X.astype(dtype)).tolist(),
                          "continues": est.solver != "lbfgs" and not est.early_stopping})
            if cases[-1]["continues"]:
                quiet(est.partial_fit, X.astype(dtype), y if kind == "clf" else
                      (y % 3).astype(dtype))
    pipe = quiet(make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=3,
                                                               random_state=0)).fit, X, y)
    fastbp.save(pipe, tmp_path / "pipe.fastbp")
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    out = _run_child(f"""
        cases = json.load(open({str(spec)!r}))
        bad = []
        for c in cases:
            if fastbp.load(c["path"]).predict(X.astype(c["dtype"])).tolist() != c["expected"]:
                bad.append(("predict", c["path"]))
        pipe = fastbp.load({str(tmp_path / "pipe.fastbp")!r})
        # Train, save and continue without the save, in this process.
        reference = {{}}
        for c in cases:
            if not c["continues"]:
                continue
            cls = fastbp.MLPClassifier if c["kind"] == "clf" else fastbp.MLPRegressor
            kw = dict(hidden_layer_sizes=(7,), max_iter=3, random_state=0)
            kw.update(c["cfg"])
            if "hidden_layer_sizes" in kw:
                kw["hidden_layer_sizes"] = tuple(kw["hidden_layer_sizes"])
            Xd = X.astype(c["dtype"])
            est = cls(**kw).fit(Xd, targets(c["kind"], c["dtype"]))
            fastbp.save(est, c["path"] + ".child")
            est.partial_fit(Xd, targets(c["kind"], c["dtype"]))
            reference[c["path"]] = [w.tolist() for w in est.coefs_ + est.intercepts_]
        print(json.dumps({{"bad": bad, "pipe": pipe.predict(X).tolist(),
                           "reference": reference}}))
    """)
    assert out["bad"] == []
    assert out["pipe"] == pipe.predict(X).tolist()
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps(out["reference"]))
    again = _run_child(f"""
        reference = json.load(open({str(reference)!r}))
        bad = []
        for c in json.load(open({str(spec)!r})):
            if not c["continues"]:
                continue
            est = fastbp.load(c["path"] + ".child")
            est.partial_fit(X.astype(c["dtype"]), targets(c["kind"], c["dtype"]))
            if [w.tolist() for w in est.coefs_ + est.intercepts_] != reference[c["path"]]:
                bad.append(c["path"])
        print(json.dumps({{"bad": bad, "n": len(reference)}}))
    """)
    assert again["n"] == 12 and again["bad"] == []


def test_warm_start_after_load_equals_uninterrupted(data, tmp_path):
    X, y = data
    est = _model("clf", dict(solver="adam"), np.float64, X, y)
    fastbp.save(est, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    for model in (est, loaded):
        model.set_params(warm_start=True, max_iter=4)
        quiet(model.fit, X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, loaded.coefs_ + loaded.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert est.loss_curve_ == loaded.loss_curve_
    assert est.t_ == loaded.t_


def test_grid_search_result_round_trips(data, tmp_path):
    from sklearn.model_selection import GridSearchCV

    X, y = data
    search = quiet(GridSearchCV(MLPClassifier(max_iter=2, random_state=0),
                                {"hidden_layer_sizes": [(4,), (6,)]}, cv=2).fit, X, y)
    fastbp.save(search, tmp_path / "s.fastbp")
    loaded = fastbp.load(tmp_path / "s.fastbp")
    np.testing.assert_array_equal(loaded.predict_proba(X), search.predict_proba(X))
    assert loaded.best_params_ == search.best_params_


def test_metadata_records_versions_and_dtype(data, tmp_path):
    import sklearn

    X, y = data
    fastbp.save(_model("clf", {}, np.float32, X, y), tmp_path / "m.fastbp")
    meta = fastbp.persistence.read_metadata(tmp_path / "m.fastbp")
    assert meta["fastbp"] == fastbp.__version__
    assert meta["scikit-learn"] == sklearn.__version__
    assert meta["dtypes"] == ["float32"]
    with zipfile.ZipFile(tmp_path / "m.fastbp") as zf:
        assert sorted(zf.namelist()) == ["fastbp.json", "model.skops"]


@pytest.fixture
def saved(data, tmp_path):
    X, y = data
    path = tmp_path / "m.fastbp"
    fastbp.save(_model("clf", {}, np.float64, X, y), path)
    return path


def test_a_regressor_whose_loss_was_set_after_its_fit_saves_and_predicts_as_trained(
        data, tmp_path):
    # helper-70: the state check compared out_activation_ with the output
    # the loss *parameter* needs, so set_params(loss="poisson") on a fitted
    # squared-error model made save refuse it as inconsistent, though it
    # predicts (with the output it was trained with) and pickles.
    X, y = data
    reg = _model("reg", {}, np.float64, X, y.astype(float))
    expected = reg.predict(X)
    reg.set_params(loss="poisson")
    fastbp.save(reg, tmp_path / "r.fastbp")
    loaded = fastbp.load(tmp_path / "r.fastbp")
    assert loaded.out_activation_ == "identity" and loaded.loss == "poisson"
    np.testing.assert_array_equal(loaded.predict(X), expected)


def test_truncated_file_is_refused(saved):
    blob = saved.read_bytes()
    for size in (0, 10, len(blob) // 2, len(blob) - 5):
        saved.write_bytes(blob[:size])
        with pytest.raises(ValueError, match="not a fastbp model file, or it is truncated"):
            fastbp.load(saved)


def write_model_file(path, meta, payload):
    """A fastbp file at ``path``: ``meta`` (a dict, or its JSON as read from
    another file) and the skops ``payload``, as forged files are built."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fastbp.json", meta if isinstance(meta, (bytes, str)) else json.dumps(meta))
        zf.writestr("model.skops", payload)
    return path


def rewritten_model_file(saved, path, obj):
    """A fastbp file at ``path`` holding ``obj`` (written by skops) under the
    metadata of the file ``saved``, its checksum made to match: a file edited
    by someone who knows the format."""
    import hashlib

    import skops.io as sio

    payload = sio.dumps(obj)
    meta = json.loads(zipfile.ZipFile(saved).read("fastbp.json"))
    meta["sha256"] = hashlib.sha256(payload).hexdigest()
    return write_model_file(path, meta, payload)


def test_modified_model_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        meta, payload = zf.read("fastbp.json"), bytearray(zf.read("model.skops"))
    payload[len(payload) // 2] ^= 0xFF
    forged = write_model_file(tmp_path / "forged.fastbp", meta, bytes(payload))
    with pytest.raises(ValueError, match="damaged or was modified: the checksum"):
        fastbp.load(forged)


@pytest.mark.parametrize("edit, message", [
    (lambda m: setattr(m, "out_activation_", "bogus"), "out_activation_ 'bogus' is not one of"),
    (lambda m: setattr(m, "activation", "bogus"), "The 'activation' parameter"),
    (lambda m: setattr(m, "_activations", ["bogus"]), "activations \\['bogus'\\]"),
    (lambda m: m.coefs_.__setitem__(1, m.coefs_[1][:2]), "layer 2's coefs_ \\(2, 10\\)"),
    (lambda m: m.coefs_.__setitem__(0, m.coefs_[0].astype(np.int64)),
     "all float32 or all float64, not \\['float64', 'int64'\\]"),
    (lambda m: setattr(m, "n_layers_", 5), "n_layers_ is 5, and the weights give 3"),
    # helper-38: each loaded, then predicted wrongly or failed inside.
    (lambda m: setattr(m, "_residual", [True]), "skip connections \\[True\\] do not fit"),
    (lambda m: setattr(m, "out_activation_", "identity"),
     "out_activation_ 'identity' does not fit 'multiclass' targets"),
    (lambda m: setattr(m, "classes_", m.classes_ + 1), "differ from the labels the model"),
    (lambda m: setattr(m, "running_mean_", [np.zeros(3)]), "running_mean_ holds \\[\\(3,\\)\\]"),
    (lambda m: m.coefs_.__setitem__(0, m.coefs_[0].astype(">f8")), "byte order"),
    # helper-45: the optimizer state, which the kernels index unchecked. A
    # short state_2 loaded, and the next partial_fit corrupted the heap.
    (lambda m: setattr(m._optimizer, "state_2", m._optimizer.state_2[:3].copy()),
     "state_2 is an array of shape \\(3,\\) and dtype float64, where its 535 "
     "parameters need 535 values of float64"),
    (lambda m: setattr(m._optimizer, "state_1", m._optimizer.state_1.astype(np.float32)),
     "state_1 is an array of shape \\(535,\\) and dtype float32"),
    (lambda m: setattr(m._optimizer, "code", 99), "names solver 'adam' with code 99"),
    (lambda m: setattr(m, "_optimizer", {"state_1": None}), "_optimizer is a dict"),
    (lambda m: setattr(m._progress, "loss_curve", None), "training record"),
    (lambda m: setattr(m._progress.monitor, "first_sq", np.zeros(7)),
     "gradient monitor's record does not fit"),
])
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_edited_state_with_a_matching_checksum_is_refused(data, tmp_path, edit, message,
                                                          in_pipeline):
    # Before, load succeeded and predict failed inside: KeyError: 'bogus', a
    # shape error in a product, or "data type not inexact".
    import hashlib

    import skops.io as sio

    X, y = data
    est = _model("clf", {}, np.float64, X, y)
    edit(est)
    obj = est
    if in_pipeline:
        obj = make_pipeline(StandardScaler().fit(X), est)
    payload = sio.dumps(obj)
    meta = {"format": "fastbp-model", "format_version": 1, "fastbp": fastbp.__version__,
            "scikit-learn": __import__("sklearn").__version__,
            "sha256": hashlib.sha256(payload).hexdigest()}
    path = write_model_file(tmp_path / "edited.fastbp", meta, payload)
    with pytest.raises(ValueError, match=f"edited.fastbp holds an MLPClassifier whose fitted "
                                         f"state is inconsistent: .*{message}"):
        fastbp.load(path)


def test_a_negative_running_variance_is_refused_at_save_and_load(data, tmp_path):
    # helper-130 (found by helper-121): a negative running_var_ saved and
    # loaded, and predict then blamed X ("outputs overflowed ... X holds
    # values too large"): batch norm took the square root of -1.
    X, y = data
    est = _model("clf", dict(normalization="batch", activation="tanh"), np.float64, X, y)
    fastbp.save(est, tmp_path / "good.fastbp")
    est.running_var_[0][2] = -1.0
    with pytest.raises(ValueError, match="cannot save this MLPClassifier: its state is "
                                         "inconsistent.*running_var_ holds negative "
                                         "variances \\(in hidden layer\\(s\\) 1\\)"):
        fastbp.save(est, tmp_path / "neg.fastbp")
    path = rewritten_model_file(tmp_path / "good.fastbp", tmp_path / "neg.fastbp", est)
    with pytest.raises(ValueError, match="neg.fastbp holds an MLPClassifier whose fitted "
                                         "state is inconsistent: running_var_ holds negative"):
        fastbp.load(path)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_bias_before_a_normalised_layer_is_refused_at_save_and_load(data, tmp_path, norm):
    # helper-141 (found by helper-132): intercepts_[0] of a normalised
    # layer, which the kernels ignore, was saved and loaded edited, and the
    # loaded model predicted as if it were zero.
    X, y = data
    est = _model("clf", dict(normalization=norm), np.float64, X, y)
    fastbp.save(est, tmp_path / "good.fastbp")
    est.intercepts_[0] = np.linspace(-50.0, 50.0, 7)
    bias = rf"intercepts_\[0\] holds non-zero values.*\(normalization='{norm}'\)"
    with pytest.raises(ValueError, match="cannot save this MLPClassifier: its state is "
                                         f"inconsistent.*{bias}"):
        fastbp.save(est, tmp_path / "bias.fastbp")
    path = rewritten_model_file(tmp_path / "good.fastbp", tmp_path / "bias.fastbp", est)
    with pytest.raises(ValueError, match="bias.fastbp holds an MLPClassifier whose fitted "
                                         f"state is inconsistent: {bias}"):
        fastbp.load(path)
    # A loaded model's arrays are its own, not the kernels' buffers: an
    # edit in place is refused where they are packed.
    loaded = fastbp.load(tmp_path / "good.fastbp")
    loaded.intercepts_[0][:] = 1.0
    with pytest.raises(ValueError, match=bias):
        loaded.predict(X)
    with pytest.raises(ValueError, match=bias):
        quiet(loaded.partial_fit, X, y)


def test_a_model_saved_before_the_monitor_kept_a_list_loads_and_trains(data, tmp_path,
                                                                       monkeypatch):
    # helper-50: files saved before 8ad0d10 hold the gradient monitor's
    # small_epochs as an integer array; the state check refused every such
    # adam model as "edited". They are converted as they load.
    X, y = data
    est = _model("clf", {}, np.float64, X, y)
    est._progress.monitor.small_epochs = np.zeros(2, dtype=np.int64)  # as those files hold
    with monkeypatch.context() as m:  # save as fastbp then did, without today's check
        m.setattr(MLPClassifier, "_check_loaded_state", lambda self: None)
        fastbp.save(est, tmp_path / "old.fastbp")
    loaded = fastbp.load(tmp_path / "old.fastbp")
    assert loaded._progress.monitor.small_epochs == [0, 0]
    loaded.partial_fit(X, y)
    est._progress.monitor.small_epochs = [0, 0]
    est.partial_fit(X, y)
    for a, b in zip(loaded.coefs_, est.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("edit, message", [
    (lambda m: setattr(m._optimizer, "state_2", m._optimizer.state_2[:3].copy()),
     "state_2 is an array of shape \\(3,\\)"),
    (lambda m: setattr(m._optimizer, "state_1", list(m._optimizer.state_1)), "state_1 is list"),
    (lambda m: setattr(m._progress.monitor, "first_sq", np.zeros(7)),
     "gradient monitor's record does not fit"),
])
def test_partial_fit_refuses_training_state_that_does_not_fit(data, edit, message):
    # The kernels index this state unchecked: a short state_2 set by hand
    # (or loaded before load checked it) corrupted the heap. The model is
    # left as it was.
    X, y = data
    est = _model("clf", {}, np.float64, X, y)
    edit(est)
    weights = [W.copy() for W in est.coefs_]
    with pytest.raises(ValueError, match=message):
        est.partial_fit(X, y)
    for W, before in zip(est.coefs_, weights):
        np.testing.assert_array_equal(W, before)


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_training_goes_on_from_memory_mapped_state(data, tmp_path, mode):
    # helper-130 (found by helper-121): a model whose arrays are np.memmap
    # (joblib.load with mmap_mode, or joblib.Parallel sending a model
    # whose arrays exceed max_nbytes to its workers) could not partial_fit:
    # "state_1 is an array of shape (n,) and dtype float64, where its n
    # parameters need n values of float64", the type refused. Training now
    # goes on from private copies; the files are never written.
    X, y = data
    est = _model("clf", dict(normalization="batch", solver="adam"), np.float64, X, y)
    expected = copy.deepcopy(est).partial_fit(X, y)
    files = {}

    def mapped(name, a):
        path = tmp_path / f"{name}.npy"
        np.save(path, a)
        files[path] = path.read_bytes()
        return np.load(path, mmap_mode=mode)

    def mapped_model():
        model = copy.deepcopy(est)
        model._optimizer.state_1 = mapped("state_1", est._optimizer.state_1)
        model._optimizer.state_2 = mapped("state_2", est._optimizer.state_2)
        for name in ("coefs_", "intercepts_", "running_mean_", "running_var_"):
            setattr(model, name, [mapped(f"{name}{i}", a)
                                  for i, a in enumerate(getattr(est, name))])
        return model

    model = mapped_model().partial_fit(X, y)
    for a, b in zip(model.coefs_ + model.running_var_,
                    expected.coefs_ + expected.running_var_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model._optimizer.state_2, expected._optimizer.state_2)
    expected = quiet(copy.deepcopy(est).set_params(warm_start=True, max_iter=2).fit, X, y)
    model = quiet(mapped_model().set_params(warm_start=True, max_iter=2).fit, X, y)
    for a, b in zip(model.coefs_ + model.running_var_,
                    expected.coefs_ + expected.running_var_):
        np.testing.assert_array_equal(a, b)
    assert all(path.read_bytes() == content for path, content in files.items())


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_a_model_joblib_loads_memory_mapped_trains_on(data, tmp_path, mode):
    # helper-121's repro, which still failed after the optimizer state was
    # taken (helper-130): joblib.load maps every array, the gradient
    # monitor's record too, which was refused as "training state was edited".
    import joblib

    X, y = data
    est = _model("clf", dict(solver="adam"), np.float64, X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    content = path.read_bytes()
    model = joblib.load(path, mmap_mode=mode)
    assert isinstance(model._progress.monitor.first_sq, np.memmap)
    model.partial_fit(X, y)
    expected = copy.deepcopy(est).partial_fit(X, y)
    for a, b in zip(model.coefs_ + model.intercepts_, expected.coefs_ + expected.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert path.read_bytes() == content


def test_a_pipeline_with_an_imputer_round_trips(data, tmp_path):
    # helper-38: SimpleImputer keeps a numpy.dtype, which save refused.
    from sklearn.impute import SimpleImputer

    X, y = data
    pipe = quiet(make_pipeline(SimpleImputer(), MLPClassifier((4,), max_iter=2,
                                                              random_state=0)).fit, X, y)
    fastbp.save(pipe, tmp_path / "p.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "p.fastbp").predict(X),
                                  pipe.predict(X))


def test_residual_without_hidden_layers_round_trips(data, tmp_path):
    # residual=True with no hidden layer kept one skip-connection flag for
    # zero layers, which load's consistency check then refused as edited.
    X, y = data
    est = quiet(MLPClassifier((), residual=True, max_iter=2, random_state=0).fit, X, y)
    assert est._residual == []
    fastbp.save(est, tmp_path / "m.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "m.fastbp").predict_proba(X),
                                  est.predict_proba(X))


def test_loading_a_directory_names_it(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        fastbp.load(tmp_path)


def test_a_search_whose_template_holds_a_placeholder_loads(data, tmp_path):
    # The grid replaces the template's activation=None: only fitted models
    # are checked.
    from sklearn.model_selection import GridSearchCV

    X, y = data
    search = GridSearchCV(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, activation=None,
                                       random_state=0), {"activation": ["relu", "tanh"]}, cv=2)
    quiet(search.fit, X, (y % 3).astype(float))
    fastbp.save(search, tmp_path / "s.fastbp")
    loaded = fastbp.load(tmp_path / "s.fastbp")
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


def test_untrusted_types_are_refused(saved, tmp_path):
    """A file whose model holds a type outside scikit-learn's, NumPy's and
    fastbp's own (here a forged one, with a matching checksum)."""
    import hashlib

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    payload = sio.dumps(make_pipeline(FunctionTransformer(os.system), MLPClassifier()))
    meta = json.loads(zipfile.ZipFile(saved).read("fastbp.json"))
    meta["sha256"] = hashlib.sha256(payload).hexdigest()
    forged = write_model_file(tmp_path / "evil.fastbp", meta, payload)
    with pytest.raises(ValueError, match="holds types that fastbp does not load.*system"):
        fastbp.load(forged)


@pytest.mark.parametrize("content", [b"hello", pickle.dumps({"a": 1}), b""])
def test_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "x.fastbp"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a fastbp model file"):
        fastbp.load(path)


def test_foreign_zip_is_refused(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="truncated or damaged: the zip archive read from it "
                                         r"has no fastbp.json and model.skops \(it lists "
                                         r"readme.txt\)"):
        fastbp.load(path)


@pytest.mark.parametrize("keep", [3000, -100, -1])
def test_a_truncated_file_is_named_truncated(saved, tmp_path, keep):
    # helper-43: cut short at the end, the file ended in the directory of
    # the skops archive stored inside it, and the message said only that
    # the archive lacked fastbp's members.
    data = open(saved, "rb").read()
    cut = tmp_path / "cut.fastbp"
    cut.write_bytes(data[:keep])
    with pytest.raises(ValueError, match="or it is truncated or damaged"):
        fastbp.load(cut)


def test_newer_format_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        meta, payload = json.loads(zf.read("fastbp.json")), zf.read("model.skops")
    meta["format_version"] = 99
    newer = write_model_file(tmp_path / "newer.fastbp", meta, payload)
    with pytest.raises(ValueError, match="format version 99.*Upgrade fastbp"):
        fastbp.load(newer)


@pytest.mark.parametrize("version", [0, -5, True, "1", None])
def test_a_format_version_fastbp_never_writes_is_refused(saved, tmp_path, version):
    with zipfile.ZipFile(saved) as zf:
        meta, payload = json.loads(zf.read("fastbp.json")), zf.read("model.skops")
    if version is None:
        del meta["format_version"]
    else:
        meta["format_version"] = version
    odd = write_model_file(tmp_path / "odd.fastbp", meta, payload)
    with pytest.raises(ValueError, match="is damaged: its format_version is"):
        fastbp.load(odd)


def test_save_over_a_link_and_a_read_only_file_as_open_would(data, tmp_path):
    # Through a symbolic link to its target (the link stays a link); a
    # read-only file keeps its mode, or is refused where this user could not
    # write it (root can).
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    target = tmp_path / "target.fastbp"
    fastbp.save(est, target)
    link = tmp_path / "link.fastbp"
    link.symlink_to(target)
    before = target.stat().st_mtime_ns
    fastbp.save(est, link)
    assert link.is_symlink() and target.stat().st_mtime_ns >= before
    target.chmod(0o444)
    if os.access(target, os.W_OK):  # root
        fastbp.save(est, target)
        assert target.stat().st_mode & 0o777 == 0o444
    else:
        with pytest.raises(PermissionError, match="exists and is read-only"):
            fastbp.save(est, target)
    np.testing.assert_array_equal(fastbp.load(link).predict(X), est.predict(X))


def test_save_refuses_a_special_file_and_leaves_it_as_it_was(data, tmp_path):
    # Before, the atomic replace put a regular file in the place of a named
    # pipe (and, as root, of /dev/null); a pipe stands for any special file.
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    fifo, link = tmp_path / "pipe.fastbp", tmp_path / "link.fastbp"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    with pytest.raises(OSError, match=f"cannot save to {fifo}: it is a named pipe \\(FIFO\\), "
                                      "not a regular file"):
        fastbp.save(est, fifo)
    with pytest.raises(OSError, match=f"cannot save to {link} \\(a link to {fifo}\\): it is "
                                      "a named pipe"):
        fastbp.save(est, link)
    assert fifo.is_fifo() and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["link.fastbp", "pipe.fastbp"]  # no temporary file


def test_callable_parameters_cannot_be_saved(data, tmp_path):
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2, learning_rate=lambda e, lr: lr).fit, X, y)
    with pytest.raises(TypeError, match="learning_rate is a Python function"):
        fastbp.save(est, tmp_path / "m.fastbp")
    assert not os.path.exists(tmp_path / "m.fastbp")


def test_save_refuses_objects_without_a_fastbp_model(tmp_path):
    with pytest.raises(TypeError, match="holds none"):
        fastbp.save(StandardScaler(), tmp_path / "x.fastbp")


def test_save_refuses_an_unfitted_model(tmp_path):
    from sklearn.exceptions import NotFittedError

    for obj in (MLPClassifier(), make_pipeline(StandardScaler(), MLPRegressor())):
        with pytest.raises(NotFittedError, match="not fitted yet: fastbp.save saves a trained"):
            fastbp.save(obj, tmp_path / "u.fastbp")
    assert not os.listdir(tmp_path)


def test_save_names_the_destination_it_cannot_write(data, tmp_path):
    # Not the temporary file it writes first beside it.
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    with pytest.raises(IsADirectoryError, match=f"cannot save to {tmp_path}: it is a dir"):
        fastbp.save(est, tmp_path)
    missing = tmp_path / "nowhere" / "m.fastbp"
    with pytest.raises(FileNotFoundError, match="the directory .*nowhere does not exist"):
        fastbp.save(est, missing)
    # Not normalised away: the system would refuse the path all the same.
    with pytest.raises(FileNotFoundError, match=r"the directory .*nowhere/\.\. does not"):
        fastbp.save(est, os.path.join(tmp_path, "nowhere", "..", "m.fastbp"))
    assert not os.listdir(tmp_path)


def test_a_file_where_a_directory_should_be_is_named(data, tmp_path):
    # helper-134: save said "the directory .../afile does not exist" of a
    # regular file, and load "no such file".
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    afile = tmp_path / "afile"
    afile.write_text("")
    for path in (afile / "m.fastbp", afile / "sub" / "m.fastbp"):
        with pytest.raises(NotADirectoryError, match=f"cannot save to {path}: {afile} is a "
                                                     "file, not a directory"):
            fastbp.save(est, path)
        with pytest.raises(NotADirectoryError, match=f"cannot load {path}: {afile} is a "
                                                     "file, not a directory"):
            fastbp.load(path)
    assert os.listdir(tmp_path) == ["afile"] and afile.read_text() == ""


def _shift(X):
    return X + 1.0


def _forged_file(tmp_path, schema, name="forged.fastbp"):
    """A fastbp file whose model.skops holds ``schema``, with a matching
    checksum (an attacker computes it too)."""
    import hashlib
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    payload = buffer.getvalue()
    meta = {"format": "fastbp-model", "format_version": 1, "fastbp": fastbp.__version__,
            "scikit-learn": __import__("sklearn").__version__,
            "sha256": hashlib.sha256(payload).hexdigest()}
    return write_model_file(tmp_path / name, meta, payload)


def test_a_file_calling_a_sklearn_function_is_refused(tmp_path):
    """skops calls a constructor node's type while loading: a file naming a
    scikit-learn *function* there must not get it called."""
    marker = tmp_path / "PWNED"
    schema = {"__class__": "check_output", "__module__": "sklearn.utils._testing",
              "__loader__": "ConstructorFromReduceNode",
              "content": {"__class__": "tuple", "__module__": "builtins",
                          "__loader__": "TupleNode",
                          "content": [{"__class__": "list", "__module__": "builtins",
                                       "__loader__": "ListNode",
                                       "content": [{"__class__": "str",
                                                    "__module__": "builtins",
                                                    "__loader__": "JsonNode",
                                                    "content": json.dumps(s), "is_json": True,
                                                    "__id__": i}
                                                   for i, s in enumerate(["touch",
                                                                          str(marker)])],
                                       "__id__": 10}],
                          "__id__": 11},
              "__id__": 12, "protocol": 2, "_skops_version": "0.16.0"}
    path = _forged_file(tmp_path, schema)
    with pytest.raises(ValueError, match="holds types that fastbp does not load.*check_output"):
        fastbp.load(path)
    assert not marker.exists()


def test_callbacks_are_not_saved(data, tmp_path):
    from sklearn.callback import ScoringMonitor

    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2, random_state=0)
                .set_callbacks(ScoringMonitor(scoring="accuracy")).fit, X, y)
    # helper-85: dropped silently, where pickle and clone keep them.
    with pytest.warns(UserWarning, match=r"fastbp.save does not save callbacks "
                                         r"\(MLPClassifier's ScoringMonitor\).*Call "
                                         r"set_callbacks\(\.\.\.\) again after fastbp.load"):
        fastbp.save(est, tmp_path / "m.fastbp")
    assert len(est._skl_callbacks) == 1
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert not hasattr(loaded, "_skl_callbacks")
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    # Nor a Pipeline's (helper-38: save refused the ScoringMonitor's type),
    # which keeps them after saving.
    pipe = make_pipeline(StandardScaler(), MLPClassifier((4,), max_iter=2, random_state=0))
    monitor = ScoringMonitor(scoring="accuracy")
    quiet(pipe.set_callbacks(monitor).fit, X, y)
    with pytest.warns(UserWarning, match="does not save callbacks \\(Pipeline's "
                                         "ScoringMonitor\\)"):
        fastbp.save(pipe, tmp_path / "p.fastbp")
    assert pipe._skl_callbacks == [monitor]
    loaded = fastbp.load(tmp_path / "p.fastbp")
    assert not hasattr(loaded, "_skl_callbacks")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    # None set, or set_callbacks() with none: nothing to say.
    est.set_callbacks()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastbp.save(est, tmp_path / "m.fastbp")
        fastbp.save(loaded, tmp_path / "p.fastbp")


def test_save_refuses_what_load_would_refuse(data, tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    X, y = data
    pipe = quiet(make_pipeline(FunctionTransformer(_shift),
                               MLPClassifier((4,), max_iter=2)).fit, X, y)
    with pytest.raises(TypeError, match="fastbp.load would refuse"):
        fastbp.save(pipe, tmp_path / "p.fastbp")
    assert not (tmp_path / "p.fastbp").exists()


def test_scorer_objects_can_be_saved(data, tmp_path):
    from sklearn.metrics import make_scorer, balanced_accuracy_score

    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0,
                              scoring=make_scorer(balanced_accuracy_score)).fit, X, y)
    fastbp.save(est, tmp_path / "m.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "m.fastbp").predict(X), est.predict(X))


@pytest.mark.parametrize("kind", ["voting", "stacking", "calibrated"])
def test_ensembles_holding_a_model_round_trip(data, tmp_path, kind):
    # helper-45: refused, for their Bunch and _CalibratedClassifier.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier, VotingClassifier

    X, y = data
    model = MLPClassifier((4,), max_iter=3, random_state=0)
    obj = {"voting": lambda: VotingClassifier([("a", model)], voting="soft"),
           "stacking": lambda: StackingClassifier([("a", model)], cv=2),
           "calibrated": lambda: CalibratedClassifierCV(model, cv=2)}[kind]()
    quiet(obj.fit, X, y)
    fastbp.save(obj, tmp_path / "e.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "e.fastbp").predict_proba(X),
                                  obj.predict_proba(X))


def test_metadata_requests_round_trip(data, tmp_path):
    # helper-45: save failed with a RecursionError from deep inside skops
    # for anything holding a routing request (set_fit_request, ...).
    import sklearn

    X, y = data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        est = MLPClassifier((4,), max_iter=2, random_state=0).set_fit_request(
            sample_weight=True).set_score_request(sample_weight="w")
        quiet(est.fit, X, y, sample_weight=w)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             MLPClassifier((4,), max_iter=2, random_state=0)
                             .set_fit_request(sample_weight=True))
        quiet(pipe.fit, X, y, sample_weight=w)
        for obj in (est, pipe):
            fastbp.save(obj, tmp_path / "m.fastbp")
            loaded = fastbp.load(tmp_path / "m.fastbp")
            assert str(loaded.get_metadata_routing()) == str(obj.get_metadata_routing())
            np.testing.assert_array_equal(loaded.predict_proba(X), obj.predict_proba(X))
            assert "_fastbp_metadata_requests" not in vars(obj)  # put back as it was
        # The loaded pipeline routes the weights as the saved one did.
        quiet(loaded.fit, X, y, sample_weight=w)
        for a, b in zip(loaded[-1].coefs_, pipe[-1].coefs_):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("requests", [
    {"fit": {"sample_weight": 3}}, {"bogus": {}}, {"fit": "x"}, ["fit"],
])
def test_edited_metadata_requests_are_refused(saved, tmp_path, requests):
    est = fastbp.load(saved)
    est.__dict__["_fastbp_metadata_requests"] = requests
    path = rewritten_model_file(saved, tmp_path / "r.fastbp", est)
    with pytest.raises(ValueError, match="damaged or was edited: .*metadata routing "
                                         "requests|damaged or was edited: its"):
        fastbp.load(path)


def test_a_file_holding_no_model_is_refused(saved, tmp_path):
    # helper-45: a forged file whose model.skops held a dict loaded as one.
    for content in ({"a": np.arange(3)}, np.arange(3)):
        path = rewritten_model_file(saved, tmp_path / "none.fastbp", content)
        with pytest.raises(ValueError, match="not a fastbp model or an object holding one"):
            fastbp.load(path)


@pytest.mark.parametrize("name, allowed", [
    ("sklearn.metrics._scorer._PassthroughScorer", True),
    ("sklearn.model_selection._split.KFold", True),
    # helper-45: what those modules import was allowed too; skops may call
    # an allowed type with arguments from the file.
    ("sklearn.metrics._scorer.partial", False),
    ("sklearn.metrics._scorer.Counter", False),
    ("sklearn.model_selection._split.ABCMeta", False),
    ("sklearn.model_selection._split.chain", False),
])
def test_the_allow_list_takes_scorers_and_splitters_defined_there(name, allowed):
    from fastbp.persistence.trust import _allowed

    assert _allowed(name) is allowed


def test_save_refuses_a_state_load_would_refuse(data, tmp_path):
    # helper-62: the file was written, and load refused it, asking whether
    # it had been edited.
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    est.set_params(batch_size=0)
    with pytest.raises(ValueError, match="cannot save this MLPClassifier: its state is "
                                         "inconsistent.*'batch_size'"):
        fastbp.save(est, tmp_path / "m.fastbp")
    assert not os.listdir(tmp_path)


def test_save_names_a_fitted_search_that_chose_another_estimator(data, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    X, y = data
    search = quiet(GridSearchCV(Pipeline([("clf", LogisticRegression())]),
                                {"clf": [MLPClassifier((2,), max_iter=1, random_state=0),
                                         LogisticRegression(max_iter=500)]}, cv=2).fit, X, y)
    assert isinstance(search.best_estimator_[-1], LogisticRegression)
    with pytest.raises(TypeError, match="this fitted GridSearchCV holds no trained one"):
        fastbp.save(search, tmp_path / "g.fastbp")


def test_load_refuses_special_files_and_takes_bytes_paths(saved, tmp_path):
    # helper-62: a named pipe blocked load forever, /dev/zero was read
    # without end, and a bytes path was taken for a file object.
    fifo = tmp_path / "pipe.fastbp"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="it is a named pipe \\(FIFO\\), not a model file"):
        fastbp.load(fifo)
    with pytest.raises(ValueError, match="/dev/zero: it is a character device"):
        fastbp.load("/dev/zero")
    assert isinstance(fastbp.load(os.fsencode(saved)), MLPClassifier)
    with pytest.raises(FileNotFoundError, match="cannot load .*absent.fastbp: no such file"):
        fastbp.load(tmp_path / "absent.fastbp")


def test_a_damaged_directory_offset_is_named(saved):
    # helper-62: zipfile's seek before the file's start came out as a bare
    # "OSError: [Errno 22] Invalid argument".
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0x80  # the end record's offset of the central directory, high byte
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{saved} is not a fastbp model file, or it is "
                                         "truncated or damaged"):
        fastbp.load(saved)


def test_save_follows_the_umask_of_the_moment(data, tmp_path):
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    old = os.umask(0o077)
    try:
        fastbp.save(est, tmp_path / "m.fastbp")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.fastbp").st_mode & 0o777 == 0o600


def _same_keys(a, b):
    return list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]


def test_class_weight_with_boolean_labels_round_trips(data, tmp_path):
    # helper-85: skops rebuilds a dict's keys as type(key)(its JSON string),
    # and bool("False") is True: {False: 5.0, True: 1.0} came back as
    # {True: 1.0}, and a warm fit after load trained on other weights.
    X, y = data
    y = y % 2 == 0
    weights = {False: 5.0, True: 1.0}
    est = quiet(MLPClassifier((4,), max_iter=2, random_state=0, class_weight=weights).fit,
                X, y)
    fastbp.save(est, tmp_path / "m.fastbp")
    assert est.class_weight is weights  # put back as it was
    assert "_fastbp_keyed_dicts" not in vars(est)
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert loaded.class_weight == weights and _same_keys(loaded.class_weight, weights)
    assert "_fastbp_keyed_dicts" not in vars(loaded)
    for model in (est, loaded):
        model.set_params(warm_start=True, max_iter=3)
        quiet(model.fit, X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, loaded.coefs_ + loaded.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_class_weight_keys_keep_their_values_and_types(data, tmp_path):
    # helper-85: NumPy booleans (a multilabel class_weight, one dict per
    # output) were changed as Python's are; NumPy integers and strings
    # round-trip through skops itself.
    X, y = data
    Y = np.column_stack([y % 2 == 0, y < 5]).astype(int)
    multilabel = [{np.False_: 3.0, np.True_: 1.0}, {False: 1.0, True: 2.0}]
    est = quiet(MLPClassifier((4,), max_iter=2, random_state=0,
                              class_weight=multilabel).fit, X, Y)
    fastbp.save(est, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert isinstance(loaded.class_weight, list)
    for a, b in zip(loaded.class_weight, multilabel):
        assert a == b and _same_keys(a, b)
    for labels in (y.astype(np.int64), np.array([f"c{v}" for v in y], dtype=object)):
        keys = np.unique(labels)
        weights = dict(zip(keys, np.linspace(1.0, 2.0, len(keys))))
        est = quiet(MLPClassifier((4,), max_iter=2, random_state=0,
                                  class_weight=weights).fit, X, labels)
        fastbp.save(est, tmp_path / "m.fastbp")
        loaded = fastbp.load(tmp_path / "m.fastbp")
        assert loaded.class_weight == weights and _same_keys(loaded.class_weight, weights)
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_a_search_over_boolean_class_weights_is_refused_not_corrupted(data, tmp_path):
    # helper-97: only an attribute's own dict was kept; the search's
    # param_grid, best_params_ and cv_results_ held {False: 5.0, True: 1.0}
    # inside, and loaded with {True: 1.0}: refitting the loaded search, or a
    # clone given its best_params_, trained on other weights without a word.
    from sklearn.model_selection import GridSearchCV

    X, y = data
    y = y % 2 == 0
    weights = {False: 5.0, True: 1.0}
    search = quiet(GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier((4,), max_iter=2, random_state=0)),
        {"mlpclassifier__class_weight": [weights, None]}, cv=2).fit, X, y)
    path = tmp_path / "s.fastbp"
    with pytest.raises(ValueError, match=(
            r"cannot save GridSearchCV.param_grid\['mlpclassifier__class_weight'\]\[0\]: it "
            r"is a dict whose keys \(False, True\) skops would not rebuild as they are.*"
            r"y.astype\(int\).*pickle or joblib")):
        fastbp.save(search, path)
    assert not os.listdir(tmp_path)
    # The search is left as it was, its estimators' class_weight among it.
    assert search.param_grid["mlpclassifier__class_weight"][0] is weights
    for est in (search.estimator[-1], search.best_estimator_[-1]):
        assert "_fastbp_keyed_dicts" not in vars(est)
    # Each place is looked into, the masked param_ column of cv_results_
    # among them.
    search.best_params_ = search.cv_results_["params"][0]
    for name, shown in [("param_grid", "best_params_['mlpclassifier__class_weight']"),
                        ("best_params_", "cv_results_['param_mlpclassifier__class_weight'][0]")]:
        delattr(search, name)
        with pytest.raises(ValueError, match=f"cannot save GridSearchCV.{re.escape(shown)}: "):
            fastbp.save(search, path)
    search.cv_results_.pop("param_mlpclassifier__class_weight")
    with pytest.raises(ValueError, match=re.escape(
            "cannot save GridSearchCV.cv_results_['params'][0]['mlpclassifier__class_weight']")):
        fastbp.save(search, path)
    # A model's own class_weight is kept: its best estimator saves.
    search.best_estimator_[-1].set_params(class_weight=weights)
    fastbp.save(search.best_estimator_, path)
    assert fastbp.load(path)[-1].class_weight == weights


def test_dicts_nested_in_object_arrays_are_looked_into(data, tmp_path):
    # helper-97: a masked object array, as cv_results_' param_ columns are,
    # is looked into, masked values aside from its mask; and dicts whose
    # keys survive are checked once per set of keys, however many there are.
    from sklearn.model_selection import GridSearchCV

    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    column = np.ma.masked_array(np.array([None, [{False: 5.0, True: 1.0}]], dtype=object),
                                mask=[True, False])
    est.search_log_ = {"param": column}
    with pytest.raises(ValueError, match=r"cannot save MLPClassifier.search_log_\['param'\]"
                                         r"\[1\]\[0\]: it is a dict whose keys"):
        fastbp.save(est, tmp_path / "m.fastbp")
    del est.search_log_
    calls = []
    keys_round_trip = fastbp.persistence.keyed_dicts._keys_round_trip

    def counted(sio, d):
        calls.append(d)
        return keys_round_trip(sio, d)

    grid = {"mlpclassifier__class_weight": [{0: w, 1: 1.0} for w in np.linspace(1, 5, 20)],
            "mlpclassifier__alpha": [1e-4, 1e-2]}
    search = quiet(GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier((4,), max_iter=2, random_state=0)),
        grid, cv=2).fit, X, y % 2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastbp.persistence.keyed_dicts, "_keys_round_trip", counted)
        fastbp.save(search, tmp_path / "s.fastbp")
    assert len(calls) == 1
    assert fastbp.load(tmp_path / "s.fastbp").best_params_ == search.best_params_


@pytest.mark.parametrize("encoded", [
    ["class_weight"], {"class_weight": ["dict", [[False]]]},
    {"class_weight": ["set", []]}, {"class_weight": ["dict", [[[1], 2.0]]]},
])
def test_edited_dict_attributes_are_refused(saved, tmp_path, encoded):
    # helper-85: the encoded dicts come from the file, which is not trusted.
    est = fastbp.load(saved)
    del est.__dict__["class_weight"]
    est.__dict__["_fastbp_keyed_dicts"] = encoded
    path = rewritten_model_file(saved, tmp_path / "k.fastbp", est)
    with pytest.raises(ValueError, match="damaged or was edited: the dict attributes of its "
                                         "MLPClassifier are not what fastbp.save writes"):
        fastbp.load(path)


def test_save_takes_a_bytes_path_with_a_directory(data, tmp_path, monkeypatch):
    # helper-85: TypeError "Can't mix bytes and non-bytes in path
    # components" from the temporary file beside a bytes b"sub/m.fastbp".
    X, y = data
    est = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    fastbp.save(est, b"sub/m.fastbp")
    fastbp.save(est, os.fsencode(tmp_path / "m.fastbp"))
    for path in (tmp_path / "sub" / "m.fastbp", tmp_path / "m.fastbp"):
        np.testing.assert_array_equal(fastbp.load(path).predict_proba(X), est.predict_proba(X))
    assert sorted(os.listdir(tmp_path / "sub")) == ["m.fastbp"]


def test_an_encrypted_flag_and_a_deeply_nested_metadata_are_named_damage(saved, tmp_path):
    # helper-85: a RuntimeError ("File 'model.skops' is encrypted, password
    # required for extraction") for one flipped bit, and a RecursionError
    # for a fastbp.json nested without end, where load promises a
    # ValueError naming the file.
    raw = bytearray(saved.read_bytes())
    raw[raw.rfind(b"PK\x01\x02") + 8] ^= 1  # the last member's "encrypted" flag
    flipped = tmp_path / "flipped.fastbp"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{flipped} is damaged: RuntimeError: .*encrypted"):
        fastbp.load(flipped)
    with zipfile.ZipFile(saved) as zf:
        payload = zf.read("model.skops")
    deep = write_model_file(tmp_path / "deep.fastbp", "[" * 100000 + "]" * 100000, payload)
    for read in (fastbp.load, fastbp.persistence.read_metadata):
        with pytest.raises(ValueError, match=f"{deep} is damaged: RecursionError"):
            read(deep)


def test_save_of_a_classifier_with_weights_set_by_hand_and_no_classes_is_not_fitted(
        data, tmp_path):
    # helper-85: "ValueError: cannot save ...: its state is inconsistent",
    # where predict raises NotFittedError with the remedy.
    from sklearn.exceptions import NotFittedError

    X, y = data
    rng = np.random.RandomState(0)
    est = MLPClassifier((4,))
    est.coefs_ = [rng.randn(64, 4), rng.randn(4, 10)]
    est.intercepts_ = [np.zeros(4), np.zeros(10)]
    for obj in (est, make_pipeline(StandardScaler().fit(X), est)):
        with pytest.raises(NotFittedError, match=r"weights set by hand .* no classes.*"
                                                 r"partial_fit\(X, y, classes=\.\.\.\)"):
            fastbp.save(obj, tmp_path / "m.fastbp")
    assert not os.listdir(tmp_path)
    quiet(est.partial_fit, X, y, classes=np.arange(10))
    fastbp.save(est, tmp_path / "m.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "m.fastbp").predict(X),
                                  est.predict(X))


def test_the_module_exports_only_what_the_readme_documents():
    # helper-124: with no __all__, the command line's helpers
    # replace_atomically and special_file read as public API.
    import fastbp.persistence as persistence

    namespace = {}
    exec("from fastbp.persistence import *", namespace)
    assert set(namespace) - {"__builtins__"} == {"load", "read_metadata", "save"}
    assert persistence.save is fastbp.save and persistence.load is fastbp.load


def test_the_package_keeps_the_public_names_of_the_module_it_was_split_from():
    # fix-321 split fastbp/persistence.py into a package: its public names
    # stay reachable where they were, and are the ones the modules use.
    from fastbp import persistence
    from fastbp.persistence import container, trust

    assert persistence.read_metadata is fastbp.read_metadata
    assert (persistence.FORMAT, persistence.FORMAT_VERSION) == ("fastbp-model", 2)
    assert persistence.FORMAT is container.FORMAT
    assert persistence.TRUSTED is trust.TRUSTED
    assert persistence.POSITIVE_UFUNC is trust.POSITIVE_UFUNC
    assert "fastbp.estimators.classifier.MLPClassifier" in persistence.TRUSTED
