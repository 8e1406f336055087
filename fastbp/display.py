"""Training curves as a scikit-learn-style Display object.

``TrainingHistoryDisplay.from_estimator(est).plot()`` draws a fitted model's
``history_``: the training loss with the validation loss and score when
early stopping recorded them, each layer's gradient norm on a log axis, and
the learning rate. matplotlib is imported only here, when plotting
(``pip install "fastbp[plot]"``).
"""

import numpy as np

# Reading a model's history is fastbp.history's; the Display draws it.
from .history import (_history_of, _trained_model, check_estimator_given, no_history_message,
                      step_name)
# Kept importable from here, where it lived until rev-308 (code and tests
# import fastbp.display.epochs_before).
from .history import epochs_before  # noqa: F401 (re-exported)

# The Display alone: the history helpers above are shared with the rest of
# fastbp (history_frame, TensorBoard, the CLI), not the user's API.
__all__ = ["TrainingHistoryDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('Plotting needs matplotlib: pip install "fastbp[plot]"') from exc
    return plt


def _check_axes(ax):
    """Refuse an ``ax`` that is not a matplotlib Axes (or holds anything
    else) before anything is drawn: drawing on it failed with an
    AttributeError from inside the panels ("'str' object has no attribute
    'figure'", "'Figure' object has no attribute 'plot'") that named no
    parameter."""
    from matplotlib.axes import Axes

    for item in ax:
        if not isinstance(item, Axes):
            shown = repr(item)
            # A short repr ('left') says what was passed; a long or
            # default one (<Figure size ...>) only repeats the type.
            shown = f" {shown}" if len(shown) <= 40 and not shown.startswith("<") else ""
            hint = (": pass Axes of it, e.g. fig.subplots(1, 3)"
                    if hasattr(item, "add_subplot") else "")
            raise TypeError(f"ax must be a matplotlib Axes or hold 3 of them (loss, gradient "
                            f"norms, learning rate); got {type(item).__name__}{shown}{hint}")


#: The figure of the three panels (pyplot's, or the CLI's own Figure).
FIGURE_KW = {"figsize": (13, 3.8), "layout": "constrained"}

_NOT_RECORDED = "fastbp-not-recorded"
# Tags the validation-score twin this module makes: a right-hand twin the
# caller made on the same Axes (samples/s, say) is theirs, not a score axis.
_SCORE_TWIN = "fastbp-val-score"


def _not_recorded(ax, text="not recorded for this model"):
    # An empty panel says why (lbfgs, or a model converted from scikit-learn;
    # or a history given by hand that has none). One such text per panel,
    # however many models without one are drawn onto it.
    _recorded(ax)
    ax.text(0.5, 0.5, text, transform=ax.transAxes,
            ha="center", va="center", color="0.4", gid=_NOT_RECORDED)


def _recorded(ax):
    # A model that records the panel's values, drawn beside one that did
    # not: the panel is no longer empty.
    for text in list(ax.texts):
        if text.get_gid() == _NOT_RECORDED:
            text.remove()


def _set_step_label(ax, step_name):
    # An L-BFGS model's iterations beside another's epochs: the axis names
    # both.
    shown = ax.get_xlabel()
    if shown and step_name not in shown.split(" / "):
        step_name = f"{shown} / {step_name}"
    elif shown:
        step_name = shown
    ax.set_xlabel(step_name)


def _twin_of(ax):
    """The validation-score axis an earlier plot put on ``ax``, if any,
    so that a second model's curves join it instead of stacking a new one."""
    for other in ax.get_shared_x_axes().get_siblings(ax):
        if other is ax or other.get_gid() != _SCORE_TWIN:
            continue
        spec = ax.get_subplotspec()
        if (other.get_subplotspec() == spec if spec is not None
                else other.get_position().bounds == ax.get_position().bounds):
            return other
    return None


def _loss_has_penalty(model):
    """Whether ``model``'s training loss (``loss_curve_``, ``history_['loss']``)
    holds a penalty: the objective minimised, where the validation loss is
    the data loss alone. As its last fit recorded it; else (a model
    converted from scikit-learn, or saved before fits recorded it) by its
    parameters as set."""
    recorded = model.__dict__.get("_penalised_loss")
    if recorded is not None:
        return recorded
    holds = getattr(model, "_loss_holds_penalty", None)
    # scikit-learn's own MLP: alpha's L2, its one penalty.
    return holds() if holds is not None else bool(model.alpha > 0)


def _check_history(history):
    """Refuse a ``history`` that is not a mapping of entries, naming it:
    an estimator given to the constructor failed with "argument of type
    'MLPRegressor' is not iterable", a string with "dictionary update
    sequence element #0 has length 1; 2 is required".

    A DataFrame (``history_frame``'s) is taken: it maps its columns to
    their values, as a ``--history-out`` CSV read back does."""
    from collections.abc import Mapping

    if isinstance(history, Mapping) or (hasattr(history, "keys")
                                        and hasattr(history, "__getitem__")):
        return
    got = ("None" if history is None else f"the class {history.__name__}"
           if isinstance(history, type) else type(history).__name__)
    if hasattr(history, "fit"):
        raise TypeError(
            f"TrainingHistoryDisplay(history) takes a history, a mapping of entries to "
            f"per-epoch values like a fitted model's history_, not an estimator ({got}): "
            f"use TrainingHistoryDisplay.from_estimator(estimator)")
    raise TypeError(
        f"TrainingHistoryDisplay(history) takes a history, a mapping of entries to "
        f"per-epoch values like a fitted model's history_; got {got}. To plot a fitted "
        f"estimator, use TrainingHistoryDisplay.from_estimator(estimator)")


def _check_lengths(history):
    """Raise ValueError naming the first entry of ``history`` that is not one
    value per entry of its ``loss`` (a row per entry for ``grad_norm``, one
    column per layer); an empty entry is one not recorded."""
    loss = history["loss"]
    if np.ndim(loss) != 1:
        raise ValueError(f"history['loss'] must be 1-dimensional, one value per epoch; "
                         f"got shape {np.shape(loss)}")
    n = len(loss)
    for key, values in history.items():
        shape = np.shape(values)
        if shape and shape[0] == 0:
            continue
        ndim = 2 if key == "grad_norm" else 1
        if len(shape) != ndim or shape[0] != n:
            what = "rows (epochs) by layers" if key == "grad_norm" else "values"
            raise ValueError(f"history[{key!r}] has shape {shape}, but history['loss'] has "
                             f"{n} entries: it must hold {n} {what} (one per epoch), or none")


#: The entries drawn as curves, one float per epoch.
_CURVES = ("loss", "val_loss", "val_score", "learning_rate")


def _as_history(history):
    """``history`` as the panels draw it: each drawn entry a float array
    (lists too, as ``pandas.read_csv(path).to_dict("list")`` gives them),
    and ``grad_norm`` assembled from the ``grad_norm_layer1``, ...
    columns of a ``--history-out`` CSV where it is not given itself.
    ``history`` itself is left as it was."""
    history = dict(history)
    for key in (*_CURVES, "grad_norm"):
        if key in history:
            history[key] = _floats(history, key)
    layers = {}
    for key in history:
        if key.startswith("grad_norm_layer") and key[len("grad_norm_layer"):].isdigit():
            layers[int(key[len("grad_norm_layer"):])] = key
    if layers and "grad_norm" not in history:
        if sorted(layers) != list(range(1, len(layers) + 1)):
            raise ValueError(f"history has the gradient-norm columns {sorted(layers.values())}: "
                             f"they must be grad_norm_layer1 to grad_norm_layer{len(layers)}, "
                             "one per layer, with none missing")
        columns = {key: _floats(history, key) for key in layers.values()}
        # Before they are stacked: numpy's error for columns of other
        # lengths names none of them.
        _check_lengths({"loss": history["loss"], **columns})
        history["grad_norm"] = np.column_stack([columns[layers[k]] for k in sorted(layers)])
    return history


def _floats(history, key):
    try:
        return np.asarray(history[key], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"history[{key!r}] must hold numbers (NaN where not recorded): "
                         f"{exc}") from None


def _set_title(ax, title):
    # The caller's own title for the Axes stays.
    if not ax.get_title():
        ax.set_title(title)


#: How each validation curve is drawn, beside the solid training loss.
_VALIDATION_LINESTYLES = {"val_loss": ("validation loss", ("--", "dashed")),
                          "val_score": ("validation score", (":", "dotted"))}


def _check_linestyle(history, kwargs):
    """Refuse a ``linestyle`` that would draw the training loss as one of
    the validation curves is drawn: in one colour, they would be the same.

    A dash pattern (``dashes=``, or an ``(offset, (on, off, ...))``
    linestyle) is refused wherever a validation curve is drawn: its dashes
    can look like either."""
    linestyle = kwargs.get("linestyle")
    dashes = kwargs.get("dashes")
    if (isinstance(linestyle, tuple) and len(linestyle) == 2 and linestyle[1] is not None
            and len(linestyle[1])):
        pattern = f"linestyle={linestyle!r}"
    elif dashes is not None and len(dashes):
        pattern = f"dashes={dashes!r}"
    else:
        pattern = None
    if pattern is not None:
        drawn = [what for key, (what, _) in _VALIDATION_LINESTYLES.items()
                 if len(history.get(key, ()))]
        if drawn:
            raise ValueError(
                f"{pattern} draws the training loss with a dash pattern, which can look "
                f"like the {' or the '.join(drawn)}: the validation loss is drawn dashed "
                "and the validation score dotted, in one colour per model. Pass a solid "
                "or dash-dot linestyle ('-', '-.'), or a color.")
        return
    if not isinstance(linestyle, str):
        return
    for key, (what, styles) in _VALIDATION_LINESTYLES.items():
        if linestyle in styles and len(history.get(key, ())):
            raise ValueError(
                f"linestyle={linestyle!r} is the {what}'s: the training loss is drawn with "
                f"the linestyle given, the validation loss dashed and the validation score "
                f"dotted, in one colour per model. Pass another linestyle, or a color.")


class TrainingHistoryDisplay:
    """Training history visualisation.

    Build it with :meth:`from_estimator` (or from a ``history_`` dict), then
    call :meth:`plot`. As scikit-learn's Display objects, the plotting
    results are kept in ``figure_`` and ``axes_``. To compare models, draw
    each onto the same axes with a ``name``::

        disp = TrainingHistoryDisplay.from_estimator(adam, name="adam")
        TrainingHistoryDisplay.from_estimator(sgd, ax=disp.axes_, name="sgd")

    Each model has one colour on every panel: on the loss panel the
    training loss solid, the validation loss dashed and the validation
    score (right axis) dotted; on the gradient-norm panel its layers told
    apart by linestyle. The loss axis is logarithmic where the finite
    losses drawn on it are positive and span more than 3 orders of
    magnitude (a diverging fit's), and so is the learning-rate axis where
    the rates do (a step or decaying schedule's), unless the caller set a
    scale on it. The learning rate is drawn as steps, constant over each
    epoch.
    A finite value with no finite neighbour (a one-epoch history, or a
    value between NaN or inf entries) is drawn as a point where no
    ``marker`` is given, since no line joins it.

    Parameters
    ----------
    history : dict of str to ndarray, or DataFrame
        A fitted estimator's ``history_`` (or ``fastbp.history_frame``'s
        table of it; any mapping of entries to values): ``loss`` of shape (n_epochs,),
        optionally ``val_loss`` and ``val_score`` of shape (n_epochs,),
        ``grad_norm`` of shape (n_epochs, n_layers) and ``learning_rate``
        of shape (n_epochs,). NaN entries are gaps (epochs where the value
        was not recorded). Lists are taken as arrays, and the columns
        ``grad_norm_layer1``, ``grad_norm_layer2``, ... of a ``fastbp train
        --history-out`` CSV as ``grad_norm``, so that the CSV read back
        plots: ``TrainingHistoryDisplay(pd.read_csv(path).to_dict("list"))``.
        Checked by :meth:`plot`, which refuses anything else (an estimator
        among them: pass that to :meth:`from_estimator`) with a TypeError.
    estimator_name : str, default=None
        The figure's title (on the figure :meth:`plot` makes when given no
        ``ax``), and the curves' name when :meth:`plot` gets no
        ``name``.
    step_name : str, default="epoch"
        What one entry of the history is: "iteration" for
        ``solver='lbfgs'`` (:meth:`from_estimator` sets it).
    penalized : bool, default=False
        Whether ``loss`` includes the L2/L1 penalty, as a fitted model's
        does where ``alpha`` or ``l1`` is set (:meth:`from_estimator` sets
        it): its curve is then labelled "training loss + penalty", since
        ``val_loss`` is the data loss alone and sits below it by as much.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (3,) or (1,)
        Loss (with the validation score on a twin axis), gradient norms,
        learning rate; only the loss panel when :meth:`plot` was given one
        Axes.
    lines_ : dict of str to matplotlib Line2D or list of Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_iris
    >>> from fastbp import MLPClassifier, TrainingHistoryDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> model = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> disp = TrainingHistoryDisplay.from_estimator(model)
    >>> len(disp.axes_), len(disp.lines_["loss"].get_xdata())
    (3, 20)
    >>> plt.close(disp.figure_)
    """

    def __init__(self, history, *, estimator_name=None, step_name="epoch", penalized=False):
        self.history = history
        self.estimator_name = estimator_name
        self.step_name = step_name
        self.penalized = penalized
        # The name the last draw labelled the curves with, for a redraw.
        self._drawn_name = None
        # Whether the history is a model's (from_estimator): a panel it
        # lacks is one the model does not record, where a history given by
        # hand (a --history-out CSV read back) may just not hold it.
        self._of_model = False

    def _missing(self, what):
        return "not recorded for this model" if self._of_model else f"no {what} in this history"

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot a fitted estimator's training history.

        Parameters
        ----------
        estimator : fitted estimator
            A fastbp model, or what holds one as its last step or fitted
            model: a Pipeline (what ``fastbp train --data`` saves), a
            search's ``best_estimator_``, a ``TransformedTargetRegressor``.
            A model converted from scikit-learn plots its ``loss_curve_``
            and ``validation_scores_`` for the epochs scikit-learn trained.
        ax : matplotlib Axes or array of 3 Axes, default=None
            Where to draw (see :meth:`plot`); a new figure with three
            panels if None.
        name : str, default=None
            Names the curves in the legends, for comparing models on the
            same axes. If None the curves are labelled by what they are
            only, and the estimator's name (``estimator_name``) titles the
            figure made when ``ax`` is None (see :meth:`plot`'s ``title``).
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingHistoryDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not an estimator (its ``history_`` dict
            among them: pass that to the constructor instead), ``ax``
            is not a matplotlib Axes or Axes, or both ``name`` and
            ``label`` are given.
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.
        ValueError
            If the model records no training history (no ``history_`` or
            ``loss_curve_``: a scikit-learn model of another kind, or a
            search fitted with ``refit=False``), ``ax`` holds neither 1 nor
            3 Axes, or a ``linestyle`` is refused (see :meth:`plot`).
        ImportError
            If matplotlib is not installed.
        """
        from sklearn.utils.validation import check_is_fitted

        check_estimator_given(estimator, "TrainingHistoryDisplay.from_estimator")
        check_is_fitted(estimator)
        model = _trained_model(estimator)
        history = _history_of(model)
        if "loss" not in history:
            raise ValueError(no_history_message(model))
        estimator_name = type(model).__name__
        if model is not estimator:
            estimator_name = f"{type(estimator).__name__}: {estimator_name}"
        display = cls(history, estimator_name=estimator_name, step_name=step_name(model),
                      penalized=_loss_has_penalty(model))
        display._of_model = True
        if name is None and "label" not in kwargs:
            # "" rather than None: the curves of a model plotted without a
            # name stay unprefixed (plot would name them after
            # estimator_name, which titles the figure).
            name = ""
        return display.plot(ax=ax, name=name, **kwargs)

    def plot(self, ax=None, *, name=None, title=None, **kwargs):
        """Draw the panels.

        Parameters
        ----------
        ax : matplotlib Axes or array of 3 Axes, default=None
            Three Axes get the loss, gradient-norm and learning-rate panels;
            a single Axes the loss panel alone. Axes that already hold an
            earlier plot get this one's curves beside it (pass ``name``). A
            new figure with three panels if None.
        name : str, default=None
            Prefixes every curve's legend label (``"adam: training loss"``).
            None takes the name this display's previous draw used (a redraw
            labels the curves alike, :meth:`from_estimator`'s included),
            else ``estimator_name`` (as scikit-learn's Displays do); ``""``,
            or None without either, labels the curves by what they are
            only.
        title : str, default=None
            The figure's title. If None, ``estimator_name`` titles the new
            figure drawn when ``ax`` is None; the figure of Axes given is
            the caller's, and keeps its title or none, as scikit-learn's
            Displays leave it. Each panel's title ("loss", ...) is set only
            on Axes that have none.
        **kwargs
            Line properties for every curve (``linewidth``, ``alpha``,
            ``marker``, ``color``, ...), passed to matplotlib's ``plot``;
            short names (``c``, ``ls``, ``lw``) too. ``label`` is taken as
            ``name``, since each curve's label says what it shows. The
            validation loss stays dashed and the validation score dotted:
            ``linestyle`` (or ``dashes``) sets the training loss, the
            learning rate and the first layer's gradient norm (the other
            layers take other linestyles), and a linestyle that would draw the
            training loss as a validation curve drawn beside it (``"--"``,
            ``":"``, or any dash pattern: ``dashes=`` or an ``(offset,
            (on, off, ...))`` linestyle) is refused.

        Returns
        -------
        TrainingHistoryDisplay
            This display, with ``figure_``, ``axes_`` and ``lines_`` set.

        Raises
        ------
        TypeError
            If ``history`` is not a mapping (an estimator, None, a string),
            ``ax`` is not a matplotlib Axes or Axes, or both ``name`` and
            ``label`` are given.
        ValueError
            If ``history`` holds no ``loss``, an entry that is not numbers,
            or one whose length is not ``loss``'s (``grad_norm``: its rows;
            ``grad_norm_layer1``, ... columns with one missing), if ``ax``
            holds neither 1 nor 3 Axes, or if ``linestyle`` or ``dashes``
            would draw the training loss in the style of a validation curve
            drawn beside it (see ``**kwargs``).
        ImportError
            If matplotlib is not installed.
        """
        # Here, not in __init__: as scikit-learn's Displays, and as ax and
        # the line properties are, what is drawn is checked when drawn.
        _check_history(self.history)
        if "loss" not in self.history:
            raise ValueError("history holds no 'loss': pass a fitted estimator's history_ "
                             f"(its keys here: {sorted(self.history)})")
        history = _as_history(self.history)
        # Before anything is drawn: matplotlib's own error comes after the
        # first curve is on the caller's axes, and names no entry.
        _check_lengths(history)
        # pyplot only for a figure of its own: drawing on given Axes (the
        # CLI's Figure) needs neither its import nor its figure manager.
        plt = _pyplot() if ax is None else None
        from matplotlib.cbook import normalize_kwargs
        from matplotlib.lines import Line2D

        # "c" and "color" are one property: the curves below set the long
        # names, which matplotlib refuses beside the short ones.
        kwargs = normalize_kwargs(kwargs, Line2D)
        if "label" in kwargs:
            if name is not None:
                raise TypeError("pass name= or label=, not both: name prefixes every "
                                "curve's label")
            name = kwargs.pop("label")
        if name is None:
            name = self._drawn_name if self._drawn_name is not None else self.estimator_name
        _check_linestyle(history, kwargs)
        if ax is None:
            fig, ax = plt.subplots(1, 3, **FIGURE_KW)
            try:
                return self._draw(history, fig, ax, True, name, title, kwargs)
            except BaseException:
                plt.close(fig)  # not left open behind the error
                raise
        ax = np.asarray(ax, dtype=object).ravel()
        _check_axes(ax)
        if ax.size not in (1, 3):
            raise ValueError(f"ax must be one Axes (the loss panel) or hold 3 Axes "
                             f"(loss, gradient norms, learning rate); got {ax.size}.")
        # Given Axes are on the caller's figure, whatever else it holds: its
        # title is the caller's to set (title=), as scikit-learn's Displays
        # leave it.
        return self._draw(history, ax[0].figure, ax, False, name, title, kwargs)

    def _draw(self, h, fig, ax, own_figure, name, title, kwargs):
        from matplotlib.ticker import MaxNLocator

        def label(what):
            return f"{name}: {what}" if name else what

        # A history_frame (or --history-out CSV) read back numbers its rows
        # itself: a converted model's begin after the epochs scikit-learn
        # trained, where from_estimator's curves stand too.
        steps = h.get(self.step_name)
        epochs = (_floats(h, self.step_name) if steps is not None and len(steps)
                  else np.arange(1, len(h["loss"]) + 1))
        lines = {}
        training = "training loss + penalty" if self.penalized else "training loss"
        lines["loss"] = _plot(ax[0], epochs, h["loss"], {"label": label(training), **kwargs})
        # One colour per model, on every panel: the validation curves take
        # the training loss's, told apart by their dashes.
        same = {"color": lines["loss"].get_color()}
        # The validation curves keep their dashes whatever linestyle was
        # given: the training loss alone takes it (_check_linestyle refused
        # one of theirs).
        styled = {k: v for k, v in kwargs.items() if k not in ("linestyle", "dashes")}
        # A converted model's validation loss is NaN for every epoch
        # scikit-learn trained (it records none): no empty legend entry.
        if _any_recorded(h.get("val_loss", ())):
            lines["val_loss"] = _plot(
                ax[0], epochs, h["val_loss"],
                {**same, "label": label("validation loss"), **styled, "linestyle": "--"})
        _set_loss_scale(ax[0])
        _set_step_label(ax[0], self.step_name)
        ax[0].set_ylabel("loss")
        twin = _twin_of(ax[0])
        if _any_recorded(h.get("val_score", ())):
            if twin is None:
                twin = ax[0].twinx()
                twin.set_gid(_SCORE_TWIN)
                twin.set_ylabel("validation score")
            lines["val_score"] = _plot(
                twin, epochs, h["val_score"],
                {**same, "label": label("validation score"), **styled, "linestyle": ":"})
        handles, labels = ax[0].get_legend_handles_labels()
        if twin is not None:
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
            # The twin is drawn above ax[0], and with it the score curve
            # across ax[0]'s legend: ax[0] goes on top, its background
            # hidden so that the score curve still shows.
            ax[0].set_zorder(twin.get_zorder() + 1)
            ax[0].patch.set_visible(False)
        ax[0].legend(handles, labels, loc="best")
        _set_title(ax[0], "loss")
        if ax.size == 3:
            lines["grad_norm"] = self._plot_grad_norms(ax[1], h, epochs, label, kwargs, same)
            if _any_recorded(h.get("learning_rate", ())):
                _recorded(ax[2])
                # A rate holds over its epoch: steps, not diagonals between
                # epochs (a drawstyle given stays the caller's).
                lines["learning_rate"] = _plot(
                    ax[2], epochs, h["learning_rate"],
                    {**({"label": name} if name else {}), "drawstyle": "steps-post",
                     **kwargs, **same})
                # A step or decaying schedule spans decades: linear, all
                # but its first rates sit flat at 0.
                _set_loss_scale(ax[2])
                if ax[2].get_legend_handles_labels()[0]:
                    ax[2].legend(loc="best")
            elif not ax[2].lines:
                _not_recorded(ax[2], self._missing("learning rate"))
            _set_step_label(ax[2], self.step_name)
            ax[2].set_ylabel("learning rate")
            _set_title(ax[2], "learning rate")
        for panel in ax:
            # Epochs are whole: no tick at 2.5, nor at 0.98 for one epoch.
            panel.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if title is not None:
            fig.suptitle(title)
        elif own_figure:
            fig.suptitle(self.estimator_name or "")
        self.figure_, self.axes_, self.lines_ = fig, ax, lines
        self._drawn_name = name
        return self

    def _plot_grad_norms(self, ax, h, epochs, label, kwargs, same):
        grad = np.asarray(h.get("grad_norm", np.empty((0, 0))), dtype=float)
        lines = []
        if grad.ndim == 2 and _any_recorded(grad):
            _recorded(ax)
            # The model's one colour, its layers told apart by linestyle:
            # one colour per layer would repeat another model's colour (or
            # be one colour for all, where color= is given).
            given = "linestyle" in kwargs or "dashes" in kwargs
            styled = {k: v for k, v in kwargs.items() if k not in ("linestyle", "dashes")}
            styles = _layer_linestyles(kwargs.get("linestyle") if given else None)
            for layer in range(grad.shape[1]):
                # A linestyle given is the first layer's, as it is the
                # training loss's.
                props = ({**kwargs} if layer == 0 and given
                         else {**styled, "linestyle": next(styles)})
                lines.append(_plot(ax, epochs[:len(grad)], grad[:, layer],
                                   {"label": label(f"layer {layer + 1}"), **props, **same}))
            # Every model's curves on these axes decide (one log axis for all).
            values = np.concatenate([np.asarray(line.get_ydata(), dtype=float)
                                     for line in ax.lines])
            finite = values[np.isfinite(values)]
            ax.set_yscale("log" if finite.size and finite.min() > 0 else "linear")
            ax.legend(loc="best")
        elif not ax.lines:
            _not_recorded(ax, self._missing("gradient norms"))
        _set_step_label(ax, self.step_name)
        ax.set_ylabel("gradient norm (RMS over steps)")
        _set_title(ax, "gradient norm per layer")
        return lines


#: matplotlib's names of its four linestyles, by their short ones.
_NAMED_LINESTYLES = {"solid": "-", "dashed": "--", "dotted": ":", "dashdot": "-."}


def _layer_linestyles(taken=None):
    """The linestyles of a model's layers on the gradient-norm panel, in
    turn: matplotlib's four, then dash patterns, without ``taken`` (the
    first layer's, given by the caller)."""
    taken = _NAMED_LINESTYLES.get(taken, taken)
    for style in ("-", "--", ":", "-."):
        if style != taken:
            yield style
    length = 6
    while True:
        yield (0, (length, 2, 1, 2))
        length += 3


def _lone_points(values):
    """The indices of the finite ``values`` with no finite neighbour: a
    line joins none of them, so that without a marker they do not show
    (one epoch, or one between NaN entries)."""
    finite = np.isfinite(np.asarray(values, dtype=float))
    before = np.concatenate([[False], finite[:-1]])
    after = np.concatenate([finite[1:], [False]])
    return np.flatnonzero(finite & ~before & ~after).tolist()


def _any_recorded(values):
    """Whether ``values`` hold anything but NaN, which stands for an epoch
    that recorded none: a curve of NaN alone would be an empty line with a
    legend entry."""
    values = np.asarray(values, dtype=float)
    return bool(values.size and not np.isnan(values).all())


def _plot(ax, x, y, props):
    """Draw one curve; where the caller gave no ``marker``, its values that
    no line joins are drawn as points, so that every finite value shows."""
    if "marker" not in props:
        lone = _lone_points(y)
        if lone:
            props = {**props, "marker": "o", "markevery": lone}
    line, = ax.plot(x, y, **props)
    return line


def _set_loss_scale(ax):
    """A log y scale on the loss (or learning-rate) panel where its finite
    values (every model's drawn there) are positive and span more than 3
    orders of magnitude, as a diverging fit's losses or a step schedule's
    rates do: on a linear axis all but the largest sit flat at 0. A scale
    the caller set (any but linear) stays."""
    chosen = getattr(ax, "_fastbp_loss_scale", None)
    if ax.get_yscale() not in ("linear", chosen):
        return
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.lines])
    finite = values[np.isfinite(values)]
    scale = ("log" if finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3
             else "linear")
    ax.set_yscale(scale)
    ax._fastbp_loss_scale = scale
