"""What fastbp keeps about estimators outside them: the fit calls under way
and per-estimator stores.

A fit or ``partial_fit`` call marks its estimator as being trained and
replaces its generation token (per thread, the calls under way, innermost
last), which :func:`fastbp.save` reads; weak per-estimator stores keep the
spare work buffers of a ``partial_fit`` stream and the generators reseeded
for an int ``random_state``. None of it is in an estimator's ``__dict__``:
pickles, clones and scikit-learn's estimator checks never see it. Separate
from :mod:`~fastbp.estimators.base` because it is bookkeeping about calls,
not estimator logic, and :mod:`fastbp.persistence` reads it on its own.
"""

import contextlib
import functools
import numbers
import threading
import warnings
import weakref

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

# The estimators a fit or partial_fit call is training, until the call has
# set the model: fastbp.save refuses them (an epoch hook that saved the
# estimator itself wrote its initial weights as a fitted model), a second
# call refuses to overlap them (claim), and their predictions come from
# the model as before the call (copied_call). Kept out of the estimators:
# nothing in their __dict__ changes (pickles, clones, a hook's
# fitted_estimator, scikit-learn's estimator checks). Keyed by id, each
# entry the _Call that set the mark: only that call clears it. One call at
# a time trains an estimator: a second one, in another thread or nested in
# the first one's hooks, is refused before it changes anything (fix-280:
# each call trains a copy and the last to end kept its own, so the other's
# training was thrown away, its epochs left in the loss curve).
_TRAINING = {}

# Makes claim's look at an estimator's mark and the setting of its own one
# step: two threads that both found it unmarked both trained it.
_CLAIMING = threading.Lock()


class _Call:
    """One fit or partial_fit call: the estimator it trains (a weak
    reference: an id names another object once its estimator is gone) and
    whether it still trains it.

    ``active`` says the call is under way, and a call ends it with one
    attribute store, the first thing its ``finally`` does: Ctrl-C lands
    between bytecodes that call or jump, and an entry left in
    ``_TRAINING`` by an interrupt elsewhere in the bookkeeping is inactive
    (helper-195: one left active refused every later save of the estimator,
    and of a new one given its id). ``committed`` says the call has set its
    model, whose end hooks (the root one) may save it and predict from it
    (:func:`is_being_fitted` reads both), while the call, still under way,
    refuses another (:func:`refuse_overlap`).
    """

    __slots__ = ("estimator", "active", "committed", "before", "warned", "thread",
                 "model_before", "ends_in_fit")

    def __init__(self, estimator):
        self.estimator = weakref.ref(estimator)
        self.active = True
        self.committed = False
        # Whether _transactional_fit ends the call (see claimed_call), or
        # one_call_at_a_time does, once scikit-learn has torn its
        # callbacks down.
        self.ends_in_fit = False
        # The thread the call runs in, which an overlapping call's refusal
        # names (see claim).
        self.thread = threading.get_ident()
        # What the call's rollback would restore, ``(saved __dict__, state
        # of a RandomState random_state or None, the loss curve's and
        # validation scores' lengths or None)``: a pickle or deepcopy of
        # the estimator made while it trains holds that (rev-236).
        self.before = None
        # Whether such a copy has warned during this call.
        self.warned = False
        # The estimator as before the call, built on the first prediction
        # asked of it during the call (see model_before): kept, so that
        # the predictions of a refit pack its weights once.
        self.model_before = None

    def trains(self, estimator):
        """Whether this call trains ``estimator`` and has not yet set its
        model."""
        return self.active and not self.committed and self.estimator() is estimator

    def runs(self, estimator):
        """Whether this call, under way, fits ``estimator`` (its model set
        or not: the root hook runs after)."""
        return self.active and self.estimator() is estimator


