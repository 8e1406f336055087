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


def _imports(path, package=None):
    """The absolute names of the modules ``path`` imports, anywhere in it,
    its relative imports read from ``package`` (its own, by default)."""
    # The package a relative import starts from: the module's own, for an
    # __init__.py as for any other module.
    if package is None:
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
            # ("from .. import _cache" imports a module, not the package.)
            if module != "fastbp":
                names.add(module)
            # "from . import x" names a module too; a name the top package
            # re-exports ("from .. import save") is what fastbp/__init__.py
            # imports, from above every layer (rev-286).
            for alias in node.names:
                if module == "fastbp" and not _is_module(alias.name):
                    names.add(f"fastbp.__init__.{alias.name}")
                else:
                    names.add(f"{module}.{alias.name}")
    return names


def _is_module(name):
    """Whether ``fastbp.<name>`` is a module or package of its own."""
    return (PACKAGE / f"{name}.py").exists() or (PACKAGE / name / "__init__.py").exists()


def _upward(name, forbidden):
    """Whether the import ``name`` is of ``forbidden`` or in it."""
    # ("import fastbp" is the top package, with every re-export.)
    return name == "fastbp" or any(name == f or name.startswith(f + ".") for f in forbidden)


def _offending(layer, forbidden):
    return [f"{path.relative_to(PACKAGE.parent)} imports {name}"
            for path in _modules(layer) for name in sorted(_imports(path))
            if _upward(name, forbidden)]


# What builds on the estimators; "fastbp.__init__" stands for the top
# package's re-exports.
_ABOVE = ("fastbp.estimators", "fastbp.warmup", "fastbp.search_space", "fastbp.search",
          "fastbp.persistence",
          "fastbp.display", "fastbp.history", "fastbp.tensorboard", "fastbp.cli",
          "fastbp.cli_data", "fastbp.datasets", "fastbp.__init__")


# Modules beside the kernels that import Numba or its llvmlite themselves
# (the compile cache, a package of its own since fix-320, the kernels'
# compile flags, the BLAS binding and the link-only compiler): the
# estimators reach them through the trainer (rev-308).
_NUMBA_MODULES = ("fastbp._cache", "fastbp._config", "fastbp._cblas", "fastbp._link_only")


def _sources(name):
    """The files of ``name``, a module or a package of fastbp (every module
    under it, at any depth)."""
    path = PACKAGE / name.split(".", 1)[1]
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def test_the_numba_modules_beside_the_kernels_do_import_numba():
    # What makes them forbidden to the estimators stays true.
    for name in _NUMBA_MODULES:
        assert any(n.split(".")[0] in ("numba", "llvmlite")
                   for path in _sources(name) for n in _imports(path)), name


def test_the_compile_cache_is_read_as_every_module_of_its_package():
    # fix-320 split fastbp/_cache.py into a package: read as the one file
    # it was, the checks above would have read nothing of it.
    names = {path.stem for path in _sources("fastbp._cache")}
    assert {"__init__", "dispatchers", "index", "locks", "maintenance"} <= names


def test_the_numba_modules_beside_the_kernels_import_neither_the_trainer_nor_above():
    # As the kernels: the trainer and the estimators build on them.
    assert [f"{path.relative_to(PACKAGE.parent)} imports {n}"
            for name in _NUMBA_MODULES for path in _sources(name)
            for n in sorted(_imports(path)) if _upward(n, ("fastbp.training", *_ABOVE))] == []


def test_the_trainer_imports_nothing_of_the_estimators_or_above():
    assert _offending("training", _ABOVE) == []


def test_the_kernels_import_neither_the_trainer_nor_above():
    assert _offending("kernels", ("fastbp.training", *_ABOVE)) == []


def test_the_estimators_import_no_numba_no_kernels_and_nothing_above():
    # (The tiny fits a waiting fit runs live with the estimators, which
    # imported fastbp.warmup for them.)
    assert _offending("estimators", ("numba", "fastbp.kernels", *_NUMBA_MODULES,
                                     *_ABOVE[1:])) == []


@pytest.mark.parametrize("layer", ["kernels", "training", "estimators"])
def test_the_reader_sees_each_layers_imports(layer):
    # The check reads something: every layer imports from fastbp.
    assert any(name.startswith("fastbp.") for path in _modules(layer)
               for name in _imports(path))


def test_the_reader_sees_the_top_packages_re_exports(tmp_path):
    # rev-286: "from .. import save" in the estimators read as a module
    # fastbp.save, and "import fastbp" as nothing upward.
    probe = tmp_path / "probe.py"
    probe.write_text("from .. import save\nfrom .. import _cache\nimport fastbp\n")
    names = _imports(probe, package=("fastbp", "estimators"))
    assert names == {"fastbp.__init__.save", "fastbp._cache", "fastbp"}
    assert [n for n in sorted(names) if _upward(n, _ABOVE)] == [
        "fastbp", "fastbp.__init__.save"]
