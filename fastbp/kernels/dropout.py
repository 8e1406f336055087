"""Inverted dropout with a counter-based generator owned by the kernel.

Masks are drawn inside the compiled epoch from a splitmix64 stream whose
state lives in a caller-owned ``uint64`` array, so the same seed gives the
same masks on any thread, with no Python per batch and no global state.
"""

import numpy as np

from .._config import kernel
from .activations import cpu_scalar
from .dtypes import like
from .scalar import SPLITMIX_GOLDEN

splitmix_mix = cpu_scalar.splitmix_mix

_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@kernel
def next_uniform(state):
    """Next draw in [0, 1) from the splitmix64 stream in ``state[0]``."""
    s = state[0] + SPLITMIX_GOLDEN
    state[0] = s
    return (splitmix_mix(s) >> _S11) * _TO_UNIT


@kernel
def dropout_forward(a, rate, state, mask, out):
    """``out = a * mask`` with ``mask`` 0 (probability ``rate``) or ``1/(1-rate)``.

    Parameters
    ----------
    a : ndarray of shape (n_samples, n_units)
    rate : float
        Drop probability in [0, 1).
    state : ndarray of uint64, shape (1,)
        Generator state, advanced in place.
    mask : ndarray of shape (n_samples, n_units)
        Receives the mask (kept for the backward pass).
    out : ndarray of shape (n_samples, n_units)
    """
    n, m = a.shape
    keep = like(1, a) / (like(1, a) - rate)
    zero = like(0, a)
    for i in range(n):
        for j in range(m):
            w = keep if next_uniform(state) >= rate else zero
            mask[i, j] = w
            out[i, j] = a[i, j] * w