def refuse_overlap(estimator):
    """Raise ``RuntimeError`` where a fit or partial_fit call (in any
    thread) is training ``estimator``; changes nothing.

    A second call would train a copy of the model of its own, and whichever
    call set its model last would throw the other's training away, its
    epochs left in the loss curve (rev-273, rev-275).
    """
    call = _TRAINING.get(id(estimator))
    if call is None or not call.runs(estimator):
        return
    name = type(estimator).__name__
    if call.thread == threading.get_ident():
        raise RuntimeError(
            f"This {name} is being fitted by a fit or partial_fit call in this thread, "
            "and this call is nested in it (a callback hook, scorer or other code that "
            "call runs fits the estimator it trains): the outer call would throw this "
            "call's training away when it sets its model. Train a copy instead: the "
            "fitted_estimator a callback hook receives, or sklearn.base.clone(estimator).")
    raise RuntimeError(
        f"This {name} is being fitted in another thread (thread {call.thread}): fits "
        "and partial_fit calls of one estimator cannot overlap (each trains its own copy "
        "of the model, and the last to end would throw the others' training away). Use "
        "one estimator per thread (sklearn.base.clone), or a lock around its fit calls.")


class _Pending(threading.local):
    """Per thread, the call :func:`one_call_at_a_time` claimed, until the
    method it decorates takes it (:func:`claimed_call`)."""

    call = None


_PENDING = _Pending()


def one_call_at_a_time(fit_method):
    """Decorate ``fit_method`` (``fit``, ``partial_fit``) to mark its
    estimator as fitted by a new call (:func:`claim`) first, outside
    scikit-learn's ``_fit_context`` (apply it above that decorator), and to
    clear the mark however it ends. The method takes that call with
    :func:`claimed_call`.

    A call refused inside ``_fit_context`` would tear the running fit's
    callbacks down and take away its callback context, as that context's
    cleanup does at a call's end; a check here that claimed later, inside
    it, left a window in which two threads both passed it (rev-284).

    Parameters
    ----------
    fit_method : callable
        ``fit_method(estimator, *args, **kwargs)``.

    Returns
    -------
    callable
        The decorated method, of the same name, signature and docstring.
    """
    @functools.wraps(fit_method)
    def wrapper(estimator, *args, **kwargs):
        call = _Call(estimator)
        # (Put back as the call ends: a fit of another estimator run before
        # this method takes its call, by a subclass's _validate_params say,
        # has a call of its own, which took this one's place; rev-286.)
        outer = _PENDING.call
        try:
            claim(call)
            _PENDING.call = call
            return fit_method(estimator, *args, **kwargs)
        finally:
            # Here, after scikit-learn's _fit_context has torn the call's
            # callbacks down, not where the fit ends inside it: a call of
            # another thread that claimed the estimator during that
            # teardown had its own callbacks' context taken (rev-286).
            end(call)
            _PENDING.call = outer

    return wrapper


def end(call):
    """End ``call``: no longer under way, and its mark taken away (the
    generation token replaced first, see :data:`_GENERATIONS`)."""
    call.active = False
    estimator = call.estimator()
    # (Only a call that holds the mark: a refused one changes nothing.)
    if estimator is not None and _TRAINING.get(id(estimator)) is call:
        _new_generation(estimator)
        del _TRAINING[id(estimator)]


def claimed_call(estimator):
    """The call :func:`one_call_at_a_time` claimed for ``estimator`` in this
    thread, taken; else a new one, claimed here.

    Returns
    -------
    _Call
    """
    call = _PENDING.call
    if call is not None and call.active and call.estimator() is estimator:
        _PENDING.call = None
        return call
    call = _Call(estimator)
    # (No decorator above the fit to end it: the fit ends it.)
    call.ends_in_fit = True
    claim(call)
    return call


def claim(call):
    """Mark the estimator ``call`` trains as being fitted by it; raise
    ``RuntimeError`` (see :func:`refuse_overlap`) where another call fits
    it already. A call that holds the mark keeps it."""
    estimator = call.estimator()
    # (Read outside the lock: only this call's own thread takes its mark
    # away, and it is here.)
    if _TRAINING.get(id(estimator)) is call:
        return
    with _CLAIMING:
        refuse_overlap(estimator)
        # (An entry there is inactive: an interrupt left it behind.)
        _TRAINING[id(estimator)] = call


