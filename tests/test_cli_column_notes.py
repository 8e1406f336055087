"""Review 288 of ``fastbp train`` on realistic files: an integer count
target, a numeric ID column, classes of a single row, a target named
without the header's spaces, and a column empty in every row (fix-296)."""
import numpy as np
import pandas as pd
import pytest

from fastbp.cli import main


def _train(data, target, *options):
    return main(["train", "--data", str(data), "--target", target, "--epochs", "1",
                 "--quiet", *options])


def _bikes(path, n=2000, seed=0):
    # A count: 500-odd distinct integers in 2,000 rows, with gaps, fewer
    # than half the rows (so not refused as one class per row).
    rng = np.random.default_rng(seed)
    temp = rng.uniform(0, 30, n)
    cnt = np.round(rng.gamma(2.0, 20 + 10 * temp)).astype(int)
    pd.DataFrame({"temp": temp, "cnt": cnt}).to_csv(path, index=False)
    return cnt


def test_an_integer_count_target_is_refused_under_task_auto(tmp_path, capsys):
    data = tmp_path / "bikes.csv"
    cnt = _bikes(data)
    n = len(np.unique(cnt))
    assert 50 < n < len(cnt) / 2
    assert _train(data, "cnt") == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"fastbp: error: the target column 'cnt' holds {n} distinct "
                          f"integers (from {cnt.min()} to {cnt.max()})"), err
    assert "--task regression if it is a quantity" in err
    assert "--task classification if every value is a class label" in err
    assert "trained" not in out and "classification" not in out
    assert _train(data, "cnt", "--task", "regression") == 0
    assert "target 'cnt' (regression)" in capsys.readouterr().out


@pytest.mark.parametrize("first", [0, 1])
def test_many_consecutive_integer_labels_stay_classification(tmp_path, capsys, first):
    # 60 classes numbered without gaps, 6 rows each: labels, not a count.
    rng = np.random.default_rng(0)
    label = np.repeat(np.arange(first, first + 60), 6)
    frame = pd.DataFrame({"x": rng.standard_normal(len(label)), "label": label})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label") == 0
    assert "target 'label' (classification)" in capsys.readouterr().out


def test_few_integer_labels_and_many_text_labels_stay_classification(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    pd.DataFrame({"x": x, "label": rng.choice([3, 7, 19, 40], 400)}).to_csv(
        tmp_path / "few.csv", index=False)
    assert _train(tmp_path / "few.csv", "label") == 0
    assert "(classification)" in capsys.readouterr().out
    pd.DataFrame({"x": x, "label": [f"c{i}" for i in rng.integers(0, 80, 400)]}).to_csv(
        tmp_path / "text.csv", index=False)
    assert _train(tmp_path / "text.csv", "label") == 0
    assert "(classification)" in capsys.readouterr().out


def _labelled(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return pd.DataFrame({"x": x, "label": np.where(x > 0, "yes", "no")})


def test_classes_of_a_single_row_get_a_note(tmp_path, capsys):
    frame = _labelled()
    frame.loc[5, "label"] = "Yes"
    frame.to_csv(tmp_path / "typo.csv", index=False)
    assert _train(tmp_path / "typo.csv", "label") == 0
    err = capsys.readouterr().err
    assert ("note: 1 of the 3 classes of 'label' hold a single row ('Yes'): a typo of "
            "another class, or a class that needs more rows to be learnt") in err, err
    _labelled().to_csv(tmp_path / "ok.csv", index=False)
    assert _train(tmp_path / "ok.csv", "label") == 0
    assert "single row" not in capsys.readouterr().err


def test_the_single_row_classes_named_are_capped(tmp_path, capsys):
    frame = _labelled()
    frame.loc[:7, "label"] = [f"odd{i}" for i in range(8)]
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label", "--task", "classification") == 0
    err = capsys.readouterr().err
    assert ("8 of the 10 classes of 'label' hold a single row ('odd0', 'odd1', 'odd2', "
            "'odd3', 'odd4' and 3 more)") in err, err


@pytest.mark.parametrize("name, values", [
    ("customer_id", lambda n: np.arange(100001, 100001 + n)),
    ("account", lambda n: np.random.default_rng(1).permutation(n) + 5000),
    ("PassengerId", lambda n: np.arange(n) * 7 + 3),
])
def test_a_numeric_id_column_gets_a_note(tmp_path, capsys, name, values):
    frame = _labelled().sort_values("label")
    frame.insert(0, name, values(len(frame)))
    frame.to_csv(tmp_path / "numid.csv", index=False)
    assert _train(tmp_path / "numid.csv", "label") == 0
    out, err = capsys.readouterr()
    assert "2 feature columns" in out
    assert (f"note: column {name!r} holds 200 distinct integers (from "
            f"{frame[name].min()} to {frame[name].max()}) and looks like a row identifier; "
            "it is standardised and used as a feature") in err, err
    assert f"remove it from the file (fastbp predict --keep {name} copies it" in err


def test_integer_features_that_are_no_ids_get_no_id_note(tmp_path, capsys):
    frame = _labelled()
    rng = np.random.default_rng(2)
    frame["age"] = rng.integers(18, 90, len(frame))              # repeats
    frame["stamp"] = np.sort(rng.choice(10**9, len(frame), replace=False))  # gaps
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label") == 0
    assert "row identifier" not in capsys.readouterr().err


def test_a_target_named_without_the_headers_spaces_gets_a_suggestion(tmp_path, capsys):
    frame = _labelled()
    lines = ["age, workclass, income"] + [f"{x:.3f}, w{i % 3}, {y}" for i, (x, y) in
                                          enumerate(zip(frame.x, frame.label))]
    data = tmp_path / "adult.csv"
    data.write_text("\n".join(lines) + "\n")
    for asked in ["income", "Income"]:
        assert _train(data, asked) == 2
        out, err = capsys.readouterr()
        assert f"has no column {asked!r} (columns: ['age', ' workclass', ' income']); " \
            "did you mean ' income'?" in err, err
        assert "trained" not in out
    assert _train(data, "nope") == 2
    assert "did you mean" not in capsys.readouterr().err
    assert _train(data, " income") == 0


def test_a_column_empty_in_every_row_is_named_as_such(tmp_path, capsys):
    frame = _labelled(n=4)
    frame["empty"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label") == 2
    err = capsys.readouterr().err
    assert err == (f"fastbp: error: {tmp_path / 't.csv'}: column 'empty' is empty in every "
                   "row: remove it from the file\n"), err
    frame["blank"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label") == 2
    assert ("columns ['empty', 'blank'] are empty in every row: remove them from the file"
            in capsys.readouterr().err)
    # A column missing some values keeps the advice to fill or drop them.
    frame = _labelled(n=4).assign(part=[1.0, np.nan, 2.0, np.nan])
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _train(tmp_path / "t.csv", "label") == 2
    assert "numeric column(s) ['part'] have missing values (2 row(s)" in \
        capsys.readouterr().err
