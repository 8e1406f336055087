"""Output functions with their loss and delta on the GPU: one thread per
row, running the row maths of :mod:`fastbp.kernels.scalar`."""

from numba import cuda

from ..._config import cuda_device, cuda_kernel
from .. import scalar
from ..dtypes import like
from ..network import B_OFF, D_OFF, O_OFF, UNITS
from .activations import B

gpu_scalar = scalar.compile_for(cuda_device)
output_row = gpu_scalar.output_row
loss_delta_row = gpu_scalar.loss_delta_row


@cuda_kernel
def output_loss_delta(nb, tab, params, acts, deltas, Y, sw, has_sw, perm, p0, use_perm,
                      y_buf, code, log_eps, log1m_eps, record, at):
    """Output function, weighted loss and output delta of ``nb`` rows.

    Row ``i``'s targets are ``Y[perm[p0 + i]]`` (``Y[p0 + i]`` without
    ``use_perm``), gathered into ``y_buf``; ``sum_i sw_i loss_i`` is added
    to ``record[at]``.
    """
    i = cuda.grid(1)
    if i >= nb:
        return
    nl = tab.shape[1] - 1
    m = tab[UNITS, nl]
    r = perm[p0 + i] if use_perm else p0 + i
    y = y_buf[i * m:(i + 1) * m]
    for j in range(m):
        y[j] = Y[r, j]
    w = sw[r] if has_sw else like(1, params)
    o = tab[B + O_OFF, nl] + i * m
    d = tab[B + D_OFF, nl] + i * m
    b = tab[B_OFF, nl - 1]
    loss = loss_delta_row(acts[o:o + m], params[b:b + m], y, w, code, log_eps, log1m_eps,
                          deltas[d:d + m])
    cuda.atomic.add(record, at, w * loss)


@cuda_kernel
def output_activation(nb, tab, params, acts, code, out, row0):
    """``out[row0 + i] = out_function(z_i + bias)`` for ``i < nb``."""
    i = cuda.grid(1)
    if i >= nb:
        return
    nl = tab.shape[1] - 1
    m = tab[UNITS, nl]
    o = tab[B + O_OFF, nl] + i * m
    row = out[row0 + i]
    for j in range(m):
        row[j] = acts[o + j]
    b = tab[B_OFF, nl - 1]
    output_row(row, params[b:b + m], code)
