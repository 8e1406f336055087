"""fastbp under the interpreter settings and Numba environment users run it in
(helper-123's review): each in a child process, since both are fixed at start-up."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FIT_AND_PREDICT = """
import numpy as np
import fastbp
X = np.random.default_rng(0).normal(size=(60, 4)); y = (X[:, 0] > 0).astype(int)
m = fastbp.MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
print("ok", m.predict(X[:3]).shape, fastbp.MLPRegressor.__doc__ is None)
"""


def _run(args, code, **env):
    full_env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", **env)
    return subprocess.run([sys.executable, *args, "-c", code], env=full_env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_fastbp_imports_fits_and_predicts_under_python_OO():
    # -OO strips docstrings: the estimators' shared parameter text was
    # formatted into a __doc__ of None, and import fastbp failed.
    out = _run(["-OO"], FIT_AND_PREDICT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "(3,)", "True"]


def test_numba_disable_jit_is_named_at_import():
    # NUMBA_DISABLE_JIT=1 failed import with "__class__ assignment only
    # supported for mutable types", naming nothing the user had set.
    out = _run([], "import fastbp", NUMBA_DISABLE_JIT="1")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastbp needs Numba's JIT compiler")
    assert "unset NUMBA_DISABLE_JIT" in last
