"""Per-epoch gradient diagnostics and the vanishing/exploding warning."""

import warnings

import numpy as np

from ..exceptions import GradientWarning

# A layer's gradient norm below this fraction of its weight norm is vanishing.
VANISHING_RATIO = 1e-7
# ...for this many consecutive epochs.
VANISHING_EPOCHS = 3
# A layer's gradient norm this many times that of the first training step
# is exploding.
EXPLODING_GROWTH = 1e3

_VANISHING_REMEDIES = (
    "Remedies: activation='relu' (or 'leaky_relu', 'elu', 'gelu') with "
    "init='he_uniform'/'he_normal', normalization='batch' or 'layer', "
    "residual=True, fewer layers, or a larger learning_rate_init.")
_EXPLODING_REMEDIES = (
    "Remedies: clip_grad_norm=1.0, a smaller learning_rate_init, "
    "normalization='batch' or 'layer', alpha > 0, or standardise the input.")


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
        self.small_epochs = np.zeros(n_layers, dtype=int)
        self.warned = False

    def check(self, grad_norms, weight_norms, epoch):
        """Inspect one epoch's per-layer norms (RMS over its steps of the
        data-loss gradient); warn at most once per fit."""
        if self.warned:
            return
        grad_norms = np.asarray(grad_norms)
        first = np.sqrt(self.first_sq.astype(float))
        for l, (g, w) in enumerate(zip(grad_norms, weight_norms)):
            layer = f"layer {l + 1} (weights coefs_[{l}])"
            if not np.isfinite(g):
                self._warn(f"The gradient of {layer} became non-finite at epoch {epoch}: "
                           f"it exploded. {_EXPLODING_REMEDIES}")
                return
            if first[l] > 0 and g > EXPLODING_GROWTH * first[l]:
                self._warn(f"The gradient norm of {layer} grew from {first[l]:.3g} to "
                           f"{g:.3g} by epoch {epoch}: it is exploding. {_EXPLODING_REMEDIES}")
                return
            if g < VANISHING_RATIO * w:
                self.small_epochs[l] += 1
            else:
                self.small_epochs[l] = 0
            if self.small_epochs[l] >= VANISHING_EPOCHS:
                self._warn(f"The gradient of {layer} has vanished: its norm {g:.3g} has been "
                           f"below {VANISHING_RATIO:g} x its weight norm ({w:.3g}) for "
                           f"{VANISHING_EPOCHS} epochs. {_VANISHING_REMEDIES}")
                return

    def _warn(self, message):
        self.warned = True
        warnings.warn(message, GradientWarning, stacklevel=4)
