"""The regression target's scaler in the models ``fastbp train --data``
saves (a module of its own: :mod:`fastbp.persistence` trusts it by name)."""

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = ["TargetScaler"]


class TargetScaler(StandardScaler):
    """``StandardScaler`` of a regression target, whose ``inverse_transform``
    works in float64.

    The network predicts the standardised target in its own dtype; put
    back in the target's units in float32, predictions near a mean of 1e9
    fell on a grid of 64 units, and a model with a training loss of 9e-4
    scored R2 -0.01 (rev-300). In float64 the model's precision is
    relative to the target's spread, not to its offset.
    """

    def inverse_transform(self, X, copy=None):
        """Scale ``X`` back to the target's units, in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Standardised values, in any float dtype.
        copy : bool, default=None
            As :meth:`sklearn.preprocessing.StandardScaler.inverse_transform`.

        Returns
        -------
        ndarray of shape (n_samples, 1), float64
        """
        return super().inverse_transform(np.asarray(X, dtype=np.float64), copy=copy)
