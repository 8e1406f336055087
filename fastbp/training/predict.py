"""Forward pass for prediction and validation scoring."""

import numpy as np

from .threads import blas_threads
from .workspace import Workspace

# Rows per chunk: bounds prediction's memory whatever the number of samples.
CHUNK = 4096


def predict_outputs(kernels, layout, params, inp, *, hidden, out_code):
    """Output-layer values for every row of ``inp``.

    Parameters
    ----------
    kernels : module
    layout : NetworkLayout
    params : ndarray of shape (n_params,)
    inp : KernelInput
    hidden, out_code : int

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs)
        Probabilities for classifiers, predictions for regressors.
    """
    dtype = params.dtype
    chunk = min(CHUNK, max(inp.n_samples, 1))
    ws = Workspace(layout, chunk, dtype, dense_input=False, training=False)
    out = np.empty((inp.n_samples, int(layout.units[-1])), dtype=dtype)
    with blas_threads():
        kernels.predict(*inp.args(), chunk, params, layout.units, layout.w_off,
                        layout.b_off, ws.acts, ws.a_off, hidden, out_code, out)
    return out
