"""Read what a search (or any estimator) may fit into the distinct fastbp
configurations whose kernels it runs.

:func:`_configurations` expands the parameter grids and distributions of
scikit-learn's searches (``GridSearchCV``, ``RandomizedSearchCV``, nested
ones, pipelines swapping steps in) into unfitted fastbp estimators, one per
set of kernels: two configurations that agree on the path parameters
(:data:`_PATH_PARAMS`, and whether ``residual`` connects any layers) run
the same compiled code, so only the first is kept.

It is apart from :mod:`fastbp.warmup`, which compiles and loads the kernels
of the configurations found here, because reading a parameter space
compiles nothing and needs nothing of it: :func:`fastbp.warmup` reads its
arguments with it, and :mod:`fastbp.search` a search's space (whether its
workers can warm it, whether its fastbp estimators train behind other
steps). Nothing here imports :mod:`fastbp.warmup`, so the seam runs one
way: warm-up reads the space, never the reverse.
"""

import copy
import itertools
import numbers

import numpy as np
from sklearn.base import clone

from .estimators import MLPClassifier
from .estimators.architecture import residual_flags
from .estimators.base import BaseMLP
from .estimators.checks import check_hidden_layer_sizes
from .estimators.tiny_fits import tiny_widths as _tiny_widths
from .exceptions import quiet_in_this_thread

# The parameters that choose which compiled code a fit runs (kernel entry
# points, validation and scoring paths). Two configurations that agree on
# these compile the same kernels, so only one of them is fitted.
_PATH_PARAMS = ("solver", "early_stopping", "normalization", "dropout", "residual",
                "clip_grad_norm", "activation", "loss", "device", "scoring")
# Parameters that change the path only with another: whether residual=True
# connects any layers depends on hidden_layer_sizes (equal widths). A grid's
# choices of them are cut to what the kernels and the fit's checks read
# (_sizes_kind) and expanded; configurations are told apart by the
# connections they make (_path_key), not by the sizes.
_SHAPE_PARAMS = ("hidden_layer_sizes",)


def _configurations(objects):
    """The distinct fastbp configurations (by path parameters) found in
    ``objects``, as unfitted estimators."""
    found = {}
    for obj in objects:
        expanded = _expand(obj)
        # The tiny fits replace max_iter, batch_size and random_state with
        # their own: where no search could set them (helper-103), a value
        # that the user's fits refuse is refused here, as it is for tol.
        if not any(_is_search(h) for h in _held(obj)):
            for est in expanded:
                est._validate_params()
        for est in expanded:
            found.setdefault(_path_key(est), est)
    if not found:
        raise ValueError("warmup found no fastbp estimator in "
                         f"{[type(o).__name__ for o in objects]}.")
    return list(found.values())


def _is_search(obj):
    """Whether ``obj`` tunes parameters (a grid or distributions)."""
    return (getattr(obj, "param_grid", None) is not None
            or getattr(obj, "param_distributions", None) is not None)


def _connects(params):
    """Whether ``residual`` connects any layers of these parameters'
    network (the sizes decide: equal widths); ``residual`` itself where the
    sizes are invalid (the fit says what is wrong)."""
    residual = params.get("residual")
    if residual:
        try:
            return any(residual_flags(residual, check_hidden_layer_sizes(
                params.get("hidden_layer_sizes")), warn=False))
        except (TypeError, ValueError):
            pass
    return residual


def _path_key(est):
    """What of ``est`` chooses the kernels its fits run: its class, its
    path parameters, and whether ``residual`` connects any layers."""
    return _params_key(type(est).__name__, est.get_params(deep=False))


def _params_key(name, params):
    """:func:`_path_key` of an estimator of the class called ``name`` with
    ``params``, read from the parameters alone (a search's points are keyed
    without a clone each). A number of :data:`_NUMERIC_PATH_PARAMS` counts
    as off or on only, as :func:`_drawn` keeps it: a grid's dropout of 0.1
    and 0.3 run the same kernels, and were warmed once each (rev-272)."""
    return (name,) + tuple(
        repr(_connects(params) if p == "residual"
             else _switch(params.get(p)) if p in _NUMERIC_PATH_PARAMS else params.get(p))
        for p in _PATH_PARAMS)


