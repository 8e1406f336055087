"""Where a training history is read.

- ``fastbp.history`` holds the helpers that read a model's history (which
  model holds it, its rows, what one step is called, why a model has none);
  ``fastbp.display`` only draws, importing them from there (the same
  objects, so ``fastbp.display.step_name`` still resolves), and
  ``fastbp.history`` imports neither the Display nor matplotlib. The other
  readers (TensorBoard, the command line) import them from ``fastbp.history``.
"""

import ast
from pathlib import Path

import pytest

import fastbp
import fastbp.display
import fastbp.history

PACKAGE = Path(fastbp.__file__).parent

MOVED = ("_trained_model", "check_estimator_given", "no_history_message", "_history_of",
         "epochs_before", "step_name")


def _imports_from(path):
    """``(module, names)`` of every ``from ... import`` in ``path``,
    wherever it stands (module level or in a function), the module as
    written (``.display``, ``..display``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [("." * node.level + (node.module or ""), {alias.name for alias in node.names})
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [module for module, _ in _imports_from(path)]
    found += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
              for alias in node.names]
    return found


@pytest.mark.parametrize("name", MOVED)
def test_the_history_helpers_live_in_fastbp_history(name):
    helper = getattr(fastbp.history, name)
    assert helper.__module__ == "fastbp.history"
    # Still reachable where they were, as the same function.
    assert getattr(fastbp.display, name) is helper


def test_fastbp_history_imports_neither_the_display_nor_matplotlib():
    modules = _imported_modules(PACKAGE / "history.py")
    assert not [m for m in modules if m.lstrip(".").split(".")[-1] == "display"
                or m == "fastbp.display"], modules
    assert not [m for m in modules if m.split(".")[0] == "matplotlib"], modules


@pytest.mark.parametrize("relative", ["tensorboard.py", "cli.py", "cli_data/train.py"])
def test_the_other_readers_take_the_helpers_from_fastbp_history(relative):
    wrong = [(module, names & set(MOVED)) for module, names in _imports_from(PACKAGE / relative)
             if module.lstrip(".") in ("display", "fastbp.display") and names & set(MOVED)]
    assert wrong == [], f"{relative} imports history helpers from the Display: {wrong}"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_display_still_draws_what_history_reads():
    # The Display, given a model, plots the rows fastbp.history reads.
    plt = pytest.importorskip("matplotlib.pyplot")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = fastbp.MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    display = fastbp.TrainingHistoryDisplay.from_estimator(model)
    try:
        assert len(display.history["loss"]) == len(fastbp.history._history_of(model)["loss"]) == 3
        assert display.step_name == fastbp.history.step_name(model) == "epoch"
    finally:
        plt.close("all")

