"""Messages of ``fastbp train`` on targets a README reviewer tried
(helper-178's review, stop 47)."""

import numpy as np
import pandas as pd

from fastbp.cli import main


def _train(data, target, *options):
    return main(["train", "--data", str(data), "--target", target, "--epochs", "2",
                 "--quiet", *options])


def test_a_target_beyond_int64_gives_no_cast_warning(tmp_path, capsys):
    # scikit-learn's type_of_target casts the target to int64 to see
    # whether it holds whole numbers, and NumPy warned "invalid value
    # encountered in cast", printed as a "warning:" line that says nothing
    # about the data.
    rng = np.random.default_rng(0)
    x, z = rng.standard_normal(200), rng.standard_normal(200)
    pd.DataFrame({"x": x, "z": z, "t": (2 * x - z) * 1e25}).to_csv(tmp_path / "big.csv",
                                                                 index=False)
    # As read: standardised (fix-294's default), such a target trains.
    assert _train(tmp_path / "big.csv", "t", "--no-scale-target") == 2
    err = capsys.readouterr().err
    assert "values too large for a squared-error loss" in err
    assert "cast" not in err and "RuntimeWarning" not in err


def test_a_single_class_is_named_as_written(tmp_path, capsys):
    # The class was shown as NumPy's repr: "(np.int64(1))".
    x = np.linspace(0, 1, 50)
    pd.DataFrame({"x": x, "t": np.ones(50, int)}).to_csv(tmp_path / "one.csv", index=False)
    assert _train(tmp_path / "one.csv", "t") == 2
    err = capsys.readouterr().err
    assert "holds a single class (1);" in err and "np." not in err
    pd.DataFrame({"x": x, "t": ["yes"] * 50}).to_csv(tmp_path / "yes.csv", index=False)
    assert _train(tmp_path / "yes.csv", "t") == 2
    assert "holds a single class ('yes');" in capsys.readouterr().err
