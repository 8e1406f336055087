"""fix-293 (rev-291): ``history_frame`` tabulates the rows the Display plots,
a model converted from scikit-learn's epochs included; the main public
objects' Examples run (and are run here); the estimators' parameter types
render cleanly."""

import doctest
import importlib
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier as SkMLP

from fastbp import MLPClassifier, MLPRegressor, history_frame
from fastbp.display import TrainingHistoryDisplay

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


# --- history_frame of a model converted from scikit-learn (finding 1) ---

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _converted(digits, early_stopping):
    X, y = digits
    sk = quiet(SkMLP((8,), solver="sgd", early_stopping=early_stopping, max_iter=4,
                     random_state=0).fit, X, y)
    return MLPClassifier.from_sklearn(sk)


def _plotted_loss(model):
    import matplotlib.pyplot as plt

    display = TrainingHistoryDisplay.from_estimator(model)
    try:
        return [np.asarray(v, dtype=float) for v in display.lines_["loss"].get_data()]
    finally:
        plt.close(display.figure_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_history_frame_of_a_converted_model_has_scikit_learns_epochs(digits, early_stopping):
    pytest.importorskip("pandas")
    model = _converted(digits, early_stopping)
    frame = history_frame(model)
    assert len(frame) == len(model.loss_curve_) == 4
    np.testing.assert_array_equal(frame["epoch"], [1, 2, 3, 4])
    np.testing.assert_array_equal(frame["loss"], model.loss_curve_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_history_frame_of_a_converted_model_trained_on_is_what_the_plot_draws(
        digits, early_stopping):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    model = _converted(digits, early_stopping)
    if early_stopping:
        # partial_fit refuses early stopping.
        model.set_params(early_stopping=False)
    quiet(model.partial_fit, *digits)
    quiet(model.partial_fit, *digits)
    frame = history_frame(model)
    x, loss = _plotted_loss(model)
    assert len(frame) == len(model.loss_curve_) == 6
    np.testing.assert_array_equal(frame["epoch"], x)
    np.testing.assert_array_equal(frame["loss"], loss)
    np.testing.assert_array_equal(frame["loss"], model.loss_curve_)
    # What scikit-learn did not record is NaN, fastbp's epochs have it.
    rates = frame["learning_rate"].to_numpy()
    assert np.isnan(rates[:4]).all() and np.isfinite(rates[4:]).all()
    # And the frame read back draws the same.
    import matplotlib.pyplot as plt

    back = TrainingHistoryDisplay(frame.to_dict("list")).plot()
    try:
        np.testing.assert_array_equal(back.lines_["loss"].get_xdata(), x)
    finally:
        plt.close(back.figure_)


# --- the Examples run (finding 2) ---

# Each object whose docstring must hold at least one example that runs.
_DOCUMENTED = {
    "fastbp.estimators.classifier": ["MLPClassifier"],
    "fastbp.estimators.regressor": ["MLPRegressor"],
    "fastbp.persistence.saving": ["save"],
    "fastbp.persistence.loading": ["load"],
    "fastbp.history": ["history_frame"],
    "fastbp.display": ["TrainingHistoryDisplay"],
    "fastbp.warmup": ["warmup"],
}
# Modules whose examples (if any) must pass too. Not fastbp.kernels.cuda,
# whose examples need the CUDA simulator or a device.
_ALSO_RUN = ["fastbp", "fastbp.datasets", "fastbp.search", "fastbp.tensorboard",
             "fastbp.cli_data.predict"]


def _run_doctests(module_name):
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    attempted = {}
    for test in doctest.DocTestFinder().find(module):
        if not test.examples:
            continue
        with warnings.catch_warnings():
            # max_iter is small on purpose: ConvergenceWarning says so.
            warnings.simplefilter("ignore")
            result = runner.run(test, out=lambda text: None)
        assert result.failed == 0, f"{test.name}: {result.failed} failed"
        attempted[test.name.rsplit(".", 1)[-1]] = result.attempted
    return attempted


@pytest.mark.parametrize("module_name", sorted(_DOCUMENTED) + _ALSO_RUN)
def test_doctests_pass_and_the_main_objects_have_examples(module_name):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    attempted = _run_doctests(module_name)
    for name in _DOCUMENTED.get(module_name, ()):
        # A skipped example is not attempted.
        assert attempted.get(name, 0) > 0, f"{module_name}.{name} has no example that runs"


def test_no_example_is_skipped():
    for module_name in _DOCUMENTED:
        for test in doctest.DocTestFinder().find(importlib.import_module(module_name)):
            for example in test.examples:
                assert not example.options.get(doctest.SKIP), \
                    f"{test.name}: {example.source.strip()} is skipped"


# --- the parameter docs render cleanly (finding 3) ---

def _parameter_type_lines(doc):
    section = doc.split("Parameters\n    ----------\n", 1)[1].split("\n    ---", 1)[0]
    return [line for line in section.splitlines()
            if re.match(r"    \S", line) and " : " in line]


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_parameter_type_lines_have_no_run_of_spaces(estimator):
    lines = _parameter_type_lines(estimator.__doc__)
    assert any(line.startswith("    init : ") for line in lines)
    for line in lines:
        assert "   " not in line.strip(), line
    (gamma,) = [line for line in lines if line.startswith("    gamma : ")]
    assert "None" in gamma.split(",")[0], gamma
