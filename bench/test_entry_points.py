"""Every bench script answers ``--help`` with its usage, before loading
anything (helper-77: these crashed or started measuring)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cmd", [
    ["-m", "bench.memory"],
    ["bench/interrupt_latency.py"],
    ["bench/fuzz_report.py"],
])
def test_help(cmd):
    env = dict(os.environ, FASTBP_DATA_DIR=str(ROOT / "no-such-dir"))  # --help loads no data
    out = subprocess.run([sys.executable, *cmd, "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:") and not out.stderr


def test_memory_child_names_a_wrong_directory(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench.memory", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "lacks meta.json, X.npy, y.npy" in out.stderr
