"""Where a training history is read, and where ``fastbp info`` learns which
kernel serves which fit.

- ``fastbp.history`` holds the helpers that read a model's history (which
  model holds it, its rows, what one step is called, why a model has none);
  ``fastbp.display`` only draws, importing them from there (the same
  objects, so ``fastbp.display.step_name`` still resolves), and
  ``fastbp.history`` imports neither the Display nor matplotlib. The other
  readers (TensorBoard, the command line) import them from ``fastbp.history``.
- ``fastbp.training.compile.kernel_roles`` lists, per kernel path, each
  role with the dispatchers it runs, and they are those the trainer's
  ``training_kernel`` picks for every solver; ``fastbp info`` prints what
  ``warm_roles`` says rather than keeping its own table.
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


# --- fastbp info's roles come from the trainer's decision ---


def _role_serving(roles, solver):
    """The dispatchers of the role whose description names ``solver``."""
    for description, dispatchers in roles:
        if solver in description.removesuffix(" fits").split("/"):
            return dispatchers
    raise AssertionError(f"no role names {solver}: {[d for d, _ in roles]}")


@pytest.mark.parametrize("split", [False, True])
def test_each_solvers_kernel_is_among_its_roles_dispatchers(split):
    from fastbp.kernels.codes import NORM_NONE, OUTPUT_FUNCTIONS, SOLVERS
    from fastbp.training.backend import CPUBackend
    from fastbp.training.compile import kernel_roles, training_kernel
    from fastbp.training.spec import build_spec

    backend = CPUBackend()
    for out_code in OUTPUT_FUNCTIONS.values():
        plain = build_spec((3, 4, 2), None, NORM_NONE, None, None, out_code)
        dropout = build_spec((3, 4, 2), None, NORM_NONE, None, (0.5,), out_code)
        for solver in [*SOLVERS, "lbfgs"]:
            code = SOLVERS.get(solver, SOLVERS["sgd"])
            # A plain network's fit of a dense X; one with dropout; one of a
            # sparse X: each on the path the trainer would choose for it.
            for spec, sparse in ((plain, False), (dropout, False), (plain, True)):
                toolkit = spec.uses_toolkit(sparse, None, code)
                roles = kernel_roles(backend, toolkit, out_code, split=split)
                kernel = training_kernel(backend, solver, out_code, toolkit)
                assert kernel in _role_serving(roles, solver), (solver, toolkit, out_code)
                if split and not toolkit and solver != "lbfgs":
                    split_kernel = training_kernel(backend, solver, out_code, toolkit, parts=2)
                    assert split_kernel in _role_serving(roles, solver), (solver, out_code)
                predictions = dict(roles)["predictions"]
                assert backend.network(toolkit, out_code).predict in predictions


def test_the_default_path_names_only_the_solvers_it_trains():
    # rmsprop, adagrad and adamw always need the toolkit (uses_toolkit):
    # the default path's kernels warm no fit of theirs.
    from fastbp.kernels.codes import OUT_SOFTMAX
    from fastbp.training.backend import CPUBackend
    from fastbp.training.compile import kernel_roles

    backend = CPUBackend()
    default = [d for d, _ in kernel_roles(backend, False, OUT_SOFTMAX, split=False)]
    toolkit = [d for d, _ in kernel_roles(backend, True, OUT_SOFTMAX, split=False)]
    assert default == ["sgd/adam fits", "lbfgs fits", "predictions"]
    assert toolkit == ["sgd/adam/rmsprop/adagrad/adamw fits", "lbfgs fits", "predictions"]


def test_info_prints_the_roles_warm_roles_gives(monkeypatch, capsys):
    from fastbp._cache import maintenance
    from fastbp.cli import main
    from fastbp.training import compile as compile_module

    asked = []

    def fake_warm_roles(dtype, backend=None, split=None):
        asked.append(dtype)
        yield "default path", "softmax", [f"{dtype} role from the trainer"]
        yield "toolkit", "identity", []

    monkeypatch.setattr(compile_module, "warm_roles", fake_warm_roles)
    monkeypatch.setattr(maintenance, "cache_info", lambda: {
        "writable": True, "directories": [], "n_files": 0, "n_bytes": 0})
    assert main(["info"]) == 0
    warm = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("warm for: "))
    assert asked == ["float32", "float64"]
    assert warm == ("warm for: float32 default path (softmax) for float32 role from the "
                    "trainer; float64 default path (softmax) for float64 role from the trainer "
                    "(fastbp compile fills it)")
