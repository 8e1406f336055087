"""Inverted dropout on the GPU with a counter-based generator.

Each mask entry is a hash (splitmix64's finaliser) of the stream seed, the
update number, the layer and the entry's position: no generator state per
thread, the same masks whatever the launch configuration, and no
synchronisation. The masks differ from the CPU's sequential stream.
"""

import numpy as np

from ..._config import cuda_device
from ..dtypes import like
from ..scalar import SPLITMIX_GOLDEN
# The losses module's compiled scalars: the activations module's would be a
# circular import (it imports this module).
from .losses import gpu_scalar

splitmix_mix = gpu_scalar.splitmix_mix

_S40 = np.uint64(40)
_STEP_MUL = np.uint64(0xD1B54A32D192ED03)
_LAYER_MUL = np.uint64(0x8CB92BA72F3D8DD7)
_ROW_MUL = np.uint64(0xABC98388FB8FAC03)


@cuda_device
def keep_weight(seed, step, l, i, j, rate):
    """The mask entry of unit ``(i, j)`` of layer ``l`` at update ``step``:
    0 with probability ``rate``, else ``1 / (1 - rate)``, in ``rate``'s type.

    The uniform draw keeps 24 bits, exactly representable in float32.
    """
    x = splitmix_mix(np.uint64(seed) + SPLITMIX_GOLDEN + np.uint64(step) * _STEP_MUL
            + np.uint64(l) * _LAYER_MUL + np.uint64(i) * _ROW_MUL + np.uint64(j))
    u = like(x >> _S40, rate) * like(5.9604644775390625e-08, rate)  # 2**-24
    one = like(1, rate)
    return one / (one - rate) if u >= rate else like(0, rate)
