"""What the trainer needs to know about a network beyond its parameters."""

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from ..kernels import codes
# Re-exported: the estimators translate their parameters into these codes
# and import nothing from the kernels.
from ..kernels.codes import (
    HIDDEN_ACTIVATIONS,
    INPUT_NOT_FINITE,
    NORM_NONE,
    NORMALIZATIONS,
    OUTPUT_FUNCTIONS,
    OUTPUT_NOT_FINITE,
    PARAMS_NOT_FINITE,
    SGD,
    SOLVERS,
)
from ..kernels.records import Hyper
from .layout import NetworkLayout

__all__ = [
    "BN_MOMENTUM", "NORM_EPS", "NetworkSpec", "build_spec", "clipping_bounds",
    "HIDDEN_ACTIVATIONS", "INPUT_NOT_FINITE", "NORM_NONE", "NORMALIZATIONS",
    "OUTPUT_FUNCTIONS", "OUTPUT_NOT_FINITE", "PARAMS_NOT_FINITE", "SGD", "SOLVERS",
]

# PyTorch's defaults for batch and layer normalisation.
BN_MOMENTUM = 0.1
NORM_EPS = 1e-5


def clipping_bounds(dtype, out_code):
    """The bounds ``(lo, hi)`` that the loss of ``out_code`` clips to, in
    ``dtype``.

    scikit-learn clips probabilities to ``[eps, 1 - eps]`` in its log
    losses, ``eps`` the dtype's machine epsilon. The softmax cross-entropy
    works in log space and clips the log-probability to ``log(eps)`` and
    ``log(1 - eps)``; the binary cross-entropy clips the probability itself,
    so it gets ``eps`` and ``1 - eps`` (both exact: ``eps`` is a power of
    two). Passing the logistic loss its own bounds spares the kernel a
    function that would rebuild them from the logs, one more to compile on a
    cold first fit. The other losses do not clip; they get the log bounds.
    """
    eps = np.finfo(dtype).eps
    if out_code == codes.OUT_LOGISTIC:
        return dtype.type(eps), dtype.type(1) - dtype.type(eps)
    return dtype.type(np.log(eps)), dtype.type(np.log1p(-eps))


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
    _structural_toolkit: bool = field(init=False, repr=False)

    def __post_init__(self):
        drops = np.zeros(self.layout.n_layers)
        if len(self.dropout):
            drops[1:-1] = self.dropout
        self.drops = drops
        # Asked on every fit and partial_fit call: answered once.
        self._structural_toolkit = bool(self.norm != codes.NORM_NONE or self.has_dropout
                                        or self.layout.residual.any())

    @property
    def norm(self):
        return self.layout.norm

    # Asked on every fit and partial_fit call of a spec that is built once
    # per structure and never changes: answered once.
    @cached_property
    def has_dropout(self):
        return bool(np.any(self.drops > 0))

    def uses_toolkit(self, sparse, clip=None, solver=codes.SGD):
        """Whether a fit or prediction of this network needs the full
        kernels: normalisation, dropout, residual connections, a sparse
        input, gradient clipping or a solver other than sgd and adam (else
        the lean ones serve, :mod:`fastbp.kernels.lean`).

        Parameters
        ----------
        sparse : bool
        clip : float or None
        solver : int
            Solver code of a stochastic fit (``codes.SOLVERS``).
        """
        return bool(self._structural_toolkit or sparse or clip
                    or solver not in (codes.SGD, codes.ADAM))

    @cached_property
    def tracks_dead_units(self):
        return bool(np.any(self.layout.activations[1:-1] == codes.RELU))

    def hyper(self, dtype, optimizer=None, alpha=0.0, l1=0.0, clip=None):
        """The kernels' :class:`~fastbp.kernels.records.Hyper` record.

        Parameters
        ----------
        dtype : numpy dtype
            The model's dtype: every float field gets it.
        optimizer : StochasticOptimizer, optional
            Solver and learning rate of the coming epoch (none for
            prediction and L-BFGS).
        alpha, l1 : float
        clip : float or None
            Maximum global gradient norm per step.
        """
        o = optimizer
        dtype = np.dtype(dtype)
        if o is None:
            return _hyper(self.layout.n_weights, self.out_code, dtype, 0, 0, 0,
                          False, 0, 0, 0, alpha, l1, clip or 0)
        # sgd reads no epsilon: neither refused nor cast (scikit-learn
        # ignores it there too).
        epsilon = o.epsilon if o.code != codes.SGD else 0.0
        return _hyper(self.layout.n_weights, self.out_code, dtype, o.code,
                      o.learning_rate, o.momentum, bool(o.nesterov), o.beta_1, o.beta_2,
                      epsilon, alpha, l1, clip or 0)


