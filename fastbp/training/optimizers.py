"""Python-side optimizer state and learning-rate schedules.

The update itself is compiled (``fastbp.kernels.optimizers``); what lives
here changes once per epoch: the learning rate and the decision to stop,
with scikit-learn's exact rules.
"""

import numpy as np

from ..kernels import codes


class StochasticOptimizer:
    """State of SGD or Adam across epochs and ``partial_fit`` calls.

    Parameters
    ----------
    solver : {"sgd", "adam"}
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float
    lr_schedule : {"constant", "invscaling", "adaptive"}
        Used by SGD only, as in scikit-learn.
    momentum, power_t, beta_1, beta_2, epsilon : float
    nesterov : bool
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init, lr_schedule,
                 momentum, nesterov, power_t, beta_1, beta_2, epsilon):
        self.solver = solver
        self.code = codes.SOLVERS[solver]
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.power_t = power_t
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.state_1 = np.zeros(n_params, dtype=dtype)
        # SGD needs one state vector; keep a 1-element placeholder for the
        # second so the kernel signature stays the same.
        self.state_2 = np.zeros(n_params if solver == "adam" else 1, dtype=dtype)

    def iteration_ends(self, time_step):
        """Update the learning rate after an epoch (``time_step``: samples seen)."""
        if self.solver == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

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
