"""The CUDA twins of :mod:`fastbp.kernels`, imported only when asked for.

The modules mirror the CPU's by name: ``activations``, ``losses``,
``optimizers``, ``normalization``, ``dropout``, ``sparse`` and ``network``,
whose entry points (``train_epoch``, ``loss_and_gradient``, ``predict``)
the trainer calls alike on both; plus ``gemm``, the tiled matrix products
with their fused epilogues, and ``launch`` and ``compat``. Inside a module
the functions follow the GPU's own structure (one thread per row or
element, products fused with their epilogues, a CSR batch densified before
its product), so their names differ from the CPU's array kernels where the
work is split differently. The scalar maths comes from
:mod:`fastbp.kernels.scalar`, compiled here as device functions.

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
        return _why_no_gpu()
    if not _simulated() and not _compilers_available():
        # A GPU with numba-cuda installed without its CUDA 12 extra: the
        # first kernel would fail to compile, with numba-cuda's message.
        return ("device='cuda' found a GPU, but not the CUDA compiler libraries (NVVM) "
                f"that compile fastbp's kernels. Install them with: {_INSTALL}")
    return None


def _simulated():
    """Whether numba-cuda's simulator runs the kernels (it compiles none)."""
    from numba import config

    return bool(getattr(config, "ENABLE_CUDASIM", False))


def _compilers_available():
    """Whether numba-cuda finds NVVM, the compiler of its kernels."""
    try:
        from numba.cuda.cudadrv import nvvm
        return bool(nvvm.is_available())
    except Exception:
        return False


def _why_no_gpu():
    """Which of the driver and the compiler libraries is missing, where
    ``numba.cuda.is_available()`` is False: installing the packages again
    does not help a machine without a driver."""
    import ctypes
    import sys

    compilers = _compilers_available()
    packages = ("the GPU packages (numba-cuda and the CUDA compiler libraries) are installed"
                if compilers else
                f"the CUDA compiler libraries are missing too: install them with {_INSTALL}")
    try:
        ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return ("device='cuda' found no NVIDIA driver (libcuda cannot be loaded): this "
                "machine has no NVIDIA GPU, or its driver (>= 525 for CUDA 12) is not "
                f"installed; {packages}. Use device='cpu' here.")
    return ("device='cuda' found no usable NVIDIA GPU: the driver loads, but "
            "numba.cuda.is_available() is False (no GPU visible to this process: check "
            f"nvidia-smi and CUDA_VISIBLE_DEVICES); {packages}.")
