"""The three layers' imports flow one way: kernels (Numba only) ->
trainer -> estimators (scikit-learn's API, no Numba), and what builds on
the estimators (warm-up, search, persistence, plots, the command line)
is above all three. Read from the sources, nested (deferred) imports
included: a deferred import hides a cycle, it does not remove it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fastbp"


def _modules(layer):
    return sorted((PACKAGE / layer).rglob("*.py"))


def _imports(path):
    """The absolute names of the modules ``path`` imports, anywhere in it."""
    # The package a relative import starts from: the module's own, for an
    # __init__.py as for any other module.
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join((*base, node.module) if node.module else base)
            else:
                module = node.module
            names.add(module)
            # "from . import x" names a module too.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _offending(layer, forbidden):
    found = []
    for path in _modules(layer):
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    return found


# What builds on the estimators.
_ABOVE = ("fastbp.estimators", "fastbp.warmup", "fastbp.search", "fastbp.persistence",
          "fastbp.display", "fastbp.history", "fastbp.tensorboard", "fastbp.cli",
          "fastbp.cli_data", "fastbp.datasets")


def test_the_trainer_imports_nothing_of_the_estimators_or_above():
    assert _offending("training", _ABOVE) == []


def test_the_kernels_import_neither_the_trainer_nor_above():
    assert _offending("kernels", ("fastbp.training", *_ABOVE)) == []


def test_the_estimators_import_no_numba_no_kernels_and_nothing_above():
    # (The tiny fits a waiting fit runs live with the estimators, which
    # imported fastbp.warmup for them.)
    assert _offending("estimators", ("numba", "fastbp.kernels", *_ABOVE[1:])) == []


@pytest.mark.parametrize("layer", ["kernels", "training", "estimators"])
def test_the_reader_sees_each_layers_imports(layer):
    # The check reads something: every layer imports from fastbp.
    assert any(name.startswith("fastbp.") for path in _modules(layer)
               for name in _imports(path))