#: The largest finite value of each dtype (np.finfo costs a microsecond a
#: look-up, and this runs every epoch).
_LARGEST = {np.dtype(t): float(np.finfo(t).max) for t in (np.float32, np.float64)}


def dtype_bound_parameters(solver, alpha, l1, clip, epsilon):
    """The hyper-parameters that the kernels take in the model's dtype and
    that :func:`refuse_beyond_dtype` checks, as ``(name, value)`` pairs:
    ``alpha`` and ``l1``, ``clip_grad_norm`` where set (not for lbfgs, which
    ignores it), and ``epsilon`` for the solvers that read it (not sgd, nor
    lbfgs).
    The learning rate has its own check, which names its schedule
    (:class:`~fastbp.training.optimizers.StochasticOptimizer`), and
    momentum and the betas lie in [0, 1).

    Parameters
    ----------
    solver : str
        The estimator's ``solver``.
    alpha, l1, epsilon : float
    clip : float or None

    Returns
    -------
    list of (str, float)
    """
    named = [("alpha", alpha), ("l1", l1)]
    if solver != "lbfgs" and clip:
        named.append(("clip_grad_norm", clip))
    if solver not in ("sgd", "lbfgs"):
        named.append(("epsilon", epsilon))
    return named


#: How a fit gets a float64 model, which takes what a float32 one cannot.
FLOAT64_MODEL = "fit float64 X, which trains a float64 model"


def refuse_beyond_dtype(dtype, named, wider=FLOAT64_MODEL):
    """Raise ``ValueError`` where a hyper-parameter of ``named`` (pairs of
    name and value, :func:`dtype_bound_parameters`) is beyond the largest
    finite value of ``dtype``.

    The kernels take each in the model's dtype, where it would be inf:
    NumPy's cast warned of an overflow (an error under ``-W error``), and
    an epsilon of inf, say, froze every weight without a word (rev-259).

    Parameters
    ----------
    dtype : numpy dtype
    named : list of (str, float)
    wider : str or None
        How to get a float64 model, offered for a float32 one: None where
        the call cannot (a warm fit or ``partial_fit`` keeps the model's
        dtype, rev-270); the command line passes its own option.
    """
    dtype = np.dtype(dtype)
    largest = _LARGEST[dtype]
    for name, value in named:
        try:
            big = float(value) > largest
        except OverflowError:  # an int beyond float64
            big = True
        if big:
            # As set, unless too long to read (an int of hundreds of digits).
            shown = (f"{name}={value!r}" if len(repr(value)) <= 24
                     else f"{name} (an int of {len(str(abs(value)))} digits)")
            if dtype == np.float64:
                remedy = ""
            elif wider is None:
                remedy = (f" (this {dtype.name} model keeps its dtype in a warm fit or "
                          "partial_fit: only a float64 model takes larger values)")
            else:
                remedy = f", or {wider}"
            raise ValueError(
                f"{shown} is beyond the largest {dtype.name} ({largest:g}), the "
                f"model's dtype, in which the kernels take it: it would be inf there. Lower "
                f"it to at most that{remedy}.")


