"""Docstrings, star imports and declared dependencies (fix-283).

The docstrings are read with a small numpydoc-section parser written here:
numpydoc is not a test dependency, and a check that needed it would have to
skip without it, passing in CI without checking anything.
"""

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path

import pytest

import fastbp
from fastbp.estimators import callbacks
from fastbp.tensorboard import TensorBoardCallback

ROOT = Path(__file__).resolve().parents[1]

_HEADER_RULE = re.compile(r"^-{3,}$")


def _sections(doc):
    """``{section title: its lines}`` of a numpydoc docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    sections, title = {}, None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line.strip() and _HEADER_RULE.match(lines[i + 1].strip()):
            title = line.strip()
            sections[title] = []
        elif title is not None and not _HEADER_RULE.match(line.strip()):
            sections[title].append(line)
    return sections


def _documented(doc, section="Parameters"):
    """The names a section lists, in order (``X, y : ...`` gives both)."""
    body = [line for line in _sections(doc).get(section, []) if line.strip()]
    if not body:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in body)
    names = []
    for line in body:
        if len(line) - len(line.lstrip()) == indent:
            names += [n.strip() for n in line.split(" : ")[0].split(",") if n.strip()]
    return names


def _signature_names(func):
    names = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        stars = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(stars + p.name)
    return names


def _returns_value(func):
    """Whether ``func``'s own body returns a value (nested functions aside)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return False
    top = tree.body[0]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                continue
            if isinstance(child, ast.Return) and child.value is not None and not (
                    isinstance(child.value, ast.Constant) and child.value.value is None):
                return True
            if walk(child):
                return True
        return False

    return walk(top)


def _is_generator(func):
    return inspect.isgeneratorfunction(inspect.unwrap(func))


