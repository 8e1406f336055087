"""Work buffers, allocated once per fit."""

import numpy as np


class Workspace:
    """Activation, delta and gather buffers for batches of ``batch_size``.

    Parameters
    ----------
    layout : NetworkLayout
    batch_size : int
        Most rows one kernel call processes at once.
    dtype : numpy dtype
    dense_input : bool
        Whether layer 0 needs a gather buffer (a sparse X is read in place).
    training : bool
        Allocate the backward-pass buffers too (not needed to predict).
    """

    def __init__(self, layout, batch_size, dtype, dense_input=True, training=True):
        units = layout.units
        act_sizes = batch_size * units
        if not dense_input:
            act_sizes = act_sizes.copy()
            act_sizes[0] = 0
        self.a_off = np.concatenate(([0], np.cumsum(act_sizes)[:-1])).astype(np.int64)
        self.acts = np.empty(int(act_sizes.sum()), dtype=dtype)
        # Layer 0 has no delta: the input needs no gradient.
        delta_sizes = batch_size * units if training else 0 * units
        delta_sizes = np.concatenate(([0], delta_sizes[1:]))
        self.d_off = np.concatenate(([0], np.cumsum(delta_sizes)[:-1])).astype(np.int64)
        self.deltas = np.empty(int(delta_sizes.sum()), dtype=dtype)
        n_grads = layout.n_params if training else 0
        self.grads = np.empty(n_grads, dtype=dtype)
        self.y_buf = np.empty(batch_size * int(units[-1]) if training else 0, dtype=dtype)
        self.sw_buf = np.empty(batch_size if training else 0, dtype=dtype)
        self.batch_size = batch_size
