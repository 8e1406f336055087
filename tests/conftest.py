"""Test collection.

``tests/cuda`` runs only under the CUDA simulator, which must be enabled
before numba is imported, so it runs in a process of its own:
``tests/test_cuda_simulator.py`` starts it and fails if any of it fails or
skips. Collected in this process, it would run without the simulator.

On a machine with a GPU, ``FASTBP_CUDA_TEST_DEVICE=gpu python -m pytest
tests/cuda`` runs the same suite on the real device instead (see
``tests/cuda/conftest.py``).
"""

import os

_CUDA_SUITE = (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
               or os.environ.get("FASTBP_CUDA_TEST_DEVICE") == "gpu")
collect_ignore = [] if _CUDA_SUITE else ["cuda"]

# A fit that compiles on a cold cache may start a helper process that
# compiles its prediction kernel meanwhile (fastbp.training.ahead), where
# a core is idle: whether it does depends on the machine's load, and tests that count what a process compiles would count
# less when it did. Off in this process and the processes it starts, unless
# the environment says otherwise; tests/test_ahead.py turns it on.
os.environ.setdefault("FASTBP_COMPILE_AHEAD", "0")
