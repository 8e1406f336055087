"""``python -m bench.toolkit_compile`` runs end to end (structure only, never a time)."""

import re

from bench import toolkit_compile


def test_toolkit_compile_reports_every_configuration(capsys):
    # The suite's own cache, which holds most of these kernels already.
    assert toolkit_compile.main(["--dtypes", "float64", "--cache-dir",
                                 toolkit_compile.INHERIT]) == 0
    text = capsys.readouterr().out
    line = r"^float64 \{.*\}\s+[\d.]+ s \(first predictions [\d.]+ s\)$"
    assert len(re.findall(line, text, re.MULTILINE)) == len(toolkit_compile.CONFIGS)
    assert re.search(r"^float64 every path [\d.]+ s \(import [\d.]+ s\)$", text, re.MULTILINE)


def test_an_unknown_dtype_is_refused(capsys):
    # helper-153: float16 compiled and timed float64 under the float16 label.
    import pytest

    with pytest.raises(SystemExit) as exc:
        toolkit_compile.main(["--dtypes", "float32,float16", "--cache-dir",
                              toolkit_compile.INHERIT])
    assert exc.value.code == 2
    assert "unknown dtype 'float16' in --dtypes" in capsys.readouterr().err