def state_before(call, before, warn=True):
    """The ``__dict__`` ``call``'s rollback would give its estimator back,
    from ``before`` (see :class:`_Call`), in objects of its own where the
    call changes them in place: what a pickle or deepcopy of an estimator
    being fitted holds, and what it predicts and converts with meanwhile
    (:func:`model_before`). Where ``warn``, warns, once per call, that a
    copy holds it.

    (Here, not in :mod:`~fastbp.estimators.base`: both the copies and
    :func:`model_before` need it, and rev-287 found the latter built from
    the raw saved ``__dict__``, whose loss curve, validation scores and
    caller's generator the running call goes on changing.)
    """
    saved, rng_state, lengths = before
    state = dict(saved)
    progress = saved.get("_progress")
    if progress is not None and lengths is not None:
        # The call appends its epochs to these very lists (Progress.copy).
        kept = progress.detached()
        kept.truncate(lengths)
        state["_progress"] = kept
        for name in ("loss_curve", "validation_scores"):
            if saved.get(name + "_") is getattr(progress, name):
                state[name + "_"] = getattr(kept, name)
    rng = saved.get("random_state")
    if rng_state is not None and isinstance(rng, np.random.RandomState):
        # The caller's generator, which the call draws from in place.
        rewound = np.random.RandomState()
        rewound.set_state(rng_state)
        for name in ("random_state", "_random_state"):
            if saved.get(name) is rng:
                state[name] = rewound
    if warn and not call.warned:
        call.warned = True
        warnings.warn(
            f"This {type(call.estimator()).__name__} is being fitted (a fit or partial_fit "
            "call, in this thread or another, has not set its model yet), so the copy "
            "(pickle, joblib.dump, copy.deepcopy, another thread's copy.copy) holds the "
            "model as it was before this call: unfitted on a first fit. To save the "
            "current epoch's model from a callback hook, copy or save the "
            "fitted_estimator the hook receives.",
            UserWarning, stacklevel=4)
    return state


def model_before(estimator):
    """The model to predict with while a fit or partial_fit call trains
    ``estimator``: a new estimator holding its attributes as before the
    call, as a pickle of it does (see :func:`copied_call`); None where no
    call trains it, or within :func:`live_copies`.

    Until the call sets its model, the estimator holds a fit's untrained
    initial weights, or a mix of the old model and the new one (classes,
    shapes): a model that never was (rev-275).
    """
    copied = copied_call(estimator)
    if copied is None:
        return None
    call, before = copied
    model = call.model_before
    if model is None:
        # Not before[0] as it is: the running call appends to its loss
        # curve and validation scores and draws from its caller's
        # RandomState, which to_sklearn copies (rev-287).
        state = state_before(call, before, warn=False)
        # The context of the running fit, none of the model's: as a copy.
        for key in ("_callback_fit_ctx", "_skl_callbacks_to_teardown",
                    "_parent_callback_ctx"):
            state.pop(key, None)
        model = type(estimator).__new__(type(estimator))
        # (Its arrays are the old model's: a call trains copies of them,
        # and sets new ones when it ends.)
        model.__dict__.update(state)
        call.model_before = model
    if call.thread == threading.get_ident() and "coefs_" not in model.__dict__:
        # (scikit-learn's message alone sends a hook's author to fit.)
        raise NotFittedError(
            f"This {type(estimator).__name__} is being fitted by a call in this thread "
            "(predict from a callback hook?) and had no model before that call; a "
            "prediction mid-fit comes from the model as before the call, as a pickle "
            "holds. For the current epoch's model, predict with the fitted_estimator "
            "the hook receives.")
    return model


