"""What is refused, and how, when the plotting helpers or the command line
get the wrong kind of argument: ``history_frame`` and
``TrainingHistoryDisplay.from_estimator`` given a ``history_`` dict (or any
other non-estimator) say what to pass instead without printing the arrays;
``plot`` given an ``ax`` that is not a matplotlib Axes refuses it with a
TypeError naming ``ax`` before drawing; ``fastbp train`` refuses empty
items in ``--hidden-layer-sizes`` and ``--dropout`` and non-finite
``--alpha``, ``--l1`` and ``--clip-grad-norm`` at parse time; and the
refusal of a file without the model's columns (``fastbp predict``,
``fastbp.read_data``) shortens long column lists and suggests ``--keep`` or
``index_col`` only where that could make the file acceptable."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import fastbp
from fastbp import MLPClassifier, TrainingHistoryDisplay
from fastbp.cli import build_parser, main

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    return MLPClassifier((4,), max_iter=3, random_state=0).fit(X, np.arange(40) % 2)


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.mark.parametrize("call", [fastbp.history_frame,
                                  TrainingHistoryDisplay.from_estimator])
def test_a_history_dict_given_for_the_estimator_says_what_to_pass(model, call):
    with pytest.raises(TypeError) as info:
        call(model.history_)
    message = str(info.value)
    assert "not its history_" in message
    assert "TrainingHistoryDisplay(history)" in message
    # The arrays are not printed.
    assert "array(" not in message and len(message) < 250


@pytest.mark.parametrize("call", [fastbp.history_frame,
                                  TrainingHistoryDisplay.from_estimator])
def test_another_non_estimator_is_named_by_its_type(call):
    with pytest.raises(TypeError, match="got an object of type ndarray$"):
        call(np.arange(500.0))


def test_the_history_dict_still_plots_through_the_constructor(model):
    display = TrainingHistoryDisplay(model.history_).plot()
    assert len(display.lines_["loss"].get_xdata()) == 3


def test_an_estimator_given_to_the_constructor_points_to_from_estimator(model):
    # fix-324 (rev-321): "argument of type 'MLPClassifier' is not iterable".
    display = TrainingHistoryDisplay(model)  # checked when drawn, as ax is
    with pytest.raises(TypeError, match=r"^TrainingHistoryDisplay\(history\) takes a history, "
                       r"a mapping .* like a fitted model's history_, not an estimator "
                       r"\(MLPClassifier\): use TrainingHistoryDisplay.from_estimator"):
        display.plot()


@pytest.mark.parametrize("history, got", [(None, "got None"), ("loss", "got str"),
                                          ([("loss", [1.0, 0.5])], "got list"),
                                          (np.arange(3.0), "got ndarray")])
def test_a_history_that_is_no_mapping_is_refused_naming_history(history, got):
    # None failed as "argument of type 'NoneType' is not iterable", a string
    # with "dictionary update sequence element #0 has length 1; 2 is required".
    import matplotlib.pyplot as plt

    n_figures = len(plt.get_fignums())
    with pytest.raises(TypeError, match=r"^TrainingHistoryDisplay\(history\) takes a history, "
                       r"a mapping") as info:
        TrainingHistoryDisplay(history).plot()
    assert got in str(info.value)
    assert len(plt.get_fignums()) == n_figures  # refused before any figure


def test_a_history_frame_still_plots_through_the_constructor(model):
    # A DataFrame is no Mapping, but maps its columns: it stays accepted.
    display = TrainingHistoryDisplay(fastbp.history_frame(model)).plot()
    np.testing.assert_array_equal(display.lines_["loss"].get_ydata(), model.history_["loss"])


@pytest.mark.parametrize("ax, shown", [("left", "got str 'left'"),
                                       ([1, 2, 3], "got int 1")])
def test_an_ax_that_is_not_axes_is_refused_naming_ax(model, ax, shown):
    with pytest.raises(TypeError, match="^ax must be a matplotlib Axes") as info:
        TrainingHistoryDisplay.from_estimator(model, ax=ax)
    assert shown in str(info.value)


def test_a_figure_given_as_ax_is_refused_before_anything_is_drawn(model):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(TypeError, match="got Figure: pass Axes of it"):
        TrainingHistoryDisplay(model.history_).plot(ax=fig)
    assert fig.axes == []


def test_one_bad_item_among_three_axes_draws_nothing(model):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    with pytest.raises(TypeError, match="got str 'x'"):
        TrainingHistoryDisplay.from_estimator(model, ax=[*axes, "x"])
    assert not axes[0].lines and not axes[1].lines


@pytest.mark.parametrize("args, message", [
    (["--hidden-layer-sizes", "10,,5"], "got '10,,5', which has an empty item"),
    (["--hidden-layer-sizes", "10,"], "got '10,', which has an empty item"),
    (["--hidden-layer-sizes", ",10"], "got ',10', which has an empty item"),
    (["--dropout", "0.2,,0.1"], "got '0.2,,0.1', which has an empty item"),
    (["--alpha", "inf"], "argument --alpha: expected a finite number >= 0, got inf"),
    (["--alpha", "nan"], "argument --alpha: expected a finite number >= 0, got nan"),
    (["--l1", "Infinity"], "argument --l1: expected a finite number >= 0, got inf"),
])
def test_train_refuses_the_option_before_reading_data(args, message, capsys):
    # --data names no file: the option is refused before any is read.
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", "no-such-file.csv", "--target", "y", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()[-1]) < 160


@pytest.mark.parametrize("args, attr, value", [
    (["--hidden-layer-sizes", "10, 5"], "hidden_layer_sizes", (10, 5)),
    (["--hidden-layer-sizes", "7"], "hidden_layer_sizes", (7,)),
    (["--dropout", "0.2,0.1"], "dropout", [0.2, 0.1]),
    (["--alpha", "0"], "alpha", 0.0),
    (["--l1", "1e-3"], "l1", 1e-3),
])
def test_well_formed_values_still_parse(args, attr, value):
    args = build_parser().parse_args(["train", *args])
    assert getattr(args, attr) == value


@pytest.fixture(scope="module")
def columns_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("columns")
    rng = np.random.RandomState(0)
    train = pd.DataFrame(rng.standard_normal((40, 4)), columns=["a", "b", "c", "id"])
    train.assign(y=np.arange(40) % 2).to_csv(tmp / "train.csv", index=False)
    assert main(["train", "--data", str(tmp / "train.csv"), "--target", "y", "--epochs", "1",
                 "--hidden-layer-sizes", "3", "--quiet", "--model-out",
                 str(tmp / "m.fastbp")]) == 0
    # The wrong file: 64 columns, none of them the model's.
    pd.DataFrame(rng.standard_normal((5, 64)),
                 columns=[str(i) for i in range(64)]).to_csv(tmp / "wide.csv", index=False)
    # The right file with two columns the model does not read.
    train.assign(note=1, ref=2).to_csv(tmp / "extra.csv", index=False)
    return tmp


def _predict(tmp, name, capsys):
    code = main(["predict", "--model", str(tmp / "m.fastbp"), "--data", str(tmp / name),
                 "--out", str(tmp / "out.csv")])
    return code, capsys.readouterr().err


def test_predict_on_the_wrong_file_lists_few_columns_and_no_keep_hint(columns_model, capsys):
    code, err = _predict(columns_model, "wide.csv", capsys)
    assert code == 2
    assert "missing ['a', 'b', 'c', 'id']" in err
    assert "unexpected ['0', '1', '2', '3', '4', '5'] and 58 more" in err
    assert "--keep" not in err and "'63'" not in err


def test_predict_still_suggests_keep_where_no_model_column_is_missing(columns_model, capsys):
    code, err = _predict(columns_model, "extra.csv", capsys)
    assert code == 2
    assert "unexpected ['note', 'ref']" in err and "missing" not in err
    assert err.rstrip().endswith("pass --keep note --keep ref")


def test_read_data_on_the_wrong_file_suggests_no_index_col(columns_model):
    model = fastbp.load(columns_model / "m.fastbp")
    with pytest.raises(ValueError) as info:
        fastbp.read_data(columns_model / "wide.csv", model)
    message = str(info.value)
    assert "missing ['a', 'b', 'c', 'id']; unexpected ['0', '1', '2', '3', '4', '5'] " \
           "and 58 more" in message
    assert "index_col" not in message
    with pytest.raises(ValueError, match=r"unexpected \['note', 'ref'\].*index_col="):
        fastbp.read_data(columns_model / "extra.csv", model)
