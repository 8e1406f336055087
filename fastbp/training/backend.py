"""Choice of the kernel backend: its kernels and where its arrays live.

The trainer (epoch loop, stopping rules, history, diagnostics) is shared; a
backend differs only in the module of whole-network kernels it runs
(``train_epoch``, ``loss_and_gradient``, ``predict``, taking the records of
:mod:`fastbp.kernels.records`) and in how arrays reach those kernels.

The CPU backend is imported here; the CUDA backend (``fastbp.kernels.cuda``)
is imported only when ``device="cuda"`` is asked for, so that
``import fastbp`` never touches ``numba.cuda``.
"""

DEVICES = ("cpu", "cuda")


class CPUBackend:
    """Kernels of :mod:`fastbp.kernels.network`, compiled per output
    function (:mod:`fastbp.kernels.full`, and :mod:`fastbp.kernels.lean`
    for the default path); arrays stay where they are."""

    name = "cpu"
    #: Whether ``predict`` reports a non-finite dense ``X`` itself
    #: (``codes.INPUT_NOT_FINITE``), so that callers need not scan it.
    checks_input = True

    def __init__(self):
        from ..kernels import full, lean

        self._full, self._lean = full, lean

    def network(self, toolkit, out_code):
        """The whole-network kernels to run for the output function
        ``out_code``: the full ones when the network or its input uses the
        toolkit (``NetworkSpec.uses_toolkit``; :mod:`fastbp.kernels.full`),
        else the lean ones, which compile faster
        (:mod:`fastbp.kernels.lean`)."""
        return (self._full if toolkit else self._lean).for_output(out_code)

    def put(self, value):
        """``value`` as the kernels take it: on the CPU, itself (no copy)."""
        return value

    def fetch(self, src, dst):
        """Copy the kernels' array ``src`` into the host array ``dst``."""
        if src is not dst:
            dst[...] = src

    def load(self, dst, src):
        """Copy the host array ``src`` into the kernels' array ``dst``."""
        if src is not dst:
            dst[...] = src


class CUDABackend:
    """Kernels of ``fastbp.kernels.cuda.network``; arrays live on the GPU.

    ``put`` copies an array, or every array of a record, to the device once;
    ``fetch`` and ``load`` copy between an existing device array and a host
    array.
    """

    name = "cuda"
    checks_input = False

    def __init__(self):
        from ..kernels.cuda import device_status

        problem = device_status()
        if problem is not None:
            raise RuntimeError(problem)
        from ..kernels.cuda import network

        self.kernels = network

    def network(self, toolkit, out_code):
        """The whole-network kernels: on the GPU, one set for every path."""
        return self.kernels

    def put(self, value):
        """``value`` on the GPU: an array, or each array of a record, copied
        to the device (see ``fastbp.kernels.cuda.network.to_device``)."""
        return self.kernels.to_device(value)

    def fetch(self, src, dst):
        if dst.size:
            src.copy_to_host(dst)

    def load(self, dst, src):
        if src.size:
            dst.copy_to_device(src)


_BACKENDS = {}
#: The backend class of each device, for what they say without a GPU.
BACKEND_CLASSES = {"cpu": CPUBackend, "cuda": CUDABackend}


def get_backend(device="cpu"):
    """The backend for ``device``, created once per process.

    Parameters
    ----------
    device : {"cpu", "cuda"}

    Raises
    ------
    RuntimeError
        ``"cuda"`` without a usable GPU, or without the ``numba-cuda``
        package: the message says which, and how to install it.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}.")
    if device not in _BACKENDS:
        _BACKENDS[device] = BACKEND_CLASSES[device]()
    return _BACKENDS[device]
