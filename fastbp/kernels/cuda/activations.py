"""Hidden-layer activations on the GPU: the scalar maths of
:mod:`fastbp.kernels.scalar` compiled as device functions, and the per-unit
tail of the forward pass shared by every kernel that produces a layer's
output (the GEMM epilogue and the normalisation kernels).
"""

from numba import cuda

from ..._config import cuda_device
from .. import scalar
from ..network import A_OFF, AL_OFF, M_OFF, N_NET_ROWS, O_OFF, RES
from .dropout import keep_weight

gpu_scalar = scalar.compile_for(cuda_device)
sigmoid = gpu_scalar.sigmoid
softplus = gpu_scalar.softplus
activate = gpu_scalar.activate
derivative = gpu_scalar.derivative

# Rows of the GPU's single layout table: ``net`` then ``buf``.
B = N_NET_ROWS


@cuda_device
def finish_unit(l, i, j, m, a, tab, acts, masks, alive, drop, seed, step, training):
    """Store unit ``(i, j)`` of hidden layer ``l`` given its activation ``a``.

    Records the unit for dead-unit tracking, applies dropout and the
    residual connection, and writes ``a`` and the layer output, as the CPU's
    ``forward_hidden`` does after its activation.

    Parameters
    ----------
    l, i, j, m : int
        Layer, batch row, unit, layer width.
    a : float
        ``f(u)`` of the unit.
    tab : ndarray of int64, shape (N_NET_ROWS + N_BUF_ROWS, n_layers)
        ``net`` and ``buf`` stacked.
    acts, masks, alive : ndarray
        Work buffers (flat).
    drop : float
        Dropout rate of the layer.
    seed, step : int
        Dropout stream and update number.
    training : bool
    """
    k = i * m + j
    acts[tab[B + A_OFF, l] + k] = a
    o = a
    if training:
        al = tab[B + AL_OFF, l]
        if al >= 0:
            cuda.atomic.max(alive, al + j, a)
        if drop > 0:
            w = keep_weight(seed, step, l, i, j, drop)
            masks[tab[B + M_OFF, l] + k] = w
            o = a * w
    if tab[RES, l] == 1:
        o += acts[tab[B + O_OFF, l - 1] + k]
    acts[tab[B + O_OFF, l] + k] = o