def _switch(value):
    """A numeric path parameter's value as the kernels see it: "off" (None,
    the default, or 0), "on" (any other number), or ``value`` itself (a
    per-layer list of rates, whose length the sizes must match)."""
    if value is None:
        return "off"
    if _is_number(value):
        return "off" if value == 0 else "on"
    return value


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _clone_without_cv(obj):
    """``clone(obj)``, a search's ``cv`` left out: it plays no part in what
    the search trains, and one that is an iterable of splits (a generator,
    which scikit-learn takes) cannot be copied."""
    if "cv" in obj.get_params(deep=False):
        obj = copy.copy(obj).set_params(cv=None)
    return clone(obj)


def _expand(obj):
    """Every fastbp estimator that fitting ``obj`` may train: ``obj``
    itself, or those it holds, with each point of a search's grid."""
    if isinstance(obj, BaseMLP):
        return [obj]
    if isinstance(obj, type):
        raise TypeError(f"warmup takes estimators, got the class {obj.__name__}; pass an "
                        f"instance, such as {obj.__name__}().")
    if not hasattr(obj, "get_params"):
        raise TypeError(f"warmup takes estimators, got {type(obj).__name__}.")
    grids = _grids(obj)
    split = _grid_owners(obj)
    found, refused, keys_found = [], [], set()
    for grid in grids:
        owners = split(grid) if split is not None and grid else None
        if owners is not None:
            # rev-272: each of 23,040 points was a clone of the search (60 s
            # for 720 configurations). Here a point is its fastbp
            # estimators' template parameters and its own: one whose path
            # keys an earlier point's fits take already would be dropped by
            # _configurations as a duplicate, and the others are copies of
            # the estimators alone. A refused point is no duplicate of
            # anything: the next one with its key is still tried.
            key = tuple(_params_key(cls.__name__, params) for cls, params in owners)
            if key in keys_found:
                continue
            # Built from the parameters, as _tiny_representative builds its
            # copy: nothing here fits them, or changes what they hold.
            estimators = [cls(**params) for cls, params in owners]
            problems = [_refusal(est) for est in estimators]
            found += [est for est, p in zip(estimators, problems) if p is None]
            refused += [p for p in problems if p is not None]
            if all(p is None for p in problems):
                keys_found.add(key)
            continue
        candidate = _clone_without_cv(obj)
        if grid:
            base = candidate.estimator if hasattr(candidate, "estimator") else candidate
            # As the search's own fits do (clone(parameters, safe=False)):
            # an estimator of the grid set in as it is would be the same
            # object in every point, each point's parameters overwriting
            # the last's, and the user's grid left holding the last.
            base.set_params(**clone(grid, safe=False))
        held = _held(candidate)
        # A search held (in a pipeline, or a search's nested one) trains
        # the points of its grid, not its template as it stands: its grid
        # is expanded, and the estimators inside it are left to that.
        searches = [h for h in held[1:] if _grids(h) != [{}]]
        inside = {id(v) for search in searches for v in _held(search)[1:]}
        for v in held:
            if not isinstance(v, BaseMLP) or id(v) in inside:
                continue
            # A point of the grid that a fit refuses before it trains (lbfgs
            # with dropout) scores NaN in the search: nothing to warm. The
            # other points still are.
            problem = _refusal(v) if grid else None
            if problem is None:
                found.append(v)
            else:
                refused.append(problem)
        for search in searches:
            found += _expand(search)
    if refused and not found:
        raise refused[0]  # every point: the search's fits would all fail
    return found


