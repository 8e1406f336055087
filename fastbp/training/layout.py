"""Where each layer's parameters live in the flat parameter buffer."""

import numpy as np


class NetworkLayout:
    """Offsets of every layer's weights and bias in one flat buffer.

    All weights come first, layer by layer, each ``(fan_in, fan_out)`` in C
    order, then all biases: scikit-learn's ``_pack`` order, so that L-BFGS
    sees the same vector as scikit-learn's and the optimizers can treat the
    penalised part (weights) as one contiguous range.

    Parameters
    ----------
    units : sequence of int
        Layer widths, input first, output last.
    """

    def __init__(self, units):
        self.units = np.asarray(units, dtype=np.int64)
        fan_in, fan_out = self.units[:-1], self.units[1:]
        w_sizes = fan_in * fan_out
        self.w_off = np.concatenate(([0], np.cumsum(w_sizes)[:-1])).astype(np.int64)
        self.n_weights = int(w_sizes.sum())
        self.b_off = (self.n_weights
                      + np.concatenate(([0], np.cumsum(fan_out)[:-1]))).astype(np.int64)
        self.n_params = self.n_weights + int(fan_out.sum())

    @property
    def n_layers(self):
        return len(self.units)

    def pack(self, coefs, intercepts, dtype):
        """Copy per-layer arrays into a new flat buffer of ``dtype``.

        Returns
        -------
        params : ndarray of shape (n_params,)
        """
        params = np.empty(self.n_params, dtype=dtype)
        for l, (w, b) in enumerate(zip(coefs, intercepts)):
            params[self.w_off[l]:self.w_off[l] + w.size] = np.ravel(w)
            params[self.b_off[l]:self.b_off[l] + b.size] = b
        return params

    def unpack(self, params):
        """Per-layer views into ``params``.

        Returns
        -------
        coefs : list of ndarray of shape (fan_in, fan_out)
        intercepts : list of ndarray of shape (fan_out,)
        """
        coefs, intercepts = [], []
        for l in range(self.n_layers - 1):
            fi, fo = int(self.units[l]), int(self.units[l + 1])
            coefs.append(params[self.w_off[l]:self.w_off[l] + fi * fo].reshape(fi, fo))
            intercepts.append(params[self.b_off[l]:self.b_off[l] + fo])
        return coefs, intercepts
