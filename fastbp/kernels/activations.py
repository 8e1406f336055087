"""Hidden-layer activations: the array kernels of the CPU.

The scalar maths, each activation ``activate`` and its exact derivative
``derivative`` (from the pre-activation ``z`` and/or the output
``a = f(z)``), lives once in :mod:`fastbp.kernels.scalar`, compiled here for
the CPU and in ``fastbp.kernels.cuda`` for the GPU.
"""

from .._config import inline_kernel, kernel
from . import scalar
from .codes import RELU

#: Whether relu gets a vectorised loop for arrays that are not one (the
#: toolkit's normalisation and dropout keep ``z`` apart). On the default
#: path relu always runs in place: :mod:`fastbp.kernels.lean` compiles
#: these kernels again with it False, and that loop is pruned (a relu
#: that ever ran out of place there would take the shared loop, slower
#: but the same).
TOOLKIT = True

cpu_scalar = scalar.compile_for(kernel, row_jit=inline_kernel)
sigmoid = cpu_scalar.sigmoid
softplus = cpu_scalar.softplus
activate = cpu_scalar.activate
derivative = cpu_scalar.derivative


@kernel
def same_memory(x, y):
    """Whether ``x`` and ``y`` start at the same address: the layout aliases
    work arrays this way, whole or not at all."""
    return x.ctypes.data == y.ctypes.data


@inline_kernel
def _bias_activation_loop(h, bias, code, z, a):
    n, m = h.shape
    for i in range(n):
        for j in range(m):
            zz = h[i, j] + bias[j]
            z[i, j] = zz
            a[i, j] = activate(zz, code)


# The relu loops have an in-place form over one array. With the arrays
# passed separately, LLVM vectorises behind a run-time overlap check, which
# fails exactly when they alias (the default path) and sends the loop to its
# scalar version: the relu pass ran 6x slower. (The other activations do not
# vectorise either way, so they keep one loop: each copy costs compile time.)
# The loops take the run-time ``code``, never the constant RELU: a literal
# argument compiled a second ``activate`` and ``derivative`` (0.2 s cold),
# and in a copy called under ``code == RELU`` LLVM folds the dispatch all
# the same (as fast, measured).

@inline_kernel
def _relu_in_place(x, bias, code):
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            x[i, j] = activate(x[i, j] + bias[j], code)


@inline_kernel
def _relu_backward_in_place(delta, out, code):
    n, m = delta.shape
    for i in range(n):
        for j in range(m):
            out[i, j] = delta[i, j] * derivative(out[i, j], out[i, j], code)


@kernel
def bias_activation(h, bias, code, z, a):
    """``z = h + bias``, ``a = f(z)``, one pass, row-broadcast bias.

    ``z`` and ``a`` may be the same array as ``h`` (in place), which is how
    the default path runs when ``z`` is not needed by the backward pass.

    Parameters
    ----------
    h : ndarray of shape (n_samples, n_units)
        Pre-activations without bias.
    bias : ndarray of shape (n_units,)
    code : int
        Activation code from :mod:`fastbp.kernels.codes`.
    z, a : ndarray of shape (n_samples, n_units)
        Receive the biased pre-activation and the activation.
    """
    # relu, the default, gets loops of its own, called under ``code ==
    # RELU``: LLVM folds the dispatch away and vectorises them (one loop for
    # every code ran relu 8x slower). The other activations share one loop;
    # a dedicated loop would not vectorise them anyway (their exp/tanh are
    # scalar library calls) and each one costs compile time.
    if code == RELU and same_memory(h, z) and same_memory(h, a):
        _relu_in_place(h, bias, code)
    elif TOOLKIT and code == RELU:  # out of place: normalisation (see TOOLKIT)
        _bias_activation_loop(h, bias, code, z, a)
    else:
        _bias_activation_loop(h, bias, code, z, a)


@inline_kernel
def _activation_backward_loop(delta, mask, has_mask, z, a, code, out):
    n, m = delta.shape
    # One loop with and without a mask (LLVM unswitches it on has_mask).
    for i in range(n):
        for j in range(m):
            d = delta[i, j] * mask[i, j] if has_mask else delta[i, j]
            out[i, j] = d * derivative(z[i, j], a[i, j], code)


@kernel
def activation_backward(delta, mask, has_mask, z, a, code, out):
    """``out = delta * mask * f'(z)``, with ``f'`` from ``z`` and/or ``a = f(z)``.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, n_units)
        Gradient of the loss with respect to the layer's (dropped-out)
        output.
    mask : ndarray of shape (n_samples, n_units)
        Dropout mask of the forward pass, read when ``has_mask``.
    has_mask : bool
    z, a : ndarray of shape (n_samples, n_units)
        Pre-activation and activation from the forward pass (``z`` is read
        only for codes in ``NEEDS_PREACTIVATION``).
    code : int
    out : ndarray of shape (n_samples, n_units)
        Receives the gradient with respect to ``z``; may alias ``z``/``a``.
    """
    # As in bias_activation: a vectorised loop of its own for relu.
    if code == RELU and not has_mask and same_memory(out, z) and same_memory(out, a):
        _relu_backward_in_place(delta, out, code)
    elif TOOLKIT and code == RELU:  # with a dropout mask, or out of place
        _activation_backward_loop(delta, mask, has_mask, z, a, code, out)
    else:
        _activation_backward_loop(delta, mask, has_mask, z, a, code, out)


@kernel
def track_alive(a, alive):
    """``alive[j] = max(alive[j], max_i a[i, j])``: a relu unit that stays 0
    for every sample of an epoch is dead."""
    # Four rows per pass over ``alive``: row by row, each row's compare
    # waited for the previous row's stores (a chain through memory), and
    # the pass cost more than the relu itself (batch 200, tabular). Each
    # compare is the old one, in the old order (a NaN is never kept).
    n, m = a.shape
    i = 0
    while i + 4 <= n:
        for j in range(m):
            v = alive[j]
            v = a[i, j] if a[i, j] > v else v
            v = a[i + 1, j] if a[i + 1, j] > v else v
            v = a[i + 2, j] if a[i + 2, j] > v else v
            v = a[i + 3, j] if a[i + 3, j] > v else v
            alive[j] = v
        i += 4
    for r in range(i, n):
        for j in range(m):
            v = a[r, j]
            alive[j] = v if v > alive[j] else alive[j]
