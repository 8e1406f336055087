"""The records that whole-network kernels take, shared by both backends.

A whole-network kernel takes a handful of records rather than dozens of
positional arguments: the same records serve the CPU kernels (Numba passes a
named tuple by value, its fields typed one by one) and the CUDA backend
(whose host-side driver unpacks them into few, flat, kernel arguments).
Every float field of one call shares one dtype, so each kernel compiles once
per dtype.
"""

from collections import namedtuple

#: The input ``X``: dense, or CSR (the unused side empty, so that one
#: specialisation serves both). See ``fastbp.training.data.KernelInput``.
Inputs = namedtuple("Inputs", "X data indices indptr is_sparse")

#: Training targets ``Y`` (n_samples, n_outputs) and sample weights ``sw``
#: (read only when ``has_sw``).
Targets = namedtuple("Targets", "Y sw has_sw")

#: The layout tables ``net`` and ``buf`` (int64, see ``kernels.network``),
#: per-layer dropout rates ``drops`` and the normalisation code ``norm``.
Tables = namedtuple("Tables", "net buf drops norm")

#: Work buffers: activations, dropout masks, deltas, normalisation
#: statistics, batch-norm running statistics, the dead-unit tracker, the
#: dropout generator state (uint64, shape (1,)), the raw gradient, and the
#: gathered batch targets and weights.
Work = namedtuple("Work", "acts masks deltas stats running alive rng grads y_buf sw_buf")

#: Optimizer state over the flat buffer: parameters and the solver's two
#: per-parameter state vectors.
Solver = namedtuple("Solver", "params state_1 state_2")

#: Scalar hyper-parameters. ``n_weights`` ends the penalised part of the
#: flat buffer; ``out_code`` selects the loss, which clips its probabilities
#: (or log-probabilities) to ``prob_lo`` and ``prob_hi``
#: (:func:`fastbp.training.spec.clipping_bounds`); ``bn_momentum``,
#: ``norm_eps`` drive normalisation; ``solver`` ...
#: ``clip`` drive the update (``clip`` 0 disables clipping). ``beta_1c`` and
#: ``beta_2c`` are ``1 - beta_1`` and ``1 - beta_2`` computed in double and
#: rounded once to the dtype: ``1 - float32(0.999)`` is 1.3e-5 off ``0.001``
#: (relative), an error rmsprop's step and adam's bias correction inherited.
Hyper = namedtuple(
    "Hyper",
    "n_weights out_code prob_lo prob_hi bn_momentum norm_eps solver lr momentum "
    "nesterov beta_1 beta_2 beta_1c beta_2c epsilon alpha l1 clip")

#: One part of a split mini-batch step (:mod:`fastbp.kernels.split`): its
#: number ``part`` of ``n_parts``, a scratch ``buf`` table (int64, the shape
#: of ``Tables.buf``) for its rows' offsets, and the barrier counters
#: ``sync`` (int64, ``sync.sync_size(n_parts)``) shared by the parts.
Split = namedtuple("Split", "part n_parts buf sync")
