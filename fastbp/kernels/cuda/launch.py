"""Kernel launches whose arguments are marshalled once.

``kernel[grid, block](*args)`` costs numba-cuda a typing pass over every
argument (to find the compiled kernel), a launch configuration (with its
grid-size check), and, per array, a Python walk that turns it into its
``5 + 2 * ndim`` kernel parameters. For fastbp's kernels, six or seven flat
arrays and a dozen scalars each, that was 78 to 128 us per launch on an H200
machine's host (``bench/gpu_check.py``, 2026-12-04): 2.5 to 4 times the
kernels' own time at batch 32, so every step waited for the host.

A :class:`Launch` does that work once: it keeps the marshalled parameter
list and, per launch, rewrites only the scalars that change between steps
(the batch's row count and offset, the step count, the record row) before
calling ``cuda.core.launch`` as numba-cuda does. ``kernels.cuda.network``
keeps a fit's launches between its driver calls (an epoch runs in slices)
and reuses one only when :meth:`Launch.matches` the new call: the same
device memory and the same fixed scalars. On the H200 machine the host's cost fell from 120
to 16 us per launch at batch 1024 (``bench/gpu_check.py``), and steps at
batch 32 became bound by the kernels' own time.

A launch straight through ``cuLaunchKernel`` with a parameter array built
once was tried too: it measured 19 us per launch, no faster (cuda-python's
wrapper has its own cost), and was not kept.

It reads numba-cuda's launch internals (``_Kernel._prepare_args``, the
compiled function), which the 0.30 series (in maintenance) keeps; anything
missing, and the simulator, fall back to the plain launch with the same
arguments, so results never depend on the path.
``FASTBP_CUDA_LAUNCH=plain`` forces the fallback, to compare.
"""

import collections
import ctypes
import os
import warnings

import numpy as np

from numba import config

from .compat import numba_cuda

#: How launches go: ``"marshalled"`` (parameters marshalled once, then
#: ``cuda.core.launch`` as numba-cuda calls it) or ``"plain"``
#: (``kernel[grid, block](*args)``). From ``FASTBP_CUDA_LAUNCH``; a
#: benchmark may set it between fits to compare them.
MODE = "plain" if os.environ.get("FASTBP_CUDA_LAUNCH") == "plain" else "marshalled"

#: How many :class:`Launch` objects took each path (read by benchmarks).
PATHS = collections.Counter()


class Launch:
    """``dispatcher[grid, block](*args)``, marshalled once.

    Parameters
    ----------
    dispatcher : numba.cuda dispatcher
        A kernel from :func:`fastbp._config.cuda_kernel`.
    grid, block : int or tuple of int
    args : sequence
        Every argument, as for a plain launch.
    varying : sequence of int
        Positions in ``args`` of the scalars (integers, floats, booleans)
        that each call passes anew, in that order.
    """

    def __init__(self, dispatcher, grid, block, args, varying=()):
        self.dispatcher = dispatcher
        self.grid = grid
        self.block = block
        self.args = list(args)
        self.varying = tuple(varying)
        self._fast = None
        self._configured = None
        if config.ENABLE_CUDASIM:
            pass
        elif MODE == "marshalled":
            try:
                self._fast = _Marshalled(dispatcher, grid, block, self.args, self.varying)
            except Exception as exc:  # noqa: BLE001 - an internal that moved
                if type(exc).__name__ in ("TypingError", "LoweringError", "UnsupportedError"):
                    raise  # the kernel's own error, not the launch path's
                _fall_back(exc)
        if self._fast is None and not config.ENABLE_CUDASIM:
            self._configured = _configure(dispatcher, grid, block)
        # A benchmark's tally (not exact under threads).
        PATHS[self.path] += 1

    def matches(self, dispatcher, grid, block, args):
        """Whether this launch can serve ``dispatcher[grid, block](*args)``:
        the same kernel and configuration, and every argument outside
        ``varying`` the same scalar value, or an array at the same device
        address with the same shape, strides and type (what is
        marshalled)."""
        if dispatcher is not self.dispatcher or grid != self.grid or block != self.block \
                or len(args) != len(self.args):
            return False
        varying = self.varying
        # A varying scalar is written into the holder marshalled for its
        # first value: it must keep that type.
        return all(type(a) is type(b) if p in varying else _same(a, b)
                   for p, (a, b) in enumerate(zip(args, self.args)))

    @property
    def path(self):
        """How calls launch: ``"marshalled"`` or ``"plain"`` (see
        :data:`MODE`)."""
        return "plain" if self._fast is None else "marshalled"

    def __call__(self, *values):
        """Launch with ``values`` for the ``varying`` arguments."""
        if self._fast is not None:
            self._fast(values)
            return
        args = self.args
        for position, value in zip(self.varying, values):
            args[position] = value
        if self._configured is not None:
            self._configured(*args)
        else:
            # Configured anew each time: the simulator's ``kernel[grid,
            # block]`` reconfigures the kernel object itself.
            _configure(self.dispatcher, self.grid, self.block)(*args)


