"""Review 259 of ``fastbp train`` on a file whose regression target is
huge: the note on the target's scale (an infinite mean, and NumPy's
overflow warning, for values near float64's largest), the loss lines (80
digits for a target of 1e40), and the errors about a target the model
cannot train on, whose remedies were the Python API's."""
import warnings

import numpy as np

from fastbp.cli_data.columns import note_target_scale


def test_target_note_statistics_exact_and_finite(capsys):
    values = np.full(50, 1.7e308) * np.linspace(0.9, 1.0, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        note_target_scale(values, "t")
    err = capsys.readouterr().err
    expected = np.mean(values / 1e300) * 1e300
    assert f"mean {expected:.4g} " in err
    # Ordinary targets: the same numbers as NumPy's.
    ordinary = np.random.RandomState(3).standard_normal(200) * 300 + 5000
    note_target_scale(ordinary, "t")
    err = capsys.readouterr().err
    assert f"mean {ordinary.mean():.4g} and standard deviation {ordinary.std():.4g};" in err


def test_target_note_silent_where_not_finite(capsys):
    note_target_scale(np.array([1.0, np.inf, 3.0]), "t")
    assert capsys.readouterr().err == ""
