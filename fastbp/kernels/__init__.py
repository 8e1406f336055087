"""Numba kernels: the compiled engine of fastbp.

This layer holds maths only: no validation, no scikit-learn. Every array
argument of one call shares one floating dtype (float32 or float64), scalars
included, so each kernel compiles once per dtype.

Modules
-------
The maths, written once (:mod:`scalar`: activations, derivatives, losses,
penalties, the optimizers' update rules, batch norm's statistics; compiled
for the CPU here and for the GPU in :mod:`cuda`) and the CPU's array kernels
built on it:

codes
    Integer codes shared by the kernels and the trainer.
scalar
    Scalar maths, written once and compiled for both targets.
elementary
    Elementary functions (exp, log, ...) that LLVM can vectorise.
activations
    Hidden-layer activations and their derivatives over arrays.
losses
    Output functions fused with their loss and the output delta.
normalization
    Batch and layer normalisation, fused with the activation.
dropout
    Inverted dropout with a counter-based generator owned by the kernel.
optimizers
    Parameter updates over the flat parameter buffer.
blas
    Matrix products, through NumPy's own BLAS.
sparse
    CSR x dense products for a sparse first layer.
network
    Whole-epoch training, full-batch loss and gradient, and prediction.
split
    One epoch with each mini-batch step split between threads.
lean, full
    The whole-network kernels compiled per output function: the default
    path's (toolkit branches pruned) and the toolkit's.

and their machinery: ``records`` (the records whole-network kernels take),
``views`` (2-D views of the flat buffers), ``dtypes`` (one floating dtype
per call), ``fpenv`` (flush-to-zero), ``prefetch``, ``refcount``, ``sync``
(the split threads' barrier) and ``entry`` (the compiled function behind a
dispatcher call, for calls that repeat).
"""
