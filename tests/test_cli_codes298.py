"""Codes written with leading zeros: rev-289's findings that fix-298 fixed
(each test fails before its fix). The exponent of "1.5e-05" was taken for
a code, and a file so written was read a second time, every column as
text."""

import gzip

import pytest

from fastbp.cli_data import tables
from fastbp.cli_data.tables import _may_write_leading_zeros


def _write(path, text):
    """``text`` written to ``path`` as bytes (gzip-compressed for a .gz
    name), its line ends as given."""
    data = text.encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
@pytest.mark.parametrize("text", [
    "a,b,y\n1.5e-05,2,0\n0.5,3,1\n0.25,4,0\n0.125,5,1\n",
    "a,b,y\n1.5E+07,2,0\n3e-005,3,1\n",
    "a,b\r\n-2.5e-05,1e+07\r\n4.5E-09,7\r\n",
    "a\n1e-05",
    '"a","b"\n"1.5e-05","2.5E+05"\n',
])
def test_exponents_are_not_codes(tmp_path, name, text):
    path = _write(tmp_path / name, text)
    assert _may_write_leading_zeros(path) is False


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
@pytest.mark.parametrize("text", [
    "a,zip,y\n1.5e-05,007,0\n0.5,02134,1\n",
    'a,zip\n1.5e-05,"02134"\n',
    "zip,a\n007,1e-05\n",  # a code at a line's start
    "a,zip\n1e-05,007",  # at the file's end, no line end
    "a,zip\r\n1E+05,007\r\n",
    "a,zip\n1e-05,-007\n",  # a signed code
    "a,zip\n1e-05, 007\n",
])
def test_codes_beside_exponents_are_found(tmp_path, name, text):
    path = _write(tmp_path / name, text)
    assert _may_write_leading_zeros(path) is True


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_the_scan_sees_across_its_chunks(tmp_path, monkeypatch, size):
    # A code's zero, the byte after it and the two before may lie in
    # different chunks: every split of these lines is tried.
    monkeypatch.setattr(tables, "_SCAN_CHUNK", size, raising=False)
    exponents = _write(tmp_path / "e.csv", "a,b\n1.5e-05,2\n3E+07,1e-005\n")
    code = _write(tmp_path / "c.csv", "a,b\n1.5e-05,2\n3E+07,007\n")
    assert _may_write_leading_zeros(exponents) is False
    assert _may_write_leading_zeros(code) is True
