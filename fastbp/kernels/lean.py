"""The default path's whole-network kernels.

The functions of :mod:`fastbp.kernels.network` and the optimizer update of
:mod:`fastbp.kernels.optimizers`, compiled again with their ``TOOLKIT``
switches off: Numba prunes the branches of normalisation, dropout, residual
connections, gradient clipping, sparse input and of the solvers
scikit-learn lacks before typing them, so the kernels that most fits run
(dense input, sgd or adam, none of those options) compile about 40 %
faster on a cold cache. The arithmetic is the same source, and gives the
same bits for sgd and lbfgs; adam's update rounds a few ulps differently
per step, since fastmath lets LLVM reassociate and use reciprocals as it
sees fit in each function. The trainer picks this module where it applies
(``NetworkSpec.uses_toolkit``), and the full one otherwise.
"""

from .._config import recompiled
from . import network, optimizers


def _lean(module, name, **callees):
    return recompiled(getattr(module, name), f"{name}.lean", TOOLKIT=False, **callees)


update_range = _lean(optimizers, "update_range")
optimizer_step = _lean(optimizers, "optimizer_step", update_range=update_range)
linear = _lean(network, "linear")
forward_hidden = _lean(network, "forward_hidden", linear=linear)
backward = _lean(network, "backward")
_network = dict(linear=linear, forward_hidden=forward_hidden, backward=backward)
train_epoch = _lean(network, "train_epoch", optimizer_step=optimizer_step, **_network)
loss_and_gradient = _lean(network, "loss_and_gradient", **_network)
predict = _lean(network, "predict", linear=linear, forward_hidden=forward_hidden)