def from_model_before(method):
    """Decorate a method that predicts (``predict``, ``score``, ...) to run
    on :func:`model_before` while a fit or partial_fit call trains its
    estimator (another thread's, or one whose hook asks), as a pickle
    holds it, rather than on the call's untrained initial weights
    (rev-275); otherwise on the estimator, after a dict lookup.

    Parameters
    ----------
    method : callable
        ``method(estimator, *args, **kwargs)``.

    Returns
    -------
    callable
        The decorated method, of the same name, signature and docstring.
    """
    @functools.wraps(method)
    def wrapper(estimator, *args, **kwargs):
        if _TRAINING.get(id(estimator)) is not None:
            before = model_before(estimator)
            if before is not None:
                return method(before, *args, **kwargs)
        return method(estimator, *args, **kwargs)

    return wrapper


class _Calls(threading.local):
    """Per thread, the fit and partial_fit calls under way, innermost
    last: ``_fit`` learns from it which call it runs for."""

    def __init__(self):
        self.stack = []


_CALLS = _Calls()


# Per estimator, a token replaced when a call starts (before the call
# changes anything, and before it marks the estimator) and when it ends
# (after its last change, before its mark goes): fastbp.save reads it and
# the mark before and after copying a model, and copies anew where either
# changed. The mark alone misses a whole call that started and ended
# during the copy (rev-203: files held a fit's initial weights, or
# a loss curve longer than the call their weights came from). A new
# object each time: one that a reader still holds is never reused. Kept
# out of the estimators, as _TRAINING is, with weak keys, so that an
# entry goes with its estimator; one token for all the estimators that
# cannot be weak keys (a subclass that defines __eq__ without __hash__),
# which a call on any of them replaces.
_GENERATIONS = weakref.WeakKeyDictionary()
_UNHASHABLE = [None]


def _new_generation(estimator):
    try:
        _GENERATIONS[estimator] = object()
    except TypeError:
        _UNHASHABLE[0] = object()


def training_state(estimator):
    """``(mark, generation)`` of ``estimator``: the call marking it as being
    fitted (None if none) and its generation token (see
    :data:`_GENERATIONS`), compared by identity.

    The mark is read first: read before and after copying the model, equal
    tokens and marks say that no call changed it meanwhile, whenever the
    calls started or ended.
    """
    mark = _TRAINING.get(id(estimator))
    try:
        generation = _GENERATIONS.get(estimator)
    except TypeError:
        generation = _UNHASHABLE[0]
    return mark, generation


def is_being_fitted(estimator):
    """Whether a fit or partial_fit call on ``estimator`` (in any thread)
    is training it and has not yet set the model it trains."""
    call = _TRAINING.get(id(estimator))
    return call is not None and call.trains(estimator)


class _LiveCopies(threading.local):
    """Per thread, how many :func:`live_copies` blocks are open."""

    depth = 0


_LIVE_COPIES = _LiveCopies()


@contextlib.contextmanager
def live_copies():
    """Within this block (in this thread), a copy of an estimator being
    fitted holds its attributes as they are now, not as they were before
    the call (see :func:`copied_call`): the copies fastbp makes of the
    model under training itself (a scorer's snapshot, a DivergenceError's
    last finite model), which it then completes."""
    _LIVE_COPIES.depth += 1
    try:
        yield
    finally:
        _LIVE_COPIES.depth -= 1


def trained_in_this_thread(estimator):
    """Whether a fit or partial_fit call running in this thread trains
    ``estimator`` and has not yet set its model: where scikit-learn builds
    a callback hook's ``fitted_estimator`` (a copy.copy of it, which must
    hold the current epoch's model)."""
    call = _TRAINING.get(id(estimator))
    return (call is not None and call.thread == threading.get_ident()
            and call.trains(estimator))


