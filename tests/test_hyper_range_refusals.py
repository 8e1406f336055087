"""Hyper-parameters beyond the model's dtype, after rev-270's reading of
fix-260: the refusal's remedy fits the call (a warm fit or partial_fit
keeps its dtype), it comes before a compile is announced, it shows the
value as set, and the command line gives its own options."""

import numpy as np
import pandas as pd
import pytest

from fastbp import MLPClassifier
from fastbp.cli import main

Y = [0, 1] * 20


def _X32():
    return np.random.RandomState(0).standard_normal((40, 3)).astype(np.float32)


def test_partial_fit_is_not_told_to_fit_float64_x():
    # The advice repeated forever: a later call casts X to the model's dtype.
    X = _X32()
    clf = MLPClassifier((4,), max_iter=2, random_state=0).partial_fit(X, Y, classes=[0, 1])
    clf.set_params(alpha=1e39)
    for _ in range(2):
        with pytest.raises(ValueError) as info:
            clf.partial_fit(X.astype(np.float64), Y)
        message = str(info.value)
        assert "alpha=1e+39 is beyond the largest float32" in message
        assert "fit float64 X" not in message
        assert "keeps its dtype" in message


def test_a_first_fit_is_told_to_fit_float64_x():
    with pytest.raises(ValueError, match=r"alpha=1e\+39 .*or fit float64 X"):
        MLPClassifier((4,), alpha=1e39, max_iter=2).fit(_X32(), Y)


def test_the_refusal_comes_before_the_compile_notice(capsys, monkeypatch):
    import fastbp.training.compile as compile_module

    # As on a machine where the kernels are not compiled yet.
    monkeypatch.setattr(compile_module, "will_compile", lambda kernel, dtype: True)
    with pytest.raises(ValueError, match="beyond the largest float32"):
        MLPClassifier((4,), alpha=1e39, max_iter=2, verbose=True).fit(_X32(), Y)
    assert "compiling" not in capsys.readouterr().out


def test_an_int_beyond_float64_is_named_as_such():
    with pytest.raises(ValueError, match=r"alpha \(an int of 401 digits\) is beyond"):
        MLPClassifier((4,), alpha=10 ** 400, max_iter=2).fit(_X32(), Y)


@pytest.mark.parametrize("options, named", [
    (["--alpha", "1e39"], "--alpha 1e+39"),
    (["--set", "epsilon=1e40"], "--set epsilon=1e+40"),
])
def test_the_command_line_names_its_options(tmp_path, capsys, options, named):
    rng = np.random.RandomState(0)
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": rng.standard_normal(60), "b": rng.standard_normal(60),
                  "t": rng.randint(0, 2, 60)}).to_csv(path, index=False)
    status = main(["train", "--data", str(path), "--target", "t", "--dtype", "float32",
                   "--epochs", "2", "--quiet", *options])
    assert status != 0
    err = capsys.readouterr().err
    assert f"{named} is beyond the largest float32" in err
    assert "pass --dtype float64" in err and "fit float64 X" not in err
