"""The toolkit's whole-network kernels, one set per output function.

The entry points of :mod:`fastbp.kernels.network` (normalisation,
dropout, residual connections, gradient clipping, sparse input, every
solver), compiled again for one output function each: they call that
function's loss and output kernels directly (``losses.BY_OUTPUT``)
instead of :func:`~fastbp.kernels.losses.output_loss_delta` and
:func:`~fastbp.kernels.losses.output_activation`, which branch between
all four. A fit then types, lowers and optimises only the one it uses
(about 1 s of a cold toolkit fit and its first ``predict``;
``docs/performance-log.md``). The inner
kernels (forward and backward passes, the optimizer update) are shared
by all four sets, so a second output function compiles only its entry
points. The arithmetic is the same source; as with the default path's
copies, LLVM may vectorise or reassociate it differently in each copy
(fastmath), a few ulps apart.
"""

import types

from .._config import made_once, recompiled
from . import network
from .codes import OUTPUT_NAMES
from .losses import BY_OUTPUT

@made_once
def for_output(out_code):
    """The toolkit's entry points for one output function.

    Made once per process and output function; each compiles (or loads from
    the cache) on its first call, under its own name
    (``train_epoch.full_softmax``, ...).

    Parameters
    ----------
    out_code : int
        Output-function code (``codes.OUT_*``).

    Returns
    -------
    types.SimpleNamespace
        ``train_epoch``, ``loss_and_gradient`` and ``predict``, with the
        signatures of :mod:`fastbp.kernels.network`'s.
    """
    loss_delta, output = BY_OUTPUT[out_code]
    suffix = f"full_{OUTPUT_NAMES[out_code]}"
    return types.SimpleNamespace(
        train_epoch=recompiled(network.train_epoch, f"train_epoch.{suffix}",
                               output_loss_delta=loss_delta),
        # np.arange for sparse X, as in network's own.
        loss_and_gradient=recompiled(network.loss_and_gradient, f"loss_and_gradient.{suffix}",
                                     allocates=True, output_loss_delta=loss_delta),
        predict=recompiled(network.predict, f"predict.{suffix}", allocates=True,
                           output_activation=output))
