"""Forward pass for prediction and validation."""

import numpy as np

from ..kernels.losses import loss_from_output
from .workspace import Workspace

# Rows per chunk: bounds prediction's memory whatever the number of samples.
CHUNK = 4096


def predict_outputs(backend, spec, params, running, inp, inputs=None):
    """Output-layer values for every row of ``inp`` (inference mode).

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    spec : NetworkSpec
    params : ndarray of shape (n_params,)
    running : ndarray of shape (n_running,)
        Batch-norm running statistics.
    inp : KernelInput
    inputs : Inputs, optional
        ``backend.put(inp.inputs())``, when the caller keeps it between
        calls (validation, on the GPU).

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs)
        Probabilities for classifiers, predictions for regressors.
    """
    layout = spec.layout
    dtype = params.dtype
    chunk = min(CHUNK, max(inp.n_samples, 1))
    ws = Workspace(layout, chunk, dtype, dense_input=False, training=False)
    out = np.empty((inp.n_samples, int(layout.units[-1])), dtype=dtype)
    put = backend.put
    if inputs is None:
        inputs = put(inp.inputs())
    out_k = put(out)
    kernels = backend.network(spec.uses_toolkit(inp.is_sparse))
    kernels.predict(inputs, put(ws.tables(layout.norm)), put(ws.work(running)),
                    put(params), spec.hyper(dtype), chunk, out_k)
    backend.fetch(out_k, out)
    return out


class Validator:
    """Scores and losses of the current parameters on held-out data.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    spec : NetworkSpec
    inp : KernelInput
        Validation input (copied to the backend's device once).
    Y : ndarray of shape (n_val, n_outputs)
        Validation targets in the model's dtype (for the loss).
    sw : ndarray of shape (n_val,) or None
    score : callable
        ``score(outputs, params, running, loss) -> float``, higher is better
        (``loss`` is the validation loss of ``outputs``).
    """

    def __init__(self, backend, spec, inp, Y, sw, score):
        self.backend, self.spec, self.inp, self.Y, self.sw = backend, spec, inp, Y, sw
        self.inputs = backend.put(inp.inputs())
        self.score = score

    def evaluate(self, params, running):
        """``(score, loss)`` of ``params``; NaN score for non-finite outputs."""
        out = predict_outputs(self.backend, self.spec, params, running, self.inp,
                              self.inputs)
        if not np.isfinite(out).all():
            return np.nan, np.nan
        has_sw = self.sw is not None
        sw = self.sw if has_sw else np.empty(0, dtype=out.dtype)
        loss = loss_from_output(out, self.Y, sw, has_sw, self.spec.out_code,
                                out.dtype.type(np.finfo(out.dtype).eps))
        return self.score(out, params, running, loss), float(loss)
