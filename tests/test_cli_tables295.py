"""The command line on messy files: the findings of rev-288's review that
fix-295 fixed in the reading of tables and the check of outputs (each test
fails before its fix)."""

import numpy as np
import pytest

from fastbp.cli import main


def _churn_text(n=40, seed=0):
    """A small classification file as text: tenure, plan and a class churn."""
    rng = np.random.default_rng(seed)
    lines = ["tenure,plan,churn"]
    for _ in range(n):
        tenure = int(rng.integers(1, 60))
        lines.append(f"{tenure},{rng.choice(['basic', 'pro'])},"
                     f"{'yes' if tenure < 20 else 'no'}")
    return "\n".join(lines) + "\n"


def _train(data, *options):
    return main(["train", "--data", str(data), "--target", "churn", "--epochs", "1",
                 "--quiet", *options])


def _error_line(err):
    """The ``fastbp: error:`` line of ``err``, which must be its only one."""
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1, err
    assert err.endswith(lines[0] + "\n"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("name", ["nc_copy.csv", "m.tsv.gz", "M.TXT"])
def test_model_out_named_as_a_table_is_refused(tmp_path, capsys, name):
    # rev-288: --model-out nc_copy.csv replaced that data file with the model.
    (tmp_path / "c.csv").write_text(_churn_text())
    existing = b"id,value\n1,2\n"
    (tmp_path / name).write_bytes(existing)
    assert _train(tmp_path / "c.csv", "--model-out", str(tmp_path / name)) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"--model-out {tmp_path / name}:" in line and ".fastbp" in line
    assert (tmp_path / name).read_bytes() == existing


def test_model_out_named_as_a_new_table_is_refused(tmp_path, capsys):
    (tmp_path / "c.csv").write_text(_churn_text())
    assert _train(tmp_path / "c.csv", "--model-out", str(tmp_path / "m.csv")) == 2
    assert ".fastbp" in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "m.csv").exists()