def copied_call(estimator):
    """``(call, before)``: the call training ``estimator`` (in any thread),
    and its ``before`` (see :class:`_Call`), which a pickle or deepcopy of
    ``estimator`` must hold; or None: none trains it, or the copy is one of
    :func:`live_copies`.

    Until the call has set the model, the estimator holds a mix (the
    previous fit's weights or a first fit's initial ones, with a loss
    curve that already has this call's epochs): a copy of that would be a
    model that never was (rev-236).
    """
    if _LIVE_COPIES.depth:
        return None
    call = _TRAINING.get(id(estimator))
    if call is None or not call.trains(estimator):
        return None
    # (Read once: the call clears it as it ends, in another thread maybe.)
    before = call.before
    return None if before is None else (call, before)


# Per estimator: [seed, two generators] for int seeds; see _fresh_random_state.
_seeded_generators = weakref.WeakKeyDictionary()


class _RecentSpares(weakref.WeakKeyDictionary):
    """A :class:`weakref.WeakKeyDictionary` that keeps the values of only the
    ``most`` estimators stored last: a store of spare work buffers.

    Spares are only worth keeping for the estimators a stream is training
    now; kept for every model that ever had a ``partial_fit`` call, they
    held megabytes per model, out of sight of pickle and ``sys.getsizeof``,
    for as long as the model lived (helper-133).

    Parameters
    ----------
    most : int
        How many estimators' values are kept at most.
    """

    def __init__(self, most):
        super().__init__()
        self.most = most

    def __setitem__(self, key, value):
        # Stored anew at the end, so that the oldest value is evicted first.
        self.pop(key, None)
        super().__setitem__(key, value)
        # Found in a copy (a single dict operation, which the GIL keeps
        # whole): a concurrent call's pop, or a weak reference's callback,
        # cannot then change the dict while it is read. Two concurrent
        # calls may evict one value too many: a spare less, never a spare
        # shared.
        while len(self.data) > self.most:
            oldest = next(iter(self.data.copy()), None)
            if oldest is None:
                break
            self.data.pop(oldest, None)


# Per estimator: the work buffers its last partial_fit call used, for the
# few estimators trained last (each call of a stream keeps its spare anew,
# as the most recent).
_spare_workspaces = _RecentSpares(4)


def _take(store, estimator):
    """What the weak per-estimator ``store`` keeps for ``estimator``, taken
    out of it (None if nothing, or if ``estimator`` cannot be a weak key:
    a subclass that defines __eq__ without __hash__)."""
    try:
        return store.pop(estimator, None)
    except TypeError:
        return None


def _keep(store, estimator, value):
    """Keep ``value`` for ``estimator`` in the weak ``store`` (not kept where
    ``estimator`` cannot be a weak key)."""
    try:
        store[estimator] = value
    except TypeError:
        pass


def _fresh_random_state(estimator):
    """``check_random_state(estimator.random_state)``: for an int seed, a
    generator that starts from the seed.

    Every call of ``fit`` and ``partial_fit`` starts from the seed, as in
    scikit-learn. Seeding a new generator costs 60-80 us of each small
    ``partial_fit``; reseeding one kept for the estimator in place
    (``RandomState.seed``, the same legacy seeding as the constructor's, which
    also clears the cached Gaussian) costs about 1 us. It keeps up to two
    (the second made on the second call) and takes the one that
    ``estimator._random_state`` does not hold, so that a failed call, whose
    rollback puts the previous ``_random_state`` back, leaves that
    generator as it was. (Kept outside the estimator: nothing to save, copy
    or compare.)
    """
    seed = estimator.random_state
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        return check_random_state(seed)
    seed = int(seed)
    try:
        kept = _seeded_generators.get(estimator)
    except TypeError:  # a subclass that defines __eq__ without __hash__
        return check_random_state(seed)
    if kept is None or kept[0] != seed:
        # The second generator waits for a second call: a clone fitted
        # once (every fit of a search) needs one.
        kept = [seed, check_random_state(seed), None]
        _seeded_generators[estimator] = kept
        return kept[1]
    if estimator.__dict__.get("_random_state") is not kept[1]:
        rng = kept[1]
    elif kept[2] is None:
        kept[2] = check_random_state(seed)
        return kept[2]
    else:
        rng = kept[2]
    rng.seed(seed)
    return rng
