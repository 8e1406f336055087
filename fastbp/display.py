"""Training curves as a scikit-learn-style Display object.

``TrainingHistoryDisplay.from_estimator(est).plot()`` draws a fitted model's
``history_``: the training loss with the validation loss and score when
early stopping recorded them, each layer's gradient norm on a log axis, and
the learning rate. matplotlib is imported only here, when plotting
(``pip install "fastbp[plot]"``).
"""

import numpy as np


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('Plotting needs matplotlib: pip install "fastbp[plot]"') from exc
    return plt


def _trained_model(estimator):
    """The model inside ``estimator`` whose history to plot: a Pipeline's
    last step, a search's best estimator, a target transformer's regressor
    (nested as deep as they go, within reason)."""
    for _ in range(32):
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        elif hasattr(estimator, "regressor_"):
            estimator = estimator.regressor_
        else:
            break
    return estimator


def _not_recorded(ax):
    # An empty panel says why (lbfgs, or a model converted from scikit-learn).
    ax.text(0.5, 0.5, "not recorded for this model", transform=ax.transAxes,
            ha="center", va="center", color="0.4")


class TrainingHistoryDisplay:
    """Training history visualisation.

    Build it with :meth:`from_estimator` (or from a ``history_`` dict), then
    call :meth:`plot`. As scikit-learn's Display objects, the plotting
    results are kept in ``figure_`` and ``axes_``.

    Parameters
    ----------
    history : dict of str to ndarray
        A fitted estimator's ``history_``: ``loss`` of shape (n_epochs,),
        optionally ``val_loss`` and ``val_score`` of shape (n_epochs,),
        ``grad_norm`` of shape (n_epochs, n_layers) and ``learning_rate``
        of shape (n_epochs,).
    estimator_name : str, default=None
    step_name : str, default="epoch"
        What one entry of the history is: "iteration" for
        ``solver='lbfgs'`` (:meth:`from_estimator` sets it).

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (3,)
        Loss (with the validation score on a twin axis), gradient norms,
        learning rate.
    lines_ : dict of str to matplotlib Line2D or list of Line2D
    """

    def __init__(self, history, *, estimator_name=None, step_name="epoch"):
        self.history = history
        self.estimator_name = estimator_name
        self.step_name = step_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, **kwargs):
        """Plot a fitted estimator's training history.

        Parameters
        ----------
        estimator : fitted estimator
            A fastbp model, or what holds one as its last step or fitted
            model: a Pipeline (what ``fastbp train --data`` saves), a
            search's ``best_estimator_``, a ``TransformedTargetRegressor``.
            A model without ``history_`` (one converted from scikit-learn)
            plots its ``loss_curve_`` and ``validation_scores_``.
        ax : array of 3 matplotlib Axes, default=None
            Where to draw; a new figure with three panels if None.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        model = _trained_model(estimator)
        history = getattr(model, "history_", None)
        if not history and getattr(model, "loss_curve_", None):
            history = {"loss": np.asarray(model.loss_curve_, dtype=float)}
            scores = getattr(model, "validation_scores_", None)
            if scores:
                history["val_score"] = np.asarray(scores, dtype=float)
        if not history or "loss" not in history:
            raise ValueError(f"{type(model).__name__} has no training history to plot "
                             "(no history_ or loss_curve_).")
        name = type(model).__name__
        if model is not estimator:
            name = f"{type(estimator).__name__}: {name}"
        step = "iteration" if getattr(model, "solver", None) == "lbfgs" else "epoch"
        return cls(history, estimator_name=name, step_name=step).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, title=None, **kwargs):
        """Draw the three panels.

        Parameters
        ----------
        ax : array of 3 matplotlib Axes, default=None
        title : str, default=None
            Figure title (the estimator's name by default).
        **kwargs
            Line properties for every curve (``linewidth``, ``alpha``,
            ``marker``, ...), passed to matplotlib's ``plot``.

        Returns
        -------
        self : TrainingHistoryDisplay
        """
        if "loss" not in self.history:
            raise ValueError("history holds no 'loss': pass a fitted estimator's history_ "
                             f"(its keys here: {sorted(self.history)})")
        plt = _pyplot()
        if ax is None:
            fig, ax = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
        else:
            ax = np.asarray(ax).ravel()
            if ax.size != 3:
                raise ValueError(f"ax must hold 3 Axes (loss, gradient norms, learning "
                                 f"rate); got {ax.size}.")
            fig = ax[0].figure
        h = self.history
        epochs = np.arange(1, len(h["loss"]) + 1)
        lines = {}
        lines["loss"], = ax[0].plot(epochs, h["loss"], **{"label": "training loss", **kwargs})
        if len(h.get("val_loss", ())):
            lines["val_loss"], = ax[0].plot(epochs, h["val_loss"],
                                            **{"label": "validation loss", **kwargs})
        ax[0].set_xlabel(self.step_name)
        ax[0].set_ylabel("loss")
        handles = list(lines.values())
        if len(h.get("val_score", ())):
            twin = ax[0].twinx()
            lines["val_score"], = twin.plot(
                epochs, h["val_score"], **{"color": "C2", "label": "validation score", **kwargs})
            twin.set_ylabel("validation score")
            handles.append(lines["val_score"])
        ax[0].legend(handles=handles, loc="best")
        ax[0].set_title("loss")
        grad = np.asarray(h.get("grad_norm", np.empty((0, 0))), dtype=float)
        lines["grad_norm"] = []
        if grad.ndim == 2 and grad.size:
            for layer in range(grad.shape[1]):
                line, = ax[1].plot(epochs[:len(grad)], grad[:, layer],
                                   **{"label": f"layer {layer + 1}", **kwargs})
                lines["grad_norm"].append(line)
            if np.all(grad[np.isfinite(grad)] > 0):
                ax[1].set_yscale("log")
            ax[1].legend(loc="best")
        else:
            _not_recorded(ax[1])
        ax[1].set_xlabel(self.step_name)
        ax[1].set_ylabel("gradient norm (RMS over steps)")
        ax[1].set_title("gradient norm per layer")
        if len(h.get("learning_rate", ())):
            lines["learning_rate"], = ax[2].plot(epochs, h["learning_rate"], **kwargs)
        else:
            _not_recorded(ax[2])
        ax[2].set_xlabel(self.step_name)
        ax[2].set_ylabel("learning rate")
        ax[2].set_title("learning rate")
        fig.suptitle(title if title is not None else (self.estimator_name or ""))
        self.figure_, self.axes_, self.lines_ = fig, ax, lines
        return self