def _same(a, b):
    """Whether ``a`` marshals as ``b`` did (see :meth:`Launch.matches`)."""
    if isinstance(a, np.ndarray):
        # A host array is copied to the device when marshalled: a kept
        # launch would read the copy, not the array's current values.
        return False
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (bool, int, float, np.generic)):
        return bool(a == b)
    ai = getattr(a, "__cuda_array_interface__", None)
    bi = getattr(b, "__cuda_array_interface__", None)
    if ai is None:
        # The simulator's device arrays wrap host memory and expose it.
        ai = getattr(a, "__array_interface__", None)
        bi = getattr(b, "__array_interface__", None)
    if ai is not None and bi is not None:
        return (ai["data"][0] == bi["data"][0] and ai["shape"] == bi["shape"]
                and ai["strides"] == bi["strides"] and ai["typestr"] == bi["typestr"])
    return False


_warned = []


def _fall_back(exc):
    """Say once per process why launches take numba-cuda's own path."""
    if not _warned:
        _warned.append(exc)
        warnings.warn(
            "fastbp's CUDA launches fall back to numba-cuda's own argument marshalling, "
            f"which costs the host about 100 us per launch ({type(exc).__name__}: {exc}). "
            "Training is slower but computes the same.", RuntimeWarning, stacklevel=4)


def _configure(dispatcher, grid, block):
    """``dispatcher[grid, block]`` without numba-cuda's warning that a grid
    under 128 blocks under-uses the GPU: a small network's grids are small
    by design, and the warning would repeat for every layer of every fit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Grid size")
        return dispatcher[grid, block]


class _Marshalled:
    """The parameter list of one compiled kernel, and setters for the
    varying scalars in it."""

    def __init__(self, dispatcher, grid, block, args, varying):
        from numba.cuda import dispatcher as numba_dispatcher

        numba_cuda()
        configured = _configure(dispatcher, grid, block)
        kernel = dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
        if getattr(kernel, "debug", False) or getattr(kernel, "cooperative", False) \
                or getattr(kernel, "extensions", None) \
                or getattr(kernel, "launch_config_sensitive", False):
            raise NotImplementedError("debug, cooperative, extended or launch-configuration-"
                                      "sensitive kernels launch plainly")
        params = []
        starts = []
        for ty, value in zip(kernel.argument_types, args):
            starts.append(len(params))
            kernel._prepare_args(ty, value, configured.stream, [], params)
        self.setters = []
        for position in varying:
            at = starts[position]
            current = params[at]
            if isinstance(current, (ctypes.c_int64, ctypes.c_int32, ctypes.c_uint64,
                                    ctypes.c_double, ctypes.c_float)):
                self.setters.append((at, current))
            elif isinstance(current, bool):
                self.setters.append((at, None))
            else:
                raise NotImplementedError(f"argument {position} is not a scalar")
        self.params = params
        if numba_dispatcher.CUDA_CORE_GE_1_0:
            cfg = numba_dispatcher.LaunchConfig(
                grid=configured.griddim, block=configured.blockdim,
                shmem_size=configured.sharedmem, is_cooperative=False)
        else:  # pragma: no cover - older cuda.core
            cfg = numba_dispatcher.LaunchConfig(
                grid=configured.griddim, block=configured.blockdim,
                shmem_size=configured.sharedmem, cooperative_launch=False)
        self.head = (configured.stream, cfg, kernel._codelibrary.get_cufunc().kernel)
        self.launch = numba_dispatcher.launch

    def __call__(self, values):
        params = self.params
        for (at, holder), value in zip(self.setters, values):
            if holder is None:
                params[at] = bool(value)
            else:
                # ctypes scalars: cuda.core reads their value at the launch.
                holder.value = value
        self.launch(*self.head, *params)
