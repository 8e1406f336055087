"""The default path's whole-network kernels, one set per output function.

The functions of :mod:`fastbp.kernels.network` and the optimizer update of
:mod:`fastbp.kernels.optimizers`, compiled again with their ``TOOLKIT``
switches off: Numba prunes the branches of normalisation, dropout, residual
connections, gradient clipping, sparse input and of the solvers
scikit-learn lacks before typing them. Each output function (softmax,
logistic, identity, exp) gets its own copy of the entry points, which
calls that function's loss and output kernels directly
(``losses.BY_OUTPUT``), so that a fit compiles only the one it uses. The
kernels that most fits run (dense input, sgd or adam, none of those
options) compile about half as long on a cold cache as the toolkit's.

The arithmetic is the same source, and gives the same bits for sgd and
lbfgs; adam's update rounds a few ulps differently per step, since
fastmath lets LLVM reassociate and use reciprocals as it sees fit in each
function. The trainer picks these kernels where they apply
(``NetworkSpec.uses_toolkit``), and the full ones otherwise.
"""

import types

from .._config import made_once, recompiled
from . import activations, network, optimizers, split
from .codes import OUTPUT_NAMES
from .losses import BY_OUTPUT


def _lean(module, name, suffix="lean", **callees):
    return recompiled(getattr(module, name), f"{name}.{suffix}", TOOLKIT=False, **callees)


update_range = _lean(optimizers, "update_range")
optimizer_step = _lean(optimizers, "optimizer_step", update_range=update_range)
linear = _lean(network, "linear")
bias_activation = _lean(activations, "bias_activation")
activation_backward = _lean(activations, "activation_backward")
forward_hidden = _lean(network, "forward_hidden", linear=linear, bias_activation=bias_activation)
backward = _lean(network, "backward", activation_backward=activation_backward)
_network = dict(linear=linear, forward_hidden=forward_hidden, backward=backward)
update_block = _lean(split, "update_block", update_range=update_range)

@made_once
def for_output(out_code):
    """The entry points of the default path for one output function.

    Made once per process and output function; each compiles (or loads from
    the cache) on its first call, under its own name
    (``train_epoch.lean_softmax``, ...).

    Parameters
    ----------
    out_code : int
        Output-function code (``codes.OUT_*``).

    Returns
    -------
    types.SimpleNamespace
        ``train_epoch``, ``loss_and_gradient`` and ``predict``, with the
        signatures of :mod:`fastbp.kernels.network`'s, and
        ``train_epoch_split`` (:mod:`fastbp.kernels.split`).
    """
    loss_delta, output = BY_OUTPUT[out_code]
    suffix = f"lean_{OUTPUT_NAMES[out_code]}"
    return types.SimpleNamespace(
        train_epoch=_lean(network, "train_epoch", suffix,
                          optimizer_step=optimizer_step,
                          output_loss_delta=loss_delta, **_network),
        loss_and_gradient=_lean(network, "loss_and_gradient", suffix,
                                output_loss_delta=loss_delta, **_network),
        predict=_lean(network, "predict", suffix, linear=linear,
                      forward_hidden=forward_hidden, output_activation=output),
        train_epoch_split=_lean(split, "train_epoch_split", suffix,
                                forward_hidden=forward_hidden, linear=linear,
                                update_block=update_block,
                                output_loss_delta=loss_delta))