def _grid_owners(search):
    """``split(grid)``: the fastbp estimators of ``search``'s template as
    the point ``grid`` of its grid sets them, as ``(class, params)``
    pairs (the template's parameters updated with the point's).

    None where the points' estimators are found only by cloning the
    search: for every point of a search that holds a search, and from
    ``split`` for a point that swaps an estimator in or sets what is not
    a fastbp estimator's path parameter.
    """
    base = getattr(search, "estimator", None)
    if not _is_search(search) or not hasattr(base, "get_params"):
        return None
    held = [("", base)] + [(k, v) for k, v in base.get_params(deep=True).items()
                           if hasattr(v, "get_params") and not isinstance(v, type)]
    if any(_is_search(v) for _, v in held):
        return None
    # By the prefix a grid's key names each with ("" for the search's
    # estimator itself).
    owners = {prefix: (type(v), v.get_params(deep=False))
              for prefix, v in held if isinstance(v, BaseMLP)}
    names = set(_PATH_PARAMS + _SHAPE_PARAMS)

    def split(grid):
        points = {prefix: {} for prefix in owners}
        for k, value in grid.items():
            prefix, _, name = k.rpartition("__")
            if prefix not in owners or name not in names:
                return None
            points[prefix][name] = value
        return [(cls, {**params, **points[prefix]})
                for prefix, (cls, params) in owners.items()]

    return split


def _refusal(est):
    """The error with which a fit of ``est`` refuses its parameters before
    it trains, or None."""
    # The check is the fit's own, with its warnings (residual=True without
    # equal widths): the report marks such a point "(no connections)", and
    # a warning per grid point, on every worker, said it again. Recorded in
    # this thread alone, as a process-wide catch_warnings would swallow the
    # warnings of other threads' fits.
    with quiet_in_this_thread():
        try:
            est._validate_params()
            est._architecture(est._hidden_sizes())
        except (TypeError, ValueError) as exc:
            return exc
    return None


def _grids(search):
    """The parameter combinations of a search that can change a fastbp
    path, or put a fastbp estimator in (``[{}]`` for anything that is not
    a search)."""
    spaces = getattr(search, "param_grid", None) or getattr(search, "param_distributions", None)
    if spaces is None:
        return [{}]
    combos = []
    for space in spaces if isinstance(spaces, list) else [spaces]:
        # Distributions are sampled at fit time; their lists are the choices.
        # A key whose choices are estimators (a pipeline step swapped whole)
        # counts too: its fastbp candidates are found in the clones. A
        # scipy.stats distribution of a path parameter, or of the sizes
        # (which decide whether residual connects layers: helper-103),
        # gives representatives of its draws (_drawn).
        for k, v in space.items():
            if hasattr(v, "__iter__") and not isinstance(v, str) and not list(v):
                # The search refuses it too; warming the estimator's own
                # value instead would warm what no fit runs.
                raise ValueError(f"the search's grid gives {k!r} no values to try: give "
                                 "it a non-empty list.")
        # A path parameter's list is cut to the values that choose
        # different kernels before the lists are crossed (_distinct):
        # rev-272's 23,040 points were 720 configurations, and 11 kernels.
        items = [(k, _distinct(list(v), k.split("__")[-1], search, k, space)
                  if k.split("__")[-1] in _PATH_PARAMS + _SHAPE_PARAMS else list(v))
                 for k, v in space.items()
                 if hasattr(v, "__iter__") and not isinstance(v, str)
                 and (k.split("__")[-1] in _PATH_PARAMS + _SHAPE_PARAMS
                      or _holds_fastbp(v))]
        drawn = [(k, _drawn(v, k.split("__")[-1], _default(search, k, space),
                            _accepts(search, k, space)))
                 for k, v in space.items()
                 if hasattr(v, "rvs") and k.split("__")[-1] in _PATH_PARAMS + _SHAPE_PARAMS]
        items += [(k, values) for k, values in drawn if values]
        keys = [k for k, _ in items]
        combos += [dict(zip(keys, values))
                   for values in itertools.product(*(v for _, v in items))]
    return combos or [{}]


