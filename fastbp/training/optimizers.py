"""Python-side optimizer state and learning-rate schedules.

The update itself is compiled (``fastbp.kernels.optimizers``); what lives
here changes once per epoch: the learning rate and the decision to stop.
scikit-learn's schedules keep its exact rules ("invscaling" and "adaptive"
act on 'sgd' only); the per-epoch schedules ("step", "exponential",
"cosine", a callable) act on every stochastic solver.
"""

import inspect
import math

import numpy as np

from ..kernels import codes

PER_EPOCH_SCHEDULES = ("step", "exponential", "cosine")

#: The solvers that keep a second state array (``state_2``): the others'
#: is empty.
TWO_STATES = ("adam", "adamw")

# Decay factor per schedule when ``gamma`` is None: "step" decays every
# ``step_size`` epochs, "exponential" every epoch, so one value cannot serve
# both (0.1 per epoch stops training after a few epochs).
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_MAX = int(np.iinfo(np.int64).max)

# scikit-learn's schedules: they act on 'sgd' alone.
_SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")

# The learning-rate schedules a model may hold by name.
_SCHEDULES = (*_SKLEARN_SCHEDULES, *PER_EPOCH_SCHEDULES)

# The optimizer's real-valued hyper-parameters and its current rate.
_RATES = ("learning_rate_init", "learning_rate", "momentum", "power_t", "beta_1", "beta_2",
          "epsilon", "gamma")


def is_count(value, lowest=0):
    """Whether ``value`` is an integer (NumPy's too, never a bool) from
    ``lowest`` within int64, as training keeps its counts."""
    # (Python's int is told first, by its exact type: it is what training
    # keeps, and the optimizer's state is checked at every partial_fit.)
    if type(value) is not int and not (isinstance(value, (int, np.integer))
                                       and not isinstance(value, bool)):
        return False
    return lowest <= value <= _INT64_MAX


def is_real(value, infinite=False):
    """Whether ``value`` is a real number (NumPy's too, never a bool, never
    NaN), finite unless ``infinite``."""
    # (Python's float first, as is_count's int.)
    if type(value) is not float and not (
            isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_))):
        return False
    return not math.isnan(value) if infinite else math.isfinite(value)


def same_schedule(solver, was, now):
    """Whether the learning-rate schedule ``now`` trains ``solver`` as
    ``was`` does, so that a stream may go on with the optimizer state of
    ``was``: the same schedule, or two of scikit-learn's ('constant',
    'invscaling', 'adaptive') for a solver other than 'sgd', which takes
    every step at ``learning_rate_init`` under all three.

    One rule for ``partial_fit`` and ``to_sklearn``: the copy's
    ``partial_fit`` goes on as the model's only where both agree on it.
    """
    if now is was or now == was:
        return True
    return (solver != "sgd" and isinstance(was, str) and isinstance(now, str)
            and {was, now} <= set(_SKLEARN_SCHEDULES))


def _own_copy(a):
    """A plain, writable, C-contiguous copy of ``a``, whatever ``a`` is (a
    read-only np.memmap of a model joblib loaded with mmap_mode): the
    kernels write it in place, and the caller's file never."""
    return a.copy() if type(a) is np.ndarray else np.array(a, order="C")


def _invscaled(lr0, time_step, power_t):
    """"invscaling"'s rate after ``time_step`` samples: scikit-learn's
    ``lr0 / (time_step + 1) ** power_t``, bit for bit, and 0 where the power
    overflows a float (a large ``power_t``), as the quotient does in NumPy
    floats; Python's power raised a bare ``OverflowError`` there
    (helper-155), as scikit-learn's does."""
    try:
        return lr0 / (time_step + 1) ** power_t
    except OverflowError:
        return 0.0


