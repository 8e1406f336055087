"""``python -m bench.subnormals`` runs (structure only, never a time)."""

from bench import subnormals


def test_every_state_and_mode_is_timed(capsys):
    assert subnormals.main(["--number", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("Adam update") == 4
    assert "caller's mode" in out and "flush-to-zero" in out
