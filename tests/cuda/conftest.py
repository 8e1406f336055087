"""The CUDA suite: tiny tiles and blocks, so that simulated launches stay
fast and every product spans several blocks.

It runs under the simulator in CI (``NUMBA_ENABLE_CUDASIM=1``, started by
``tests/test_cuda_simulator.py``), or on a real GPU with
``FASTBP_CUDA_TEST_DEVICE=gpu``. On a GPU, ``FASTBP_CUDA_TEST_TILES=default``
keeps the production tiles and block size instead of the tiny ones, so that
the configuration users run is the one tested.
"""

import os

import pytest

_SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
_ON_GPU = os.environ.get("FASTBP_CUDA_TEST_DEVICE") == "gpu"
if not (_SIMULATOR or _ON_GPU):  # pragma: no cover
    raise RuntimeError("tests/cuda runs under NUMBA_ENABLE_CUDASIM=1 (see "
                       "tests/test_cuda_simulator.py), or on a GPU with "
                       "FASTBP_CUDA_TEST_DEVICE=gpu")

from fastbp.kernels.cuda import network  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _tiny_tiles():
    """Tiny tiles and blocks for this suite's modules only (on a GPU, other
    CUDA tests of the same process keep the production sizes)."""
    before = network.TILES, network.THREADS
    if _SIMULATOR or os.environ.get("FASTBP_CUDA_TEST_TILES") != "default":
        network.configure(tiles=(4, 4, 4, 2, 2), threads=8)
    yield
    network.configure(tiles=before[0], threads=before[1])


@pytest.fixture(autouse=True)
def _quiet_uint64_overflow():
    """The dropout hash multiplies uint64 scalars, which wrap on purpose;
    NumPy warns about it when the simulator runs the kernels as Python."""
    import numpy as np

    with np.errstate(over="ignore"):
        yield