class StochasticOptimizer:
    """State of a stochastic solver across epochs and ``partial_fit`` calls.

    Parameters
    ----------
    solver : {"sgd", "adam", "rmsprop", "adagrad", "adamw"}
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float
    lr_schedule : str or callable
        "constant", "invscaling", "adaptive", "step", "exponential",
        "cosine", or ``f(epoch, learning_rate_init) -> lr``.
    momentum, power_t, beta_1, beta_2, epsilon : float
    nesterov : bool
    step_size : int
        Epochs per decay of "step".
    gamma : float or None
        Decay factor of "step" and "exponential"; None for the schedule's
        default (:data:`DEFAULT_GAMMA`).
    t_max : int
        Epochs over which "cosine" anneals to 0 (``max_iter``); past them
        the cosine goes on, as PyTorch's CosineAnnealingLR's closed form.
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init, lr_schedule,
                 momentum, nesterov, power_t, beta_1, beta_2, epsilon,
                 step_size=10, gamma=None, t_max=200):
        self.solver = solver
        self.code = codes.SOLVERS[solver]
        self.lr_schedule = lr_schedule
        self.learning_rate_init = self.learning_rate = float(learning_rate_init)
        self.t = 0
        self.epoch = 0
        # The hyper-parameters as a stream's later calls set them: at epoch
        # 0, the rate is learning_rate_init whatever the schedule.
        self.retune(learning_rate_init, momentum, nesterov, power_t, beta_1, beta_2, epsilon,
                    step_size, gamma, t_max, samples_seen=0)
        self.state_1 = np.zeros(n_params, dtype=dtype)
        # The second moment: Adam's and AdamW's only (the kernels read an
        # empty one for the others, which would copy, checkpoint and save
        # a full array of zeros).
        self.state_2 = np.zeros(n_params if solver in TWO_STATES else 0, dtype=dtype)
        # Dropout generator state (see kernels.dropout); seeded by the caller.
        self.rng_state = np.uint64(0)

    def copy(self):
        """A copy whose state arrays are its own (what ``copy.deepcopy``
        gives, at a fraction of its cost per ``partial_fit`` call)."""
        # A shallow copy without copy.copy's reduce protocol.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.state_1 = _own_copy(self.state_1)
        # The full state_2 of zeros that models saved by earlier versions
        # keep for every solver is left behind: unread.
        new.state_2 = _own_copy(self.state_2 if self.solver in TWO_STATES
                                else self.state_2[:0])
        return new

    def retune(self, learning_rate_init, momentum, nesterov, power_t, beta_1, beta_2,
               epsilon, step_size, gamma, t_max, samples_seen):
        """Take hyper-parameters set since the last ``partial_fit`` call, as a
        PyTorch param group takes a new ``lr``: the state (moments,
        velocities, step and epoch counts) goes on under the new values.

        The rate the schedule has reached follows ``learning_rate_init``:
        "invscaling" is recomputed for the samples seen, "adaptive" keeps
        the divisions by 5 it made (scaled by the new over the old
        ``learning_rate_init``), and the per-epoch schedules recompute it at
        the next epoch's start.

        Parameters
        ----------
        learning_rate_init, momentum, power_t, beta_1, beta_2, epsilon : float
        nesterov : bool
        step_size : int
        gamma : float or None
        t_max : int
        samples_seen : int
            Samples the stream has trained on (``invscaling``'s time step).
        """
        old, new = self.learning_rate_init, float(learning_rate_init)
        self.learning_rate_init = new
        self.power_t = power_t
        if self.solver == "sgd" and self.lr_schedule == "invscaling" and self.epoch:
            self.learning_rate = _invscaled(new, samples_seen, power_t)
        elif self.solver == "sgd" and self.lr_schedule == "adaptive":
            self.learning_rate *= new / old
        else:
            self.learning_rate = new
        self.momentum, self.nesterov = momentum, bool(nesterov)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        if gamma is None:
            gamma = DEFAULT_GAMMA.get(
                self.lr_schedule if isinstance(self.lr_schedule, str) else "", 0.1)
        self.step_size, self.gamma, self.t_max = step_size, gamma, t_max

    def check(self, n_params, dtype):
        """Raise ``ValueError`` unless this state fits a network of
        ``n_params`` parameters in ``dtype``.

        The kernels index both state arrays by the parameters' offsets,
        without bounds checks: state that does not fit (a network changed
        between ``partial_fit`` calls, a model file edited by hand and its
        checksum recomputed) would have them write past an array's end.
        ``state_2`` of a solver outside :data:`TWO_STATES`, unread, may be
        empty or full (the zeros that models saved by earlier versions hold).
        Any array of the right shape and dtype fits, read-only, strided or
        an ndarray subclass (joblib's memmaps) included: training goes on
        from a plain copy (:meth:`copy`). The counts, the dropout
        generator's state and the hyper-parameters must be of the kinds
        training keeps (:meth:`_check_scalars`).
        """
        if codes.SOLVERS.get(self.solver) != self.code:
            raise ValueError(f"The optimizer state names solver {self.solver!r} with code "
                             f"{self.code!r}, which is not one of fastbp's solvers "
                             f"{sorted(codes.SOLVERS)}.")
        self._check_scalars()
        for name in ("state_1", "state_2"):
            state = self.__dict__.get(name)
            shapes = [(n_params,)]
            if name == "state_2" and self.solver not in TWO_STATES:
                shapes.append((0,))
            # (A dtype in the other byte order differs from ``dtype``.)
            if not (isinstance(state, np.ndarray) and state.shape in shapes
                    and state.dtype == dtype):
                held = (f"an array of shape {state.shape} and dtype {state.dtype}"
                        if isinstance(state, np.ndarray) else type(state).__name__)
                raise ValueError(
                    f"The optimizer state does not fit this network: {name} is {held}, "
                    f"where its {n_params} parameters need {n_params} values of "
                    f"{np.dtype(dtype).name}" + ("" if len(shapes) == 1 else " (or none)")
                    + " (the network changed since the last partial_fit, or the state was "
                    "edited).")

    def _check_scalars(self):
        """Raise ``ValueError`` where a count, the dropout generator's state
        or a hyper-parameter is not of the kind training keeps there: the
        kernels take ``t`` and ``rng_state`` as int64 and uint64 (a str had
        Numba compile for it and fail, 2**70 overflowed, a float counted
        steps from -1e6), and the schedules compute with the others."""
        d = self.__dict__
        problem = None
        for name in ("t", "epoch"):
            value = d.get(name)
            if not is_count(value):
                problem = name, value, "a count from 0 (an integer within int64)"
                break
        else:
            rng = d.get("rng_state")
            # (A 0-d uint64 array is what ws.rng[0] also takes.)
            if not (isinstance(rng, np.uint64) or isinstance(rng, np.ndarray)
                    and rng.shape == () and rng.dtype == np.uint64):
                problem = "rng_state", rng, "a numpy.uint64, the dropout generator's state"
        if problem is None:
            for name in _RATES:
                value = d.get(name)
                if not is_real(value):
                    problem = name, value, "a finite real number"
                    break
        if problem is None:
            for name in ("step_size", "t_max"):
                value = d.get(name)
                if not is_count(value, lowest=1):
                    problem = name, value, "a positive integer"
                    break
        if problem is None and not isinstance(d.get("nesterov"), (bool, np.bool_)):
            problem = "nesterov", d.get("nesterov"), "True or False"
        schedule = d.get("lr_schedule")
        # A callable is a model's own (fastbp.save refuses to write one).
        if problem is None and not (callable(schedule) or isinstance(schedule, str)
                                    and schedule in _SCHEDULES):
            problem = "lr_schedule", schedule, f"one of {list(_SCHEDULES)} or a callable"
        if problem is not None:
            name, value, wanted = problem
            raise ValueError(f"The optimizer state's {name} is {value!r}, where training "
                             f"keeps {wanted} (the state was edited).")

    def epoch_starts(self):
        """Set the learning rate of the coming epoch (per-epoch schedules).

        Raises ``ValueError`` where the rate is not finite or beyond the
        largest value of the model's dtype: the kernels read it in that
        dtype, where it would be infinite (and their updates NaN).
        """
        s, e, lr0 = self.lr_schedule, self.epoch, self.learning_rate_init
        lr = self.learning_rate
        if callable(s):
            try:
                value = s(e, lr0)
            except TypeError as exc:
                # helper-134's review: a callable of another signature
                # failed with Python's bare "takes 1 positional argument",
                # naming no parameter. A TypeError from the body of one
                # that takes (epoch, lr0) is its own, and goes on as it is.
                try:
                    signature = inspect.signature(s)
                except (TypeError, ValueError):  # none to read (some builtins)
                    raise exc from None
                try:
                    signature.bind(e, lr0)
                except TypeError:
                    pass
                else:
                    raise
                raise TypeError(
                    f"The learning_rate callable {s!r} cannot be called as "
                    "learning_rate(epoch, learning_rate_init), as fastbp calls it at the "
                    f"start of every epoch: {exc}. It must take those two arguments and "
                    "return that epoch's learning rate.") from exc
            try:
                lr = float(value)
                if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
                    raise TypeError
            except (TypeError, ValueError):
                raise TypeError(
                    f"The learning_rate callable returned {value!r} (of type "
                    f"{type(value).__name__}) at epoch {e}; it must return a non-negative "
                    "finite float, the learning rate of that epoch.") from None
            # 0 is a rate: a warm-up from 0 (PyTorch's LambdaLR takes one), and
            # where 'cosine' itself arrives at the end of its period.
            if not (np.isfinite(lr) and lr >= 0):
                raise ValueError(
                    f"The learning_rate callable returned {lr!r} at epoch {e}; it must "
                    "return a non-negative finite float.")
        elif s == "step":
            lr = self._decayed(e // self.step_size)
        elif s == "exponential":
            lr = self._decayed(e)
        elif s == "cosine":
            # PyTorch's closed form, unclamped: a partial_fit stream that
            # outlives t_max sees the rate rise again (period 2 * t_max)
            # rather than stay at 0 and stop training silently.
            lr = 0.5 * lr0 * (1 + math.cos(math.pi * e / self.t_max))
        # Checked before it is kept, so that a refused epoch leaves the rate
        # as it was; a rate every dtype holds skips the dtype's look-up.
        if not lr <= _FLOAT32_MAX:
            self._check_rate_fits(lr)
        self.learning_rate = lr

    def _decayed(self, k):
        """``learning_rate_init * gamma ** k``, infinite where it overflows
        (a ``gamma`` above 1 raises the rate every step; Python's power
        raises ``OverflowError`` there, NumPy's warns)."""
        lr0, gamma = self.learning_rate_init, float(self.gamma)
        try:
            return lr0 * gamma ** k
        except OverflowError:
            # gamma ** k alone may overflow where the product does not.
            try:
                return math.exp(math.log(lr0) + k * math.log(gamma))
            except OverflowError:
                return math.inf

    def _check_rate_fits(self, lr):
        """Refuse a learning rate ``lr`` for the coming epoch that the model's
        dtype cannot hold, naming the parameter that set it."""
        dtype = self.state_1.dtype
        largest = float(np.finfo(dtype).max)
        if lr <= largest:
            return
        s, e = self.lr_schedule, self.epoch
        where = (f"beyond the largest {dtype.name} ({largest:g}), the model's dtype"
                 if math.isfinite(lr) else "not finite")
        if callable(s):
            raise ValueError(
                f"The learning_rate callable returned {lr!r} at epoch {e}, {where}; it must "
                "return a rate the model's dtype holds.")
        if s in ("step", "exponential"):
            k = e // self.step_size if s == "step" else e
            every = f"{self.step_size} epochs" if s == "step" else "epoch"
            raise ValueError(
                f"learning_rate={s!r} with gamma={float(self.gamma):g} sets the learning rate of "
                f"epoch {e} (counted from 0) to learning_rate_init * gamma**{k} = {lr:g}, "
                f"{where} (a gamma above 1 raises the rate every {every}). Lower gamma "
                "(below 1 to decay the rate), or choose another learning_rate schedule.")
        raise ValueError(
            f"The learning rate of epoch {e} (counted from 0; learning_rate={s!r}, "
            f"learning_rate_init={self.learning_rate_init:g}) is {lr:g}, {where}. Lower "
            "learning_rate_init.")

    def iteration_ends(self, time_step):
        """Update the learning rate after an epoch (``time_step``: samples seen)."""
        self.epoch += 1
        if self.solver == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = _invscaled(self.learning_rate_init, time_step, self.power_t)

    def trigger_stopping(self, msg, verbose):
        """Whether to stop after no improvement; "adaptive" SGD divides lr by 5."""
        if self.solver != "sgd" or self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False
