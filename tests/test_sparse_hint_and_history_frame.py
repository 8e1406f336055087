"""rev-258's findings 1, 3 and 8: the sparse-input compile notice names the
command that warms the fit it precedes; ``history_frame`` says of a model
it cannot tabulate what the plot says of it; the plot draws no curve of NaN
alone (a converted model's validation loss).
"""

import os
import re
import shlex
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

import fastbp
import fastbp._cache.directory
import fastbp._cache.dispatchers
import fastbp.estimators.base as base_module
import fastbp.training.compile as compile_module
from fastbp import MLPClassifier, MLPRegressor, TrainingHistoryDisplay, history_frame
from fastbp.cli import main as cli_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_COMMAND = re.compile(r"'(fastbp compile [^']*)'")


class _Stop(Exception):
    """Ends a fit after its compile notice, before it compiles anything."""


def _sparse_data(dtype, positive=False):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3)).astype(dtype)
    y = np.abs(X[:, 0]) + 0.5 if positive else (X[:, 0] > 0).astype(int)
    return sp.csr_matrix(X), y


def _hint_of(est, dtype, monkeypatch, capsys):
    """The command the compile notice of ``est``'s sparse ``dtype`` fit names,
    on a cache taken as cold; the fit stops before compiling."""
    monkeypatch.setattr(compile_module, "will_compile", lambda kernel, d: True)
    monkeypatch.setattr(compile_module, "compiles_in_memory", lambda kernel: False)

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(base_module, "compile_ahead", stop)
    X, y = _sparse_data(dtype, positive=isinstance(est, MLPRegressor))
    capsys.readouterr()
    with pytest.raises(_Stop):
        est.set_params(verbose=True).fit(X, y)
    out = capsys.readouterr().out
    found = _COMMAND.search(out)
    assert found, out
    return found.group(1)


def _what_command_warms(command, monkeypatch):
    """The estimators, dtypes and ``sparse`` that running ``command``
    passes to :func:`fastbp.warmup` (recorded, not compiled)."""
    calls = []

    class Report:
        unsaved = 0
        compiled = 0

        def __str__(self):
            return "recorded"

    def record(*estimators, dtypes, sparse, n_jobs):
        calls.append((estimators, tuple(dtypes), sparse))
        return Report()

    monkeypatch.setattr(fastbp, "warmup", record)
    monkeypatch.setattr(fastbp._cache.dispatchers, "saves_to_disk", lambda: True)
    monkeypatch.setattr(fastbp._cache.directory, "misplaced_cache", lambda: None)
    words = shlex.split(command)
    assert words[:2] == ["fastbp", "compile"]
    assert cli_main(words[1:]) == 0
    assert len(calls) == 1
    return calls[0]


def _covers(warmed, est):
    """Whether a warm-up of ``warmed`` fits the kernels ``est``'s fit runs:
    same class, solver and loss, with early stopping where ``est`` has it."""
    return (type(warmed) is type(est) and warmed.solver == est.solver
            and getattr(warmed, "loss", None) == getattr(est, "loss", None)
            and (warmed.early_stopping or not est.early_stopping
                 or est.solver == "lbfgs"))


@pytest.mark.parametrize("est, dtype", [
    (MLPClassifier(hidden_layer_sizes=(4,), max_iter=1), "float64"),
    (MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1), "float32"),
    (MLPClassifier(hidden_layer_sizes=(4,), solver="rmsprop", early_stopping=True,
                   max_iter=1), "float32"),
    (MLPRegressor(hidden_layer_sizes=(4,), max_iter=1), "float32"),
    (MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1), "float64"),
    (MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", early_stopping=True,
                  max_iter=1), "float32"),
    (MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", max_iter=1), "float32"),
], ids=["clf-adam-64", "clf-lbfgs-32", "clf-rmsprop-es-32", "reg-adam-32",
        "reg-lbfgs-64", "reg-sgd-es-32", "reg-poisson-32"])
def test_sparse_hint_names_a_command_that_warms_the_fit(est, dtype, monkeypatch, capsys):
    command = _hint_of(est, dtype, monkeypatch, capsys)
    estimators, dtypes, sparse = _what_command_warms(command, monkeypatch)
    assert sparse, command
    assert dtype in dtypes, command
    # Only the fit's dtype: without --dtype the command compiled both.
    assert len(dtypes) == 1, command
    assert any(_covers(warmed, est) for warmed in estimators), command


