"""The CUDA twins of :mod:`fastbp.kernels`, imported only when asked for.

Modules mirror the CPU kernels name for name: ``activations``, ``losses``,
``optimizers``, ``normalization``, ``dropout``, ``sparse`` and ``network``
(``train_epoch``, ``loss_and_gradient``, ``predict``), plus ``gemm``, the
tiled matrix products with their fused epilogues. The scalar maths comes
from :mod:`fastbp.kernels.scalar`, compiled here as device functions.

Importing this package imports nothing from ``numba.cuda``;
:func:`device_status` says whether the backend can run, and the submodules
import ``numba.cuda`` themselves.
"""

_INSTALL = 'pip install "fastbp[cuda]"'


def device_status():
    """Why ``device="cuda"`` cannot run here, or None when it can.

    Returns
    -------
    str or None
        A message naming what is missing (the numba-cuda package, a driver,
        a GPU) and how to install it.
    """
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - numba is a dependency
        return f"device='cuda' needs numba.cuda, which failed to import ({exc})."
    if getattr(cuda, "implementation", None) != "NVIDIA":
        return ("device='cuda' needs NVIDIA's numba-cuda package (numba's own built-in "
                f"numba.cuda is deprecated and not supported). Install it with: {_INSTALL}")
    try:
        available = cuda.is_available()
    except Exception as exc:  # a broken driver raises instead of answering
        return (f"device='cuda' found no usable CUDA driver ({type(exc).__name__}: {exc}). "
                "Install an NVIDIA driver (>= 525 for CUDA 12) and the GPU packages with: "
                f"{_INSTALL}")
    if not available:
        return ("device='cuda' found no usable NVIDIA GPU: numba.cuda.is_available() is "
                "False (no GPU, no NVIDIA driver, or no CUDA libraries). On a machine with "
                f"an NVIDIA GPU and driver >= 525, install the GPU packages with: {_INSTALL}. "
                "Use device='cpu' otherwise.")
    return None
