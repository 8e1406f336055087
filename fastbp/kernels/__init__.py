"""Numba kernels: the compiled engine of fastbp.

This layer holds maths only: no validation, no scikit-learn. Every array
argument of one call shares one floating dtype (float32 or float64), scalars
included, so each kernel compiles once per dtype.

Modules
-------
codes
    Integer codes for activations, output functions and solvers.
activations
    Scalar activation maths and the fused array kernels built on them.
losses
    Output functions fused with their loss and the output delta.
optimizers
    Parameter updates over the flat parameter buffer.
sparse
    CSR x dense products for a sparse first layer.
network
    Whole-epoch training, full-batch loss and gradient, and prediction.
entry
    The compiled function behind a dispatcher call, for calls that repeat.
"""
