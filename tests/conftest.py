"""Test collection.

``tests/cuda`` runs only under the CUDA simulator, which must be enabled
before numba is imported, so it runs in a process of its own:
``tests/test_cuda_simulator.py`` waits for it and fails if any of it fails
or skips. Collected in this process, it would run without the simulator.
It is started here as soon as the tests are collected, and its test runs
last, so that the rest of the tests run beside it.

On a machine with a GPU, ``FASTBP_CUDA_TEST_DEVICE=gpu python -m pytest
tests/cuda`` runs the same suite on the real device instead (see
``tests/cuda/conftest.py``).
"""

import os

import pytest

_CUDA_SUITE = (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
               or os.environ.get("FASTBP_CUDA_TEST_DEVICE") == "gpu")
collect_ignore = [] if _CUDA_SUITE else ["cuda"]

# A fit that compiles on a cold cache may start a helper process that
# compiles its prediction kernel meanwhile (fastbp.training.ahead), where
# a core is idle: whether it does depends on the machine's load, and tests that count what a process compiles would count
# less when it did. Off in this process and the processes it starts, unless
# the environment says otherwise; tests/test_ahead.py turns it on.
os.environ.setdefault("FASTBP_COMPILE_AHEAD", "0")


@pytest.fixture
def split_epochs(monkeypatch):
    """The SplitEpoch runners that fits create, recorded (a list)."""
    from fastbp.training import split, stochastic

    made = []

    class Recorded(split.SplitEpoch):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(stochastic, "SplitEpoch", Recorded)
    return made


_SIMULATOR_TEST = "test_cuda_simulator.py::test_cuda_simulator_suite"


@pytest.hookimpl(trylast=True)  # after -k and -m deselect what they do
def pytest_collection_modifyitems(config, items):
    suite = [item for item in items if item.nodeid.endswith(_SIMULATOR_TEST)]
    if not suite or _CUDA_SUITE:
        return
    # Waited for last; started now, in its own process on the other core.
    items[:] = [item for item in items if item not in suite] + suite
    config.fastbp_simulator = suite[0].module.start_suite()
    config.fastbp_simulator_stop = suite[0].module.stop_suite


def pytest_unconfigure(config):
    # A run cut short (or one that never reached the test) stops it.
    started = getattr(config, "fastbp_simulator", None)
    if started is not None:
        config.fastbp_simulator_stop(started)
