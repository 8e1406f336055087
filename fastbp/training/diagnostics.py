"""Per-epoch gradient diagnostics: the vanishing, exploding and dead-unit
warning."""

import functools
import math

import numpy as np

from ..exceptions import GradientWarning, warn_at_caller

# A layer's gradient norm below this fraction of its weight norm is vanishing.
VANISHING_RATIO = 1e-7
# ...for this many consecutive epochs.
VANISHING_EPOCHS = 3
# A layer's gradient norm this many times that of the monitor's first
# training step (or first epoch, see GradientMonitor.check) is exploding,
# if it is also large (EXPLODING_NORM).
EXPLODING_GROWTH = 1e3
# ...and above this, or above the layer's weight norm: growth from a first
# gradient near zero (tiny inputs) is not an explosion (helper-134's review).
EXPLODING_NORM = 1.0

_VANISHING_REMEDIES = (
    "Remedies: activation='relu' (or 'leaky_relu', 'elu', 'gelu') with "
    "init='he_uniform'/'he_normal', normalization='batch' or 'layer', "
    "residual=True, fewer layers, or a larger learning_rate_init.")
_VANISHING_INPUT = (
    "Only this first layer's is small, which points at X: features that are tiny, "
    "constant or all zero give it no gradient (standardise X, for example with "
    "sklearn.preprocessing.StandardScaler). ")
# Share of the tracked (relu) units that output zero for every sample of an
# epoch above which the network is dead rather than its gradient vanishing.
DEAD_SHARE = 0.9
_DEAD_REMEDIES = (
    "This usually follows too large a learning rate, which pushes the units' "
    "weights where no input activates them. Remedies: a smaller "
    "learning_rate_init, clip_grad_norm=1.0, activation='leaky_relu' or 'elu' "
    "(which never die), or normalization='batch'.")
# Where clipping is on already, offering it again reads as if it were not
# (helper-134's review).
_DEAD_REMEDIES_CLIPPED = (
    "This usually follows too large a learning rate, which pushes the units' "
    "weights where no input activates them. Remedies: a smaller "
    "learning_rate_init, activation='leaky_relu' or 'elu' (which never die), or "
    "normalization='batch'.")
_EXPLODING_REMEDIES = (
    "Remedies: clip_grad_norm=1.0, a smaller learning_rate_init, "
    "normalization='batch' or 'layer', alpha > 0, or standardise the input.")
# Where clipping is on already, it bounds the steps, not the gradient.
_EXPLODING_REMEDIES_CLIPPED = (
    "Remedies: standardise the input, normalization='batch' or 'layer', a smaller "
    "learning_rate_init, or alpha > 0.")


@functools.lru_cache(maxsize=None)
def _layer_name(index):
    # Formatted once per layer, not once per layer and epoch.
    return f"layer {index + 1} (weights coefs_[{index}])"


