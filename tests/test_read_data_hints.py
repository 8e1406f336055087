"""Review 258 of ``fastbp.read_data(..., index_col=...)`` and ``fastbp
predict``/``evaluate``: the hint for an unexpected column keeps the
``index_col`` columns already given, and text in a numeric column is
refused naming the file's lines."""
import numpy as np
import pandas as pd
import pytest

import fastbp
from fastbp.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A classifier trained by the command line on ``age``, ``spend`` and
    ``plan``, and a file that also holds ``id`` and ``region``."""
    tmp = tmp_path_factory.mktemp("m267")
    rng = np.random.RandomState(0)
    n = 60
    frame = pd.DataFrame({
        "age": rng.randint(18, 80, n),
        "spend": rng.standard_normal(n).round(3),
        "plan": rng.choice(["basic", "pro"], n),
    })
    frame["churn"] = ((frame.spend > 0) ^ (frame.plan == "pro")).astype(int)
    frame.to_csv(tmp / "train.csv", index=False)
    assert main(["train", "--data", str(tmp / "train.csv"), "--target", "churn",
                 "--epochs", "2", "--hidden-layer-sizes", "3",
                 "--model-out", str(tmp / "m.fastbp"), "--quiet"]) == 0
    frame.head(6).assign(id=[f"00{i}" for i in range(6)], region="north")[
        ["id", "region", "age", "spend", "plan", "churn"]].to_csv(tmp / "two.csv", index=False)
    return tmp


def test_index_col_hint_keeps_the_columns_given(model_dir):
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError, match="unexpected \\['region'\\]") as info:
        fastbp.read_data(model_dir / "two.csv", model, index_col="id")
    assert "pass index_col=['id', 'region']" in str(info.value)
    # The advice works as given.
    X = fastbp.read_data(model_dir / "two.csv", model, index_col=["id", "region"])
    assert list(X.index.names) == ["id", "region"]
    assert list(X.columns) == ["age", "spend", "plan"]


def test_index_col_hint_without_index_col_names_the_extra_columns(model_dir):
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError) as info:
        fastbp.read_data(model_dir / "two.csv", model)
    assert "pass index_col=['id', 'region']" in str(info.value)
    with pytest.raises(ValueError) as info:
        fastbp.read_data(model_dir / "two.csv", model, index_col="region")
    assert "pass index_col=['region', 'id']" in str(info.value)


def test_index_col_position_is_refused_as_the_readme_says(model_dir):
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(TypeError, match="column name or a list of them, not 0"):
        fastbp.read_data(model_dir / "two.csv", model, index_col=0)
    # The command line's guide, split out of the README.
    readme = (fastbp.__file__.rsplit("/fastbp/", 1)[0] + "/docs/cli.md")
    text = " ".join(open(readme, encoding="utf-8").read().split())
    # Booleans, not the texts: a failure would print the whole README.
    old_sentence = 'index_col="id"` (as in `pd.read_csv`' in text
    assert not old_sentence
    says_no_position = "not a position" in text
    assert says_no_position
    assert "position is refused" in " ".join(fastbp.read_data.__doc__.split())


def _with_text(model_dir, name):
    """A copy of two.csv (id and region dropped) with a blank line after
    the header, and text in ``spend`` on its lines 5 and 7."""
    frame = pd.read_csv(model_dir / "two.csv").drop(columns=["id", "region"])
    frame["spend"] = frame["spend"].astype(object)
    frame.loc[2, "spend"] = "abc"
    frame.loc[4, "spend"] = "n/a?"
    lines = frame.to_csv(index=False).splitlines()
    path = model_dir / name
    path.write_text("\n".join([lines[0], ""] + lines[1:]) + "\n")
    return path


def test_read_data_text_in_numeric_column_names_the_lines(model_dir):
    path = _with_text(model_dir, "txt.csv")
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError) as info:
        fastbp.read_data(path, model)
    message = str(info.value)
    assert "column 'spend' was numeric in training and holds text" in message
    assert "'abc'" in message
    # Data rows 3 and 5, after the header and a blank line.
    assert "lines [5, 7]" in message


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_cli_text_in_numeric_column_names_the_lines(model_dir, command, capsys):
    path = _with_text(model_dir, f"txt_{command}.csv")
    args = [command, "--model", str(model_dir / "m.fastbp"), "--data", str(path)]
    if command == "predict":
        args += ["--out", str(model_dir / "p.csv")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "was numeric in training and holds text" in err
    assert "lines [5, 7]" in err


def test_text_error_shows_the_first_five_lines(model_dir):
    frame = pd.read_csv(model_dir / "train.csv").head(8)
    frame["spend"] = ["x"] * 7 + ["1.0"]
    frame.to_csv(model_dir / "many.csv", index=False)
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError) as info:
        fastbp.read_data(model_dir / "many.csv", model)
    assert "lines [2, 3, 4, 5, 6] ..." in str(info.value)