#: The smallest normal value of each dtype: what the kernels, which flush
#: subnormal numbers to zero, read as other than 0 (np.finfo costs a
#: microsecond a look-up).
_TINY = {np.dtype(t): float(np.finfo(t).tiny) for t in (np.float32, np.float64)}


def refuse_subnormal(name, value, dtype, why, remedy):
    """Raise ``ValueError`` where the hyper-parameter ``name`` is below the
    smallest normal value of ``dtype``: the kernels flush subnormal numbers
    to zero, so it would act as 0 (``why`` says what that does).

    The lower bound beside :func:`refuse_beyond_dtype`'s upper one; the
    estimator calls both before a fit announces or starts a compile
    (rev-308: this one ran in the trainer, after both).

    Parameters
    ----------
    name : str
    value : float
    dtype : numpy dtype
        The model's, float32 or float64.
    why : str
        What a value of 0 would do, appended to the message.
    remedy : str
        Appended to the message's advice.
    """
    dtype = np.dtype(dtype)
    tiny = _TINY[dtype]
    if not value >= tiny:
        raise ValueError(
            f"{name}={float(value)!r} is below the smallest normal {dtype.name} ({tiny:g}), "
            f"the model's dtype, where it rounds to 0 or a subnormal{why}. Set {name} to at "
            f"least that{remedy}.")


@lru_cache(maxsize=256)
def _hyper(n_weights, out_code, dtype, solver, lr, momentum, nesterov, beta_1, beta_2,
           epsilon, alpha, l1, clip):
    """A :class:`~fastbp.kernels.records.Hyper`, built once per set of values
    (every epoch and every ``partial_fit`` call asks; building one costs
    15 us). Records are immutable, so callers share them."""
    # The trainer's own guard, on a cache miss only (a refusal is not
    # cached): the estimator checks the same values before its fit
    # (BaseMLP._fit), where the message can tell a warm fit. Those the
    # kernels do not read are 0 here (sgd's epsilon, L-BFGS's clip).
    refuse_beyond_dtype(dtype, (("alpha", alpha), ("l1", l1), ("clip_grad_norm", clip),
                                ("epsilon", epsilon)))
    dt = dtype.type
    prob_lo, prob_hi = clipping_bounds(dtype, out_code)
    return Hyper(
        n_weights=n_weights, out_code=out_code, prob_lo=prob_lo, prob_hi=prob_hi,
        bn_momentum=dt(BN_MOMENTUM), norm_eps=dt(NORM_EPS), solver=solver, lr=dt(lr),
        momentum=dt(momentum), nesterov=nesterov, beta_1=dt(beta_1), beta_2=dt(beta_2),
        # 1 - beta in double, rounded once (not 1 - the rounded beta).
        beta_1c=dt(1.0 - float(beta_1)), beta_2c=dt(1.0 - float(beta_2)),
        epsilon=dt(epsilon), alpha=dt(alpha), l1=dt(l1), clip=dt(clip))


def build_spec(units, activations, normalization, residual, dropout, out_code):
    """A :class:`NetworkSpec` from names: activation codes, normalisation code,
    residual flags and dropout rates per hidden layer.

    Built once per structure and shared (its arrays are read-only): every
    ``partial_fit`` call asks for one, and building it cost 40 us.
    """
    n_hidden = len(units) - 2
    activations = [codes.IDENTITY] * n_hidden if activations is None else activations
    residual = [False] * n_hidden if residual is None else residual
    return _cached_spec(tuple(int(u) for u in units), tuple(int(a) for a in activations),
                        int(normalization), tuple(bool(r) for r in residual),
                        tuple(float(d) for d in (dropout if dropout is not None else ())),
                        int(out_code))


@lru_cache(maxsize=64)
def _cached_spec(units, activations, normalization, residual, dropout, out_code):
    layout = NetworkLayout(units, activations, normalization, residual)
    spec = NetworkSpec(layout, out_code, dropout)
    for value in (*vars(layout).values(), spec.drops):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return spec
