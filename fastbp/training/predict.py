"""Forward pass for prediction and validation."""

import numpy as np

from ..kernels.losses import loss_from_output
from .spec import BN_MOMENTUM, NORM_EPS
from .threads import blas_threads
from .workspace import Workspace

# Rows per chunk: bounds prediction's memory whatever the number of samples.
CHUNK = 4096


def predict_outputs(kernels, spec, params, running, inp):
    """Output-layer values for every row of ``inp`` (inference mode).

    Parameters
    ----------
    kernels : module
    spec : NetworkSpec
    params : ndarray of shape (n_params,)
    running : ndarray of shape (n_running,)
        Batch-norm running statistics.
    inp : KernelInput

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs)
        Probabilities for classifiers, predictions for regressors.
    """
    layout = spec.layout
    dtype = params.dtype
    dt = dtype.type
    chunk = min(CHUNK, max(inp.n_samples, 1))
    ws = Workspace(layout, chunk, dtype, dense_input=False, training=False)
    out = np.empty((inp.n_samples, int(layout.units[-1])), dtype=dtype)
    with blas_threads(chunk * layout.max_layer_size):
        kernels.predict(*inp.args(), chunk, params, ws.net, ws.buf, layout.norm, ws.acts,
                        ws.stats, running, dt(BN_MOMENTUM), dt(NORM_EPS), spec.out_code, out)
    return out


class Validator:
    """Scores and losses of the current parameters on held-out data.

    Parameters
    ----------
    kernels : module
    spec : NetworkSpec
    inp : KernelInput
        Validation input.
    Y : ndarray of shape (n_val, n_outputs)
        Validation targets in the model's dtype (for the loss).
    sw : ndarray of shape (n_val,) or None
    score : callable
        ``score(outputs, params, running, loss) -> float``, higher is better
        (``loss`` is the validation loss of ``outputs``).
    """

    def __init__(self, kernels, spec, inp, Y, sw, score):
        self.kernels, self.spec, self.inp, self.Y, self.sw = kernels, spec, inp, Y, sw
        self.score = score

    def evaluate(self, params, running):
        """``(score, loss)`` of ``params``; NaN score for non-finite outputs."""
        out = predict_outputs(self.kernels, self.spec, params, running, self.inp)
        if not np.isfinite(out).all():
            return np.nan, np.nan
        has_sw = self.sw is not None
        sw = self.sw if has_sw else np.empty(0, dtype=out.dtype)
        loss = loss_from_output(out, self.Y, sw, has_sw, self.spec.out_code,
                                out.dtype.type(np.finfo(out.dtype).eps))
        return self.score(out, params, running, loss), float(loss)