def _public_methods(cls):
    """fastbp's own public methods of ``cls``, inherited ones included
    (BaseMLP's ``fit``), each once, as ``cls`` resolves it."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("fastbp"):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in seen or isinstance(attr, property):
                continue
            seen.add(name)
            if isinstance(attr, (classmethod, staticmethod)):
                attr = attr.__func__
            # scikit-learn's available_if (partial_fit) holds the method.
            attr = getattr(attr, "fn", attr)
            if inspect.isfunction(attr):
                yield f"{cls.__qualname__}.{name}", attr


def _fastbp_objects():
    """(name, callable, doc) of every public function and class of
    ``fastbp.__all__``, each class's public methods, and the helpers the
    audit named."""
    found = []
    for name in fastbp.__all__:
        obj = getattr(fastbp, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            found.append(obj)
    found += [fastbp.display.epochs_before, fastbp.display.step_name,
              fastbp.display.no_history_message, callbacks.active, callbacks.own_callbacks,
              callbacks.saved_from_own_hook, callbacks.FitTasks]
    out = []
    for obj in found:
        if inspect.isclass(obj):
            # A class's Parameters document its own __init__; an exception
            # or warning without one takes BaseException's (*args).
            if "__init__" in vars(obj):
                out.append((obj.__qualname__, obj, obj.__doc__))
            out += [(name, meth, meth.__doc__) for name, meth in _public_methods(obj)
                    if meth.__module__.startswith("fastbp")]
        else:
            out.append((obj.__qualname__, obj, obj.__doc__))
    return out


_OBJECTS = _fastbp_objects()


@pytest.mark.parametrize("name, func, doc", _OBJECTS, ids=[o[0] for o in _OBJECTS])
def test_parameters_section_names_the_signature(name, func, doc):
    expected = _signature_names(func)
    documented = _documented(doc)
    if dataclasses.is_dataclass(func):
        # A result that fastbp builds (WarmupReport): its fields are what a
        # user reads, documented as Attributes, read-only properties beside.
        assert set(expected) <= set(_documented(doc, "Attributes")), name
        return
    assert set(documented) == set(expected), (
        f"{name}: documented {documented}, signature {expected}")


@pytest.mark.parametrize("name, func, doc", _OBJECTS, ids=[o[0] for o in _OBJECTS])
def test_what_returns_a_value_has_a_returns_section(name, func, doc):
    sections = _sections(doc)
    if _is_generator(func):
        assert "Yields" in sections, name
    elif not inspect.isclass(func) and _returns_value(func):
        assert "Returns" in sections, f"{name} returns a value but has no Returns section"
        assert _documented(doc, "Returns"), name


def test_the_audited_objects_are_among_those_checked():
    # The parser must not lose them (a rename would silently drop them).
    names = {o[0] for o in _OBJECTS}
    assert {"DivergenceError", "TensorBoardCallback.on_fit_task_begin",
            "TensorBoardCallback.teardown", "epochs_before", "step_name", "active",
            "own_callbacks", "saved_from_own_hook", "FitTasks.begin", "FitTasks.end",
            "FitTasks.end_root", "read_metadata", "MLPRegressor"} <= names


def test_the_parser_reads_sections_as_numpydoc_does():
    doc = """Summary.

    Parameters
    ----------
    X, y : array-like
        Data.
    flag : bool, default=True
        A flag : with a colon.
    **kwargs
        More.

    Returns
    -------
    int
        A number.
    """
    assert _documented(doc) == ["X", "y", "flag", "**kwargs"]
    assert _documented(doc, "Returns") == ["int"]
    assert _documented("Summary only.") == []


def test_divergence_error_documents_its_parameters_in_order():
    assert _documented(fastbp.DivergenceError.__doc__) == [
        "message", "epoch", "last_finite_model"]


def test_tensorboard_hooks_document_estimator_and_context():
    for hook in (TensorBoardCallback.on_fit_task_begin, TensorBoardCallback.teardown,
                 TensorBoardCallback.setup):
        assert _documented(hook.__doc__) == ["estimator", "context"], hook.__name__


def test_estimator_parameters_are_documented_one_by_one_in_order():
    # beta_1 and beta_2 had one entry, which help() shows as a single name.
    for est in (fastbp.MLPClassifier, fastbp.MLPRegressor):
        documented = _documented(est.__doc__)
        assert "beta_1, beta_2" not in est.__doc__
        assert documented.index("beta_2") == documented.index("beta_1") + 1
    # In the signature's order: MLPClassifier's class_weight before device
    # (lead, stop 52: device, last of _docs.py's text, came before it).
    for est in (fastbp.MLPClassifier, fastbp.MLPRegressor):
        assert _documented(est.__doc__) == _signature_names(est), est.__name__


def test_classes_states_its_shape():
    types = _attribute_types(fastbp.MLPClassifier.__doc__)
    assert types["classes_"] == "ndarray of shape (n_classes,)"


def _attribute_types(doc):
    body = _sections(doc).get("Attributes", [])
    indent = min(len(line) - len(line.lstrip()) for line in body if line.strip())
    return {line.split(" : ")[0].strip(): line.split(" : ", 1)[1].strip()
            for line in body
            if line.strip() and len(line) - len(line.lstrip()) == indent and " : " in line}


def test_normalization_attributes_state_their_shapes():
    import warnings

    import numpy as np

    types = _attribute_types(fastbp.MLPRegressor.__doc__)
    for key in ("normalization_scales_, normalization_shifts_", "running_mean_, running_var_"):
        assert types[key] == "list of ndarray of shape (n_units,)", key
    # What the docstring says, of a fitted model.
    X = np.random.RandomState(0).rand(20, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastbp.MLPRegressor(hidden_layer_sizes=(4, 3), max_iter=2, normalization="batch",
                                    random_state=0).fit(X, X[:, 0])
    for name in ("normalization_scales_", "normalization_shifts_", "running_mean_",
                 "running_var_"):
        assert [a.shape for a in getattr(model, name)] == [(4,), (3,)], name


def test_read_metadata_lists_the_keys_it_returns(tmp_path):
    pytest.importorskip("skops")  # in the test extra; save needs it
    import warnings

    import numpy as np

    X = np.random.RandomState(0).rand(20, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastbp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, X[:, 0])
    path = tmp_path / "m.fastbp"
    fastbp.save(model, path)
    returns = "\n".join(_sections(fastbp.read_metadata.__doc__)["Returns"])
    for key in fastbp.read_metadata(path):
        assert f'``"{key}"``' in returns, key
    raises = _documented(fastbp.read_metadata.__doc__, "Raises")
    for bad, error in ((tmp_path, IsADirectoryError), (tmp_path / "none", FileNotFoundError),
                       (tmp_path / "m.fastbp" / "x", NotADirectoryError)):
        with pytest.raises(error):
            fastbp.read_metadata(bad)
        assert error.__name__ in raises
    (tmp_path / "text.txt").write_text("not a model")
    with pytest.raises(ValueError, match="not a fastbp model file"):
        fastbp.read_metadata(tmp_path / "text.txt")
    assert "ValueError" in raises


_STAR_MODULES = {
    "fastbp.display": {"TrainingHistoryDisplay"},
    "fastbp.tensorboard": {"TensorBoardCallback"},
    "fastbp.exceptions": {"DivergenceError", "GradientWarning", "OversubscriptionWarning"},
    "fastbp.estimators.callbacks": {"FitTasks", "active", "own_callbacks",
                                    "saved_from_own_hook"},
}


@pytest.mark.parametrize("module_name", sorted(_STAR_MODULES))
def test_star_import_gives_the_public_names_only(module_name):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"
    namespace = {}
    exec(f"from {module_name} import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(module.__all__)
    assert _STAR_MODULES[module_name] <= set(namespace)
    # No module (np, os, struct, ...) and no private helper comes with it.
    assert not [n for n, v in namespace.items() if inspect.ismodule(v) or n.startswith("_")]


def test_every_name_fastbp_exports_stays_in_its_modules_all():
    for name in fastbp.__all__:
        module = sys.modules.get(getattr(getattr(fastbp, name), "__module__", None) or "")
        if module is not None and module.__name__ in _STAR_MODULES:
            assert name in module.__all__, (module.__name__, name)


def test_readme_imports_are_in_all():
    # The README and the guides it links to in docs/.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 5
    imports = re.findall(r"from (fastbp(?:\.\w+)+) import ([\w, ]+)",
                         "\n".join(page.read_text(encoding="utf-8") for page in pages))
    assert imports
    for module_name, names in imports:
        module = importlib.import_module(module_name)
        if hasattr(module, "__all__"):
            for name in (n.strip() for n in names.split(",")):
                assert name in module.__all__, (module_name, name)


def _dependencies():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the [project] table's list, by hand
        block = re.search(r"^\[project\]$.*?^dependencies = \[(.*?)^\]", text,
                          re.S | re.M).group(1)
        return re.findall(r'^\s*"([^"]+)"', block, re.M)
    return tomllib.loads(text)["project"]["dependencies"]


def _distribution(requirement):
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group().lower().replace("_", "-")


def test_joblib_is_a_declared_dependency():
    declared = {_distribution(r): r for r in _dependencies()}
    assert "joblib" in declared
    assert ">=" in declared["joblib"]


def _module_level_imports(path):
    """Top-level packages ``path`` imports when it is imported: outside
    functions, and outside ``try`` blocks that handle ImportError."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()

    def walk(nodes):
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Try):
                optional = any(isinstance(h.type, ast.Name)
                               and h.type.id in ("ImportError", "ModuleNotFoundError")
                               for h in node.handlers)
                if not optional:
                    walk(node.body)
            elif isinstance(node, (ast.If, ast.With)):
                walk(node.body)
                walk(getattr(node, "orelse", []))
    walk(tree.body)
    return found


def test_every_package_imported_at_module_level_is_declared():
    declared = {_distribution(r) for r in _dependencies()}
    aliases = {"sklearn": "scikit-learn"}
    undeclared = {}
    for path in (ROOT / "fastbp").rglob("*.py"):
        if "cuda" in path.relative_to(ROOT).parts:
            continue  # the optional numba-cuda extra's backend
        for package in _module_level_imports(path):
            if package in sys.stdlib_module_names or package == "fastbp":
                continue
            if aliases.get(package, package) not in declared:
                undeclared.setdefault(package, []).append(str(path.relative_to(ROOT)))
    assert not undeclared
