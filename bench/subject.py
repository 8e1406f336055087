"""The system under test: ``fastbp.MLPClassifier``, or a stand-in.

fastbp and scikit-learn share one estimator API, so while fastbp does not
import (or to check the harness itself) scikit-learn's MLPClassifier can
stand in for it: set ``FASTBP_BENCH_STANDIN=sklearn`` (or pass
``--standin`` to ``bench.report``). Results are then labelled
``fastbp[stand-in: sklearn]`` everywhere, so they cannot be mistaken for
fastbp's. Without the switch, an fastbp that fails to import makes its
benches skip with the import error as the reason.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .workloads import env_flag

STANDIN_ENV = "FASTBP_BENCH_STANDIN"
STANDIN_LABEL = "fastbp[stand-in: sklearn]"


@dataclass(frozen=True)
class Subject:
    cls: type
    label: str
    standin: bool
    version: str


def standin_requested() -> bool:
    return env_flag(STANDIN_ENV)


@functools.lru_cache(maxsize=2)
def _load(standin: bool) -> tuple[Subject | None, str | None]:
    if standin:
        import sklearn
        from sklearn.neural_network import MLPClassifier

        return Subject(MLPClassifier, STANDIN_LABEL, True, f"sklearn {sklearn.__version__}"), None
    try:
        import fastbp

        cls = fastbp.MLPClassifier
    except Exception as exc:  # fastbp under construction: any import error
        return None, f"fastbp not importable ({type(exc).__name__}: {exc}); set {STANDIN_ENV}=sklearn to test the harness"
    return Subject(cls, "fastbp", False, str(getattr(fastbp, "__version__", "?"))), None


def load_subject(standin: bool | None = None) -> Subject | None:
    """The estimator class to benchmark as "fastbp", or None if unavailable."""
    return _load(standin_requested() if standin is None else bool(standin))[0]


def unavailable_reason(standin: bool | None = None) -> str | None:
    return _load(standin_requested() if standin is None else bool(standin))[1]


def import_statement(standin: bool) -> str:
    """Source that binds ``Cls`` to the subject, for fresh subprocesses."""
    if standin:
        return "from sklearn.neural_network import MLPClassifier as Cls"
    return "import fastbp\nCls = fastbp.MLPClassifier"
