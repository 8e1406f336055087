"""The CUDA simulator suite: tiny tiles and blocks, so that simulated
launches stay fast and every product spans several blocks."""

import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":  # pragma: no cover
    raise RuntimeError("tests/cuda runs under NUMBA_ENABLE_CUDASIM=1 (see "
                       "tests/test_cuda_simulator.py)")

from fastbp.kernels.cuda import network  # noqa: E402

network.configure(tiles=(4, 4, 4, 2, 2), threads=8)


@pytest.fixture(autouse=True)
def _quiet_uint64_overflow():
    """The dropout hash multiplies uint64 scalars, which wrap on purpose;
    NumPy warns about it when the simulator runs the kernels as Python."""
    import numpy as np

    with np.errstate(over="ignore"):
        yield
