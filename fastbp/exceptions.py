"""Warnings and errors specific to fastbp, and where its warnings point."""

import os
import sys
import threading
import warnings
from contextlib import contextmanager

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn's fit wrapper (``_fit_context``) stands between a user's
# ``fit`` call and fastbp's, and its callback machinery between a fit and
# a callback's hooks.
_SKLEARN_BASE = os.path.join("sklearn", "base.py")
_SKLEARN_CALLBACK = os.path.join("sklearn", "callback", "")


# Per thread: the list recording fastbp's warnings where they are kept
# quiet (:func:`quiet_in_this_thread`), or None.
_quiet = threading.local()


@contextmanager
def quiet_in_this_thread():
    """Record the training warnings fastbp raises in this thread within the
    block, rather than show them; those of other threads show as ever.

    ``warnings.catch_warnings`` changes the filters of the whole process, so
    that a warm-up in one thread swallowed the warnings of fits in the
    others (their Ctrl-C's "interrupted" among them).

    Yields
    ------
    list of (str, type)
        The messages and categories recorded.
    """
    outer = getattr(_quiet, "record", None)
    _quiet.record = record = []
    try:
        yield record
    finally:
        _quiet.record = outer


def quiet_here():
    """Whether this thread is inside :func:`quiet_in_this_thread`."""
    return getattr(_quiet, "record", None) is not None


def warn_at_caller(message, category, estimator=None):
    """``warnings.warn``, attributed to the first frame outside fastbp (and
    scikit-learn's fit wrapper and callback machinery): the line that
    called ``fit``, the user's own or a meta-estimator's (a Pipeline's),
    which filters by ``module`` and ``-W`` then match.

    Parameters
    ----------
    message : str
    category : type of Warning
    estimator : object, optional
        The estimator whose ``fit`` the warning is about, where that may be
        a meta-estimator (a callback's ``setup`` gets the Pipeline it was set
        on): the frames of its own methods are stepped over too, so the
        warning names the line that called its ``fit``.
    """
    record = getattr(_quiet, "record", None)
    if record is not None:
        record.append((str(message), category))
        return
    frame, level = sys._getframe(1), 2
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_PACKAGE) or name.endswith(_SKLEARN_BASE)
                or _SKLEARN_CALLBACK in name
                or (estimator is not None and frame.f_locals.get("self") is estimator)):
            break
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class GradientWarning(UserWarning):
    """A layer's gradient vanished or exploded during training.

    Issued at most once per fit; the message names the layer and the
    remedies fastbp offers.
    """


class DivergenceError(ValueError):
    """Training diverged: an epoch's loss or parameters became NaN or infinite.

    Raised at the end of the first such epoch, which is undone. If an
    earlier epoch of the same call was finite, the estimator keeps the
    state of the last finite one (its weights, optimizer state,
    ``n_iter_``, ``loss_curve_`` and ``history_``), so it can be inspected,
    or trained on with ``warm_start=True`` once the cause is fixed; if the
    call's first epoch diverged, the estimator is left exactly as it was
    before the call. A ``ValueError``, as scikit-learn raises for
    non-finite weights.

    Attributes
    ----------
    epoch : int
        The epoch of the call that diverged (1-based).
    """

    def __init__(self, message, epoch):
        super().__init__(message)
        self.epoch = epoch


class OversubscriptionWarning(UserWarning):
    """Fits running at once in threads ask BLAS for more threads than the
    machine has cores, which makes a parallel search slow.

    Issued once per process; the message says how to size the BLAS pool
    for the search (``threadpoolctl.threadpool_limits``).
    """