_HINT = """
import re, sys
import numpy as np, scipy.sparse as sp
import fastbp.estimators.base as base
from fastbp import MLPRegressor

class Stop(Exception):
    pass

def stop(*args, **kwargs):
    raise Stop

if sys.argv[1] == "hint":
    base.compile_ahead = stop  # the notice, then nothing compiled
rng = np.random.RandomState(0)
X = sp.csr_matrix(rng.standard_normal((40, 3)).astype(np.float32))
try:
    MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=2,
                 verbose=True).fit(X, np.abs(rng.standard_normal(40)))
except Stop:
    pass
"""


def test_running_the_hinted_command_leaves_the_fit_nothing_to_compile(tmp_path):
    # A user on a cold cache: the regressor's float32 lbfgs fit of sparse X
    # (which a plain 'fastbp compile --sparse' left cold, to be told again).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), LOKY_MAX_CPU_COUNT="2")

    def run(*args):
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = run("-c", _HINT, "hint")
    found = _COMMAND.search(out)
    assert found, out
    words = shlex.split(found.group(1))
    run("-m", "fastbp", *words[1:])
    out = run("-c", _HINT, "fit")
    assert "compiling" not in out, out


# --- history_frame's error names the model to pass (finding 3) ---

def _small():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    return X, (X[:, 0] > 0).astype(int), rng.standard_normal((40, 2))


def _quiet_fit(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args)


def test_history_frame_of_a_multioutput_model_names_one_to_tabulate():
    X, _, Y = _small()
    model = _quiet_fit(MultiOutputRegressor(MLPRegressor(hidden_layer_sizes=(4,),
                                                         max_iter=3)), X, Y)
    with pytest.raises(ValueError, match=r"several fitted models in estimators_.*"
                                         r"estimators_\[0\]") as info:
        history_frame(model)
    assert "converted" not in str(info.value)


def test_history_frame_of_a_search_without_refit_says_refit():
    X, y, _ = _small()
    search = _quiet_fit(GridSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3),
                                     {"alpha": [1e-4, 1e-3]}, cv=2, refit=False), X, y)
    with pytest.raises(ValueError, match="refit=False") as info:
        history_frame(search)
    assert "converted" not in str(info.value)


def test_history_frame_of_models_not_fastbps_does_not_call_them_converted():
    X, y, _ = _small()
    logistic = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="no history_ or loss_curve_") as info:
        history_frame(logistic)
    assert "converted" not in str(info.value)
    sklearn_mlp = _quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3), X, y
                             ).to_sklearn()
    with pytest.raises(ValueError, match="only a loss_curve_") as info:
        history_frame(sklearn_mlp)
    assert "converted" not in str(info.value)


def test_history_frame_of_a_converted_model_tabulates_its_loss_curve():
    # fix-293: the rows the Display plots, not a refusal.
    X, y, _ = _small()
    converted = MLPClassifier.from_sklearn(
        _quiet_fit(SkMLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X, y))
    np.testing.assert_array_equal(history_frame(converted)["loss"], converted.loss_curve_)


def test_history_frame_error_does_not_import_matplotlib():
    code = ("import sys, numpy as np\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "import fastbp\n"
            "X = np.random.RandomState(0).standard_normal((20, 2))\n"
            "m = LogisticRegression().fit(X, X[:, 0] > 0)\n"
            "try:\n"
            "    fastbp.history_frame(m)\n"
            "except ValueError:\n"
            "    pass\n"
            "assert 'matplotlib' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


# --- no empty validation-loss curve (finding 8) ---

def test_converted_early_stopping_model_draws_no_empty_validation_loss():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    m = MLPClassifier.from_sklearn(_quiet_fit(
        SkMLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=5,
                        random_state=0), X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.set_params(early_stopping=False).partial_fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(m)
    try:
        loss_ax = display.axes_[0]
        labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
        assert "validation loss" not in labels
        assert "validation score" in labels
        assert "val_loss" not in display.lines_
        for axis in display.figure_.axes:
            for line in axis.lines:
                assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any(), \
                    line.get_label()
    finally:
        plt.close(display.figure_)
