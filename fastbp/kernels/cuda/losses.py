"""Output functions with their loss and delta on the GPU: one thread per
row, running the row maths of :mod:`fastbp.kernels.scalar`."""

from numba import cuda

from ..._config import cuda_device, cuda_kernel
from .. import scalar
from ..dtypes import like

gpu_scalar = scalar.compile_for(cuda_device)
output_row = gpu_scalar.output_row
loss_delta_row = gpu_scalar.loss_delta_row


@cuda_kernel
def output_loss_delta(nb, params, bias_at, z, delta, Y, sw, has_sw, perm, p0, use_perm, y,
                      code, prob_lo, prob_hi, record, at):
    """Output function, weighted loss and output delta of ``nb`` rows.

    ``z``, ``delta`` and ``y`` are 2-D views of the output layer's work
    buffers that the host builds once per call (a reshape inside the kernel
    costs integer-to-float64 size checks); the bias is
    ``params[bias_at:bias_at + m]``.
    Row ``i``'s targets are ``Y[perm[p0 + i]]`` (``Y[p0 + i]`` without
    ``use_perm``), gathered into ``y``; ``sum_i sw_i loss_i / P`` is added to
    ``record[at]``, ``P`` the power of two at least ``z.shape[0]`` (the
    largest batch, :func:`loss_unit`).
    """
    i = cuda.grid(1)
    if i >= nb:
        return
    m = z.shape[1]
    r = perm[p0 + i] if use_perm else p0 + i
    for j in range(m):
        y[i, j] = Y[r, j]
    w = sw[r] if has_sw else like(1, params)
    loss = loss_delta_row(z, i, params[bias_at:bias_at + m], y, w, code, prob_lo, prob_hi,
                          delta)
    # The record is in the model's dtype, where the sum of a batch's finite
    # row losses can overflow a float32 (the CPU sums them in a float64):
    # each term divided by P, the sum stays below the largest term. Division
    # by a power of two is exact, so the host's product by P gives back the
    # sum the plain atomic adds gave.
    unit = 1
    while unit < z.shape[0]:
        unit *= 2
    cuda.atomic.add(record, at, (w * loss) / like(unit, params))


def loss_unit(rows):
    """``P``, by which :func:`output_loss_delta` divides each weighted row
    loss of batches of at most ``rows`` rows: the power of two at least
    ``rows``."""
    return 1 << max(int(rows) - 1, 0).bit_length()


@cuda_kernel
def output_activation(nb, params, bias_at, z, code, out, row0):
    """``out[row0 + i] = out_function(z[i] + bias)`` for ``i < nb`` (the
    bias is ``params[bias_at:bias_at + m]``)."""
    i = cuda.grid(1)
    if i >= nb:
        return
    m = z.shape[1]
    r = row0 + i
    for j in range(m):
        out[r, j] = z[i, j]
    output_row(out, r, params[bias_at:bias_at + m], code)
