"""Where skops is installed but one of its own imports fails, save, load
and the CLI's --model-out say so and name the module, rather than advising
to install skops (stop 49's left-alone item: the inner cause was hidden
behind "need the skops package")."""

import builtins
import sys

import pytest

import fastbp
from fastbp.cli import main


@pytest.fixture
def broken_skops(monkeypatch):
    """``import skops.io`` fails on a dependency of skops's own."""
    for name in [m for m in sys.modules if m == "skops" or m.startswith("skops.")]:
        monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "skops.io" or name.startswith("skops"):
            raise ModuleNotFoundError("No module named 'broken_dependency'",
                                      name="broken_dependency")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)


def test_save_names_the_failing_import(broken_skops, tmp_path):
    with pytest.raises(ImportError, match="installed but failed to import.*broken_dependency") \
            as info:
        fastbp.save(fastbp.MLPClassifier(), tmp_path / "m.fastbp")
    assert info.value.name == "broken_dependency"
    assert "pip install" not in str(info.value)


def test_a_missing_skops_still_advises_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[io\]"') as info:
        fastbp.load(tmp_path / "m.fastbp")
    assert info.value.name == "skops"


def test_cli_model_out_names_the_failing_import(broken_skops, tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--epochs", "1",
                 "--model-out", str(tmp_path / "m.fastbp")]) == 2
    err = capsys.readouterr().err
    assert "--model-out cannot save the model" in err and "broken_dependency" in err
    assert "needs skops" not in err
