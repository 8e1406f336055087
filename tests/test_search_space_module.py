"""fastbp.search_space, the reading of a search's parameter space that
fastbp.warmup's compiling left (rev-308): it imports nothing of
fastbp.warmup (the seam runs one way), warm-up plans from it the
configurations it planned before the move, and a monkeypatch of its
helpers reaches the code that reads the space (the patches of
test_warmup_grid.py assert that nothing is cloned, which a patch of the
wrong module would pass silently).
"""

import ast
import sys
from pathlib import Path

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, search_space

SOURCE = Path(search_space.__file__)


def _imported_modules(path):
    """The modules ``path`` imports anywhere, relative ones as written
    (``.warmup``), absolute ones by name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names.add(module)
            # "from . import warmup" names the module in the alias.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_search_space_imports_nothing_of_warmup():
    names = _imported_modules(SOURCE)
    # The reader sees the module's imports (it reads the tiny fits' widths).
    assert ".estimators.tiny_fits" in names
    assert not [n for n in names if "warmup" in n.split(".")], names


def test_warmup_plans_the_configurations_it_planned_before_the_move():
    warmup_module = sys.modules["fastbp.warmup"]  # fastbp.warmup is the function
    assert warmup_module._configurations is search_space._configurations
    grid = {"alpha": [1e-4, 1e-3], "hidden_layer_sizes": [(8,), (8, 8)],
            "solver": ["adam", "lbfgs"]}
    # Recorded from fastbp.warmup before the move (alpha chooses no
    # kernels; without residual the sizes choose none either).
    plain = GridSearchCV(MLPClassifier(random_state=0), grid)
    assert search_space._grids(plain) == [
        {"hidden_layer_sizes": (8,), "solver": "adam"},
        {"hidden_layer_sizes": (8,), "solver": "lbfgs"},
        {"hidden_layer_sizes": (8, 8), "solver": "adam"},
        {"hidden_layer_sizes": (8, 8), "solver": "lbfgs"}]
    configs = search_space._configurations([plain])
    assert [warmup_module._describe(c) for c in configs] == [
        "MLPClassifier()", "MLPClassifier(solver='lbfgs')"]
    assert [(c.solver, c.hidden_layer_sizes, c.alpha) for c in configs] == [
        ("adam", (8,), 1e-4), ("lbfgs", (8,), 1e-4)]
    # With residual=True, equal widths connect layers: the sizes count.
    residual = GridSearchCV(MLPClassifier(random_state=0, residual=True), grid)
    assert [warmup_module._describe(c) for c in search_space._configurations([residual])] == [
        "MLPClassifier(residual=True (no connections))",
        "MLPClassifier(solver='lbfgs', residual=True (no connections))",
        "MLPClassifier(residual=True, hidden_layer_sizes=(8, 8))",
        "MLPClassifier(solver='lbfgs', residual=True, hidden_layer_sizes=(8, 8))"]


def test_a_patch_of_search_space_reaches_the_expansion(monkeypatch):
    # A grid that swaps the fastbp step in whole is read by cloning the
    # search, through the name as search_space looks it up.
    clones = []
    original = search_space._clone_without_cv

    def counting(obj):
        clones.append(type(obj).__name__)
        return original(obj)

    monkeypatch.setattr(search_space, "_clone_without_cv", counting)
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier())]),
                          {"mlp": [MLPClassifier(), MLPClassifier(solver="lbfgs")]})
    configs = search_space._configurations([search])
    assert [c.solver for c in configs] == ["adam", "lbfgs"]
    assert clones and set(clones) == {"GridSearchCV"}