def _distinct(values, name, search, key, space=None):
    """Of a grid's ``values`` for the path (or shape) parameter ``name``
    (``key`` in ``search``'s grid, one dict of which is ``space``), the
    first of each kind that chooses different kernels, in their order.

    A number of :data:`_NUMERIC_PATH_PARAMS` is off (its default) or on:
    the first value on that the estimator takes stands for the others, as
    for a distribution (:func:`_drawn`); values it refuses are kept, for
    the point's fit to refuse as the search's would. The estimator is the
    one the points fit (:func:`_key_owners`). Hidden layer sizes
    are told apart by what the kernels and the fit's checks read of them
    (:func:`_sizes_kind`). Any other value is kept once.
    """
    kept, kinds = [], []
    accepts = off = None
    for value in values:
        if name in _NUMERIC_PATH_PARAMS:
            if off is None:
                off, accepts = _is_off(search, key, space), _accepts(search, key, space)
            if not accepts(value):
                # rev-284: a refused value never stands for "on" (nor for
                # "off"), or the value that a fit takes is cut for it.
                kind = ("as given", repr(value))
            elif off(value):
                kind = "off"
            elif _is_number(value):
                kind = "on"
            else:
                kind = ("as given", repr(value))
        elif name == "hidden_layer_sizes":
            kind = _sizes_kind(value)
        else:
            kind = ("as given", repr(value))
        if kind not in kinds:
            kinds.append(kind)
            kept.append(value)
    return kept


def _sizes_kind(sizes):
    """What of ``hidden_layer_sizes`` chooses the kernels a fit runs, or
    whether the fit refuses it: the number of layers (per-layer
    activations and dropout rates must match it), which consecutive layers
    have equal widths (what ``residual`` connects), both as the tiny fits'
    widths (:func:`_tiny_widths`), and whether a layer has a single unit
    (``normalization="layer"`` refuses it). No kernel reads the widths
    themselves. Sizes that are not valid are each a kind of their own."""
    try:
        checked = check_hidden_layer_sizes(sizes)
    except (TypeError, ValueError):
        return ("as given", repr(sizes))
    return _tiny_widths(checked), 1 in checked


#: Draws taken from a distribution of a path parameter (:func:`_drawn`).
_N_DRAWS = 16
#: The path parameters that are numbers: which kernels run depends only on
#: whether they are off (their default) or on, not on the value.
_NUMERIC_PATH_PARAMS = ("dropout", "clip_grad_norm")
#: The path parameters that are booleans (a distribution may draw 0 and 1).
_BOOL_PATH_PARAMS = ("early_stopping", "residual")


def _drawn(distribution, name, default, accepts=lambda value: True):
    """Values that stand for what ``distribution`` (a scipy.stats one, or
    anything with ``rvs(random_state=...)``, as scikit-learn's
    ``ParameterSampler`` calls it) draws for the path parameter ``name``.

    For a number (a dropout rate, a clipping norm), which kernels run
    depends only on whether it is off: the first draw off ``default``
    stands for every such draw, and ``default`` itself is kept if drawn.
    For the others (a solver, an activation, a flag), every distinct value
    drawn is kept. Draws that ``accepts(value)`` refuses (a dropout rate of
    1 from ``randint(0, 2)``) are left out: the search's fits of them fail
    before training, and warming them would fail the warm-up. The draws are
    seeded: the same search warms the same values. None where the
    distribution cannot be drawn from that way, or draws nothing valid (the
    search's own fits then compile what it draws).
    """
    rng = np.random.RandomState(0)
    try:
        draws = [distribution.rvs(random_state=rng) for _ in range(_N_DRAWS)]
    except Exception:  # noqa: BLE001 - not a distribution warmup can use
        return None
    draws = [d.item() if hasattr(d, "item") else d for d in draws]
    if name in _BOOL_PATH_PARAMS:
        draws = [bool(d) for d in draws]
    draws = [d for d in draws if accepts(d)]
    if not draws:
        return None
    if name not in _NUMERIC_PATH_PARAMS:
        kept = []
        for d in draws:
            if not any(_equal(d, k) for k in kept):
                kept.append(d)
        return kept
    kept = [next((d for d in draws if not _equal(d, default)), default)]
    if any(_equal(d, default) for d in draws) and not _equal(kept[0], default):
        kept.append(default)
    return kept


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # arrays, objects that do not compare
        return repr(a) == repr(b)


def _owner(search, key):
    """The estimator that ``search`` tunes whose parameter ``key``
    (``step__name``) is, and the parameter's name (None, name where not
    found)."""
    base = getattr(search, "estimator", None)
    prefix, _, name = key.rpartition("__")
    if base is None or not hasattr(base, "get_params"):
        return None, name
    return (base.get_params(deep=True).get(prefix) if prefix else base), name


