"""Test collection.

``tests/cuda`` runs only under the CUDA simulator, which must be enabled
before numba is imported, so it runs in a process of its own:
``tests/test_cuda_simulator.py`` starts it and fails if any of it fails or
skips. Collected in this process, it would run without the simulator.
"""

import os

collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["cuda"]
