"""The default path's whole-network kernels.

The functions of :mod:`fastbp.kernels.network`, compiled again with its
``TOOLKIT`` switch off: Numba prunes the branches of normalisation, dropout,
residual connections, gradient clipping and sparse input before typing
them, so the kernels that most fits run (dense input, none of those
options) compile about a quarter faster on a cold cache. The arithmetic is
the same source; the trainer picks this module where it applies
(``fastbp.training.backend``), and the full one otherwise.
"""

from .._config import recompiled
from . import network


def _lean(name, **callees):
    return recompiled(getattr(network, name), f"{name}.lean", TOOLKIT=False, **callees)


linear = _lean("linear")
forward_hidden = _lean("forward_hidden", linear=linear)
backward = _lean("backward")
_network = dict(linear=linear, forward_hidden=forward_hidden, backward=backward)
train_epoch = _lean("train_epoch", **_network)
loss_and_gradient = _lean("loss_and_gradient", **_network)
predict = _lean("predict", linear=linear, forward_hidden=forward_hidden)
