"""The installed distribution's metadata agrees with the package: one
version (pyproject reads ``fastbp.__version__``), the licence text shipped
and named, and the extras that need scikit-learn's callback API ask for it."""

import importlib.metadata as md
import re
from pathlib import Path

import fastbp

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_version_is_the_packages():
    assert md.version("fastbp") == fastbp.__version__


def test_the_licence_text_is_in_the_repository_and_named_by_the_project():
    text = (ROOT / "LICENSE").read_text()
    assert "BSD 3-Clause" in text and "Copyright (c)" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license-files = ["LICENSE"]' in pyproject
    assert re.search(r"^include LICENSE$", (ROOT / "MANIFEST.in").read_text(), re.M)


def test_the_callback_extras_ask_for_the_scikit_learn_that_has_callbacks():
    requires = md.requires("fastbp") or []
    for extra in ("progress", "tensorboard"):
        mine = [r for r in requires if f'extra == "{extra}"' in r]
        assert any(r.startswith("scikit-learn>=1.9") for r in mine), (extra, mine)
