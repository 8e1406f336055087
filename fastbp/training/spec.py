"""What the trainer needs to know about a network beyond its parameters."""

from dataclasses import dataclass, field

import numpy as np

from ..kernels import codes
from .layout import NetworkLayout

# PyTorch's defaults for batch and layer normalisation.
BN_MOMENTUM = 0.1
NORM_EPS = 1e-5


@dataclass
class NetworkSpec:
    """Architecture and per-layer options of one network.

    Parameters
    ----------
    layout : NetworkLayout
    out_code : int
        Output function (``codes.OUT_*``).
    dropout : sequence of float, optional
        Dropout rate of each hidden layer.
    """

    layout: NetworkLayout
    out_code: int
    dropout: tuple = ()
    drops: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        drops = np.zeros(self.layout.n_layers)
        if len(self.dropout):
            drops[1:-1] = self.dropout
        self.drops = drops

    @property
    def norm(self):
        return self.layout.norm

    @property
    def has_dropout(self):
        return bool(np.any(self.drops > 0))

    @property
    def tracks_dead_units(self):
        return bool(np.any(self.layout.activations[1:-1] == codes.RELU))


def build_spec(units, activations, normalization, residual, dropout, out_code):
    """A :class:`NetworkSpec` from names: activation codes, normalisation code,
    residual flags and dropout rates per hidden layer."""
    layout = NetworkLayout(units, activations, normalization, residual)
    return NetworkSpec(layout, out_code, tuple(dropout))