def _key_owners(search, key, space=None):
    """The fastbp estimators whose parameter ``key`` (``step__name``) the
    points of ``space`` (one dict of ``search``'s grid) set, and the
    parameter's name.

    Where ``space`` swaps in the step that holds it (or one above it,
    such as a pipeline holding the estimator), those are the fastbp
    estimators among its choices: the template's step may be a
    placeholder (``LogisticRegression()``) that no point fits (rev-284).
    Otherwise the template's own, where it is a fastbp estimator. An empty
    list where no fastbp estimator takes the value.
    """
    prefix, _, name = key.rpartition("__")
    steps = prefix.split("__") if prefix else []
    # The deepest swap wins: scikit-learn sets a step before the
    # parameters of what it holds.
    for i in range(len(steps), 0, -1):
        choices = (space or {}).get("__".join(steps[:i]))
        if not hasattr(choices, "__iter__") or isinstance(choices, str):
            continue
        tail = "__".join(steps[i:])
        held = [c if not tail else c.get_params(deep=True).get(tail)
                for c in choices if hasattr(c, "get_params") and not isinstance(c, type)]
        return [h for h in held if isinstance(h, BaseMLP)], name
    owner, name = _owner(search, key)
    return ([owner] if isinstance(owner, BaseMLP) else []), name


def _default(search, key, space=None):
    """The default of the parameter ``key`` (``step__name``) of the
    estimator that ``search`` tunes: that of its class where the points of
    ``space`` fit fastbp estimators that agree on it
    (:func:`_key_owners`), its current value in the template otherwise
    (None where not found)."""
    agreed, default = _owners_default(*_key_owners(search, key, space))
    if agreed:
        return default
    base = getattr(search, "estimator", None)
    return base.get_params(deep=True).get(key) if hasattr(base, "get_params") else None


def _is_off(search, key, space=None):
    """``off(value)``: whether ``value`` of the numeric path parameter
    ``key`` leaves its kernels out: its default where the fastbp estimators
    that take it agree on one, :func:`_switch`'s "off" (None or 0)
    otherwise; the template's value need not be a fastbp default."""
    agreed, default = _owners_default(*_key_owners(search, key, space))
    if agreed:
        return lambda value: _equal(value, default)
    return lambda value: _switch(value) == "off"


def _owners_default(owners, name):
    """``(True, default)`` where the classes of ``owners`` (fastbp
    estimators) give their parameter ``name`` one default, ``(False,
    None)`` where they do not, or there are none."""
    defaults = [type(owner)().get_params(deep=False).get(name) for owner in owners]
    if defaults and all(_equal(d, defaults[0]) for d in defaults):
        return True, defaults[0]
    return False, None


def _accepts(search, key, space=None):
    """``accepts(value)``: whether every fastbp estimator that takes ``key``
    in the points of ``space`` (:func:`_key_owners`) takes ``value`` for it
    (scikit-learn's parameter validation, which their fits run first).
    Where none is found: for a number of :data:`_NUMERIC_PATH_PARAMS`,
    whether a fastbp estimator would (a value it refuses must not stand for
    others that it takes); everything otherwise."""
    owners, name = _key_owners(search, key, space)
    if not owners:
        if name not in _NUMERIC_PATH_PARAMS:
            return lambda value: True
        owners = [MLPClassifier()]

    def accepts(value):
        try:
            for owner in owners:
                clone(owner).set_params(**{name: value})._validate_params()
        except (TypeError, ValueError):  # InvalidParameterError is both
            return False
        return True

    return accepts


def _holds_fastbp(choices):
    """Whether a grid entry's ``choices`` put a fastbp estimator in (only
    such keys are expanded: crossing every swapped-in scaler would multiply
    the candidates for nothing)."""
    return any(hasattr(c, "get_params") and not isinstance(c, type)
               and any(isinstance(h, BaseMLP) for h in _held(c)) for c in choices)


def _held(obj):
    """``obj`` and the estimators among its deep parameters (those of a
    search's ``estimator`` and of a pipeline's steps included)."""
    return [obj] + [value for value in obj.get_params(deep=True).values()
                    if hasattr(value, "get_params") and not isinstance(value, type)]
