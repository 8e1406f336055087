"""Review 288 of ``fastbp train`` on a regression target in its own units
(house prices near 6.5e5): the command line fitted it as read, exited 0
and saved a model whose predictions were off by the target's mean. It now
standardises the target for training, and what it saves, scores and
predicts is in the target's units; ``--no-scale-target`` fits it as read."""
import numpy as np
import pandas as pd
import pytest

import fastbp
from fastbp.cli import main


def write_houses(path, n=500):
    """``n`` rows: 3 numeric features and a price near 6.5e5, linear in them."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, 3))
    price = 1e5 * (X @ np.array([1.0, -0.5, 0.8])) + 6.5e5 + 1e3 * rng.standard_normal(n)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["price"] = price
    frame.to_csv(path, index=False)
    return str(path), price


def train(capsys, path, model, *options, target="price"):
    status = main(["train", "--data", path, "--target", target, "--epochs", "30",
                   "--hidden-layer-sizes", "16", "--quiet", "--model-out", str(model),
                   *options])
    out, err = capsys.readouterr()
    return status, out, err


def r2_of_evaluate(capsys, model, path):
    assert main(["evaluate", "--model", str(model), "--data", path]) == 0
    out = capsys.readouterr().out
    return float(out.split("R2: ")[1].split()[0])


def predictions(capsys, model, path, out):
    assert main(["predict", "--model", str(model), "--data", path, "--out", str(out)]) == 0
    capsys.readouterr()
    return pd.read_csv(out)["price"].to_numpy()


def test_target_in_its_units_is_standardised_and_predicted_in_them(tmp_path, capsys):
    path, price = write_houses(tmp_path / "houses.csv")
    model = tmp_path / "h.fastbp"
    status, out, err = train(capsys, path, model, "--history-out",
                             str(tmp_path / "hist.csv"), "--valid", path)
    assert status == 0
    assert f"target 'price' standardised for training (mean {price.mean():.6g}, " in out
    assert "(standardised target)" in out
    assert "trains slowly" not in err  # the note that advised doing it in the file
    # --valid scores in the target's units.
    assert float(out.split("R2: ")[1].split()[0]) > 0.5
    assert len(pd.read_csv(tmp_path / "hist.csv")) == 30
    assert r2_of_evaluate(capsys, model, path) > 0.5
    pred = predictions(capsys, model, path, tmp_path / "p.csv")
    ratio = np.mean(pred) / np.mean(price)
    assert 0.5 < ratio < 2
    step = fastbp.load(model).named_steps["model"]
    assert isinstance(step.regressor_, fastbp.MLPRegressor)
    assert step.transformer_.mean_[0] == pytest.approx(price.mean())


def test_no_scale_target_fits_as_read_and_its_model_still_predicts(tmp_path, capsys):
    path, price = write_houses(tmp_path / "houses.csv")
    model = tmp_path / "old.fastbp"
    status, out, err = train(capsys, path, model, "--no-scale-target")
    assert status == 0
    assert "standardised" not in out
    assert "trains slowly" in err
    # The old behaviour: a model of a bare regressor, useless on this target.
    assert isinstance(fastbp.load(model).named_steps["model"], fastbp.MLPRegressor)
    assert r2_of_evaluate(capsys, model, path) < 0
    pred = predictions(capsys, model, path, tmp_path / "p.csv")
    assert len(pred) == len(price) and np.isfinite(pred).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_assembled_target_regressor_is_as_fitted():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    from fastbp.cli_data.train import fit_target_scaler, with_target_scaler

    rng = np.random.RandomState(1)
    X = rng.standard_normal((60, 3))
    y = 1e5 * X[:, 0] + 6.5e5
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    fitted = TransformedTargetRegressor(regressor=fastbp.MLPRegressor(**params),
                                        transformer=StandardScaler()).fit(X, y)
    scaler = fit_target_scaler(y, "y")
    inner = fastbp.MLPRegressor(**params).fit(X, scaler.transform(y.reshape(-1, 1))[:, 0])
    assembled = with_target_scaler(inner, scaler)
    assert sorted(vars(assembled)) == sorted(vars(fitted))
    np.testing.assert_allclose(assembled.predict(X), fitted.predict(X), rtol=1e-6)


def test_huge_target_refused_by_name_without_warnings(tmp_path, capsys):
    rng = np.random.RandomState(1)
    frame = pd.DataFrame(rng.standard_normal((50, 3)), columns=["a", "b", "c"])
    frame["t"] = rng.choice([-1.0, 1.0], 50) * rng.uniform(0.5, 1.0, 50) * 1.7e308
    frame.to_csv(tmp_path / "huge.csv", index=False, float_format="%.17g")
    status, out, err = train(capsys, str(tmp_path / "huge.csv"), tmp_path / "m.fastbp",
                             "--dtype", "float64", target="t")
    assert status == 2
    assert "the target column 't' is too large to standardise" in err
    assert "RuntimeWarning" not in err and " nan" not in err
    assert not (tmp_path / "m.fastbp").exists()


def test_target_beyond_float32_trains_in_float32_once_standardised(tmp_path, capsys):
    # Standardised, a target beyond float32's range fits a float32 model,
    # whose predictions come back in float64 (rev-300: it was refused, for
    # the way back was in float32).
    rng = np.random.RandomState(2)
    frame = pd.DataFrame(rng.standard_normal((50, 3)), columns=["a", "b", "c"])
    frame["t"] = np.linspace(1e39, 3e40, 50)
    frame.to_csv(tmp_path / "big.csv", index=False, float_format="%.17g")
    status, out, err = train(capsys, str(tmp_path / "big.csv"), tmp_path / "m.fastbp",
                             target="t")
    assert status == 0, err
    pred = fastbp.load(tmp_path / "m.fastbp").predict(frame[["a", "b", "c"]])
    assert pred.dtype == np.float64
    assert np.isfinite(pred).all() and 1e39 < np.mean(pred) < 1e41


def test_no_scale_target_refused_where_it_applies_to_nothing(tmp_path, capsys):
    frame = pd.DataFrame({"a": np.arange(40.0), "label": ["x", "y"] * 20})
    frame.to_csv(tmp_path / "cls.csv", index=False)
    status, out, err = train(capsys, str(tmp_path / "cls.csv"), tmp_path / "m.fastbp",
                             "--no-scale-target", target="label")
    assert status == 2
    assert "--no-scale-target applies to a regression target" in err
    assert main(["train", "--dataset", "digits", "--no-scale-target"]) == 2
    assert "--no-scale-target applies to a regression target of --data" in \
        capsys.readouterr().err