class GradientMonitor:
    """Watches each layer's gradient norm and warns once per fit.

    Parameters
    ----------
    n_layers : int
        Number of weight layers.
    dtype : numpy dtype
        The model's floating dtype.
    """

    def __init__(self, n_layers, dtype=np.float64):
        # Squared gradient norms of the first step, filled by the kernel (in
        # the model's dtype: kernels never mix float widths).
        self.first_sq = np.zeros(n_layers, dtype=dtype)
        self.small_epochs = [0] * n_layers
        self.dead_epochs = 0
        self.warned = False
        # Whether check has seen an epoch (and so first_sq is complete).
        self.baselined = False

    def __setstate__(self, state):
        # Models saved before 8ad0d10 hold small_epochs as an integer array.
        state = dict(state)
        small = state.get("small_epochs")
        if isinstance(small, np.ndarray) and small.ndim == 1 and small.dtype.kind in "iu":
            state["small_epochs"] = [int(v) for v in small]
        # Models saved before the monitor took its own baseline: it takes
        # one at its next epoch (see _baseline).
        state.setdefault("baselined", False)
        self.__dict__.update(state)

    def check_fits(self, n_layers, dtype):
        """Raise ``ValueError`` unless the monitor's record fits ``n_layers``
        weight layers of ``dtype``: the kernel writes ``first_sq`` by layer,
        unchecked (a model file edited by hand could hold any array)."""
        first = self.__dict__.get("first_sq")
        small = self.__dict__.get("small_epochs")
        # Any array of the shape and dtype (a dtype in the other byte order
        # differs): a read-only np.memmap of a model joblib loaded with
        # mmap_mode included, which training copies (:meth:`copy`).
        if not (isinstance(first, np.ndarray) and first.shape == (n_layers,)
                and first.dtype == dtype
                and isinstance(small, list) and len(small) == n_layers):
            raise ValueError(
                f"The gradient monitor's record does not fit this network's {n_layers} "
                f"weight layer(s) in {np.dtype(dtype).name}: the model's training state "
                "was edited.")

    def check(self, grad_norms, weight_norms, epoch, dead_fraction=np.nan, clip=None):
        """Inspect one epoch's per-layer norms (RMS over its steps of the
        data-loss gradient) and the share of dead relu units; warn at most
        once per fit.

        A layer's gradient is exploding where its norm is both
        ``EXPLODING_GROWTH`` times that of the first step (or epoch) and
        large: above ``EXPLODING_NORM`` (where ``clip_grad_norm=1.0``, the
        remedy offered, starts to act) or above the layer's weight norm
        (steps of the weights' own size). Growth alone misfires where the
        first gradient was near zero: inputs scaled by 1e-7 give a layer a
        first norm of 6e-8, and a thousandfold of that is still nothing.
        It has vanished where its norm stays below ``VANISHING_RATIO``
        times its weight norm for ``VANISHING_EPOCHS`` epochs, and the
        network is dead where at least ``DEAD_SHARE`` of its relu units
        output zero for as many epochs.

        Parameters
        ----------
        grad_norms, weight_norms : sequence of float, length n_layers
        epoch : int
        dead_fraction : float
            Share of relu units that output zero for every sample of the
            epoch (NaN when no unit is tracked).
        clip : float or None
            The fit's ``clip_grad_norm``: set, the remedies do not offer it.
        """
        if self.warned:
            return
        if dead_fraction >= DEAD_SHARE:
            self.dead_epochs += 1
        else:
            self.dead_epochs = 0
        if self.dead_epochs >= VANISHING_EPOCHS:
            remedies = _DEAD_REMEDIES if not clip else _DEAD_REMEDIES_CLIPPED
            self._warn(f"{dead_fraction:.0%} of the relu units are dead: they output zero "
                       f"for every training sample, for {VANISHING_EPOCHS} epochs up to "
                       f"epoch {epoch}, so no gradient flows through them. {remedies}")
            return
        # Python floats: NumPy scalars cost a microsecond per comparison,
        # and this runs after every epoch.
        grad_norms = (grad_norms.tolist() if isinstance(grad_norms, np.ndarray)
                      else [float(g) for g in grad_norms])
        if not self.baselined:
            self._baseline(grad_norms)
        first = [math.sqrt(v) for v in self.first_sq.tolist()]
        small = self.small_epochs
        remedies = _EXPLODING_REMEDIES if not clip else _EXPLODING_REMEDIES_CLIPPED
        for l, (g, w) in enumerate(zip(grad_norms, weight_norms)):
            layer = _layer_name(l)
            if not math.isfinite(g):
                # The squares are summed in the model's dtype (for speed): in
                # float32 a finite gradient above 1.8e19 overflows them.
                what = ("became non-finite" if self.first_sq.dtype != np.float32 else
                        "became non-finite, or too large for float32 (its squared norm "
                        "overflowed)")
                self._warn(f"The gradient of {layer} {what} at epoch {epoch}: "
                           f"it exploded. {remedies}")
                return
            if (first[l] > 0 and g > EXPLODING_GROWTH * first[l]
                    and (g > EXPLODING_NORM or g > w)):
                self._warn(f"The gradient norm of {layer} grew from {first[l]:.3g} to "
                           f"{g:.3g} by epoch {epoch}: it is exploding. {remedies}")
                return
            small[l] = small[l] + 1 if g < VANISHING_RATIO * w else 0
            if small[l] >= VANISHING_EPOCHS and dead_fraction >= DEAD_SHARE:
                # Not a vanishing gradient: the units stopped responding.
                continue
            if small[l] >= VANISHING_EPOCHS:
                # The input layer's gradient is X's features times the deltas:
                # alone small, it points at X's scale rather than at depth.
                data = (_VANISHING_INPUT if l == 0 and not any(small[1:])
                        else "")
                self._warn(f"The gradient of {layer} has vanished: its norm {g:.3g} has been "
                           f"below {VANISHING_RATIO:g} x its weight norm ({w:.3g}) for "
                           f"{VANISHING_EPOCHS} epochs. {data}{_VANISHING_REMEDIES}")
                return

    def _baseline(self, grad_norms):
        # The kernels record the first step's norms at optimizer step 1,
        # which a monitor that starts on a stream already under way never
        # sees: a model from scikit-learn (its Adam step goes on), a warm
        # fit (one monitor per fit). Its layers take this first epoch's
        # norms instead, or detection stayed off for good.
        self.baselined = True
        largest = float(np.finfo(self.first_sq.dtype).max)
        for l, g in enumerate(grad_norms):
            if self.first_sq[l] == 0 and g * g <= largest:  # (not NaN, nor overflowing)
                self.first_sq[l] = g * g

    def copy(self):
        """A copy whose arrays are its own."""
        # A shallow copy without copy.copy's reduce protocol.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        # A plain, writable, C-contiguous array, which the kernels write in
        # place, whatever the record held (a memmap: the caller's file is not).
        new.first_sq = np.array(self.first_sq, order="C")
        new.small_epochs = self.small_epochs.copy()
        return new

    def state(self):
        """Everything :meth:`check` changes, for :meth:`restore`."""
        return (self.small_epochs.copy(), self.dead_epochs, self.warned, self.baselined,
                None if self.baselined else self.first_sq.copy())

    def restore(self, state):
        small_epochs, self.dead_epochs, self.warned, self.baselined, first_sq = state
        self.small_epochs[:] = small_epochs
        if first_sq is not None:
            self.first_sq[:] = first_sq  # in place: the epoch's kernels hold it

    def _warn(self, message):
        self.warned = True
        warn_at_caller(message, GradientWarning)
