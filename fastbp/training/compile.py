"""Which kernels a fit compiles, and what it does while it waits.

Which dispatcher a fit runs decides what Numba compiles and caches for it,
so the announcement of a cold compile and the work a fit does while
another process compiles its kernels read fastbp's compile cache
(:mod:`fastbp._cache`). That is the trainer's knowledge, kept out of the
estimators, which call these functions and know nothing of how kernels
are compiled or cached.
"""

import functools

import numpy as np

from .._cache import dispatchers
from .._cache.compile_locks import while_waiting
from .._cache.dispatchers import compiles_in_memory, will_compile
from ..kernels.codes import (NORM_NONE, OUT_EXP, OUT_IDENTITY, OUT_LOGISTIC, OUTPUT_FUNCTIONS,
                             SOLVERS)
from .backend import CPUBackend
from .predict import warm_predict
from .spec import build_spec
from . import split as _split
from .split import split_parts, splits_here
from .threads import active_fits, blas_pool_size, outside_blas_section


def training_kernel(backend, solver, out_code, toolkit, parts=1):
    """The compiled entry point that a fit with ``solver`` runs on the CPU
    ``backend``: L-BFGS's loss and gradient, or the stochastic solvers'
    epoch, of the full kernels where ``toolkit`` (``NetworkSpec.uses_toolkit``)
    and of the lean ones otherwise; the split epoch where ``parts``
    (``fastbp.estimators.solvers.fit_split_parts``) is above 1."""
    kernels = backend.network(toolkit, out_code)
    if solver == "lbfgs":
        return kernels.loss_and_gradient
    # helper-152: a split fit compiled its own kernel unannounced, and info
    # called the cache warm for it.
    return kernels.train_epoch_split if parts > 1 else kernels.train_epoch


#: The CPU's two sets of whole-network kernels, as ``fastbp info`` names
#: them: ``(toolkit, name)``, ``toolkit`` as :func:`training_kernel` takes it.
KERNEL_PATHS = ((False, "default path"), (True, "toolkit"))


def kernel_roles(backend, toolkit, out_code, split=None):
    """What the kernels of one path serve, each role with the compiled
    entry points it runs, by the trainer's own choice of kernel
    (:func:`training_kernel`, ``NetworkSpec.uses_toolkit``), so that
    ``fastbp info`` cannot call a cache warm for a fit that compiles
    another kernel (helper-152 fixed one such drift by hand).

    Parameters
    ----------
    backend : CPUBackend
    toolkit : bool
        The full kernels (``True``) or the lean ones of the default path.
    out_code : int
        Output-function code.
    split : bool, optional
        Whether large steps are split here, which a stochastic fit on the
        default path then runs a kernel of its own for; by default
        :func:`fastbp.training.split.splits_here`.

    Returns
    -------
    list of (str, tuple)
        ``(description, dispatchers)``: "sgd/adam fits" and the like, "lbfgs
        fits" and "predictions", each with the dispatchers a fit or
        prediction in that role may run: the role is warm once none of
        them would compile.
    """
    if split is None:
        # Through the module, as fastbp info looked it up when it held this
        # table: tests and tools patch fastbp.training.split.splits_here.
        split = _split.splits_here()
    # A network with nothing of the toolkit: its solver alone decides
    # whether its fit of a dense X runs the lean kernels. The toolkit serves
    # every solver whose fits may need it (of a sparse X: each one).
    plain = build_spec((1, 1, 1), None, NORM_NONE, None, None, out_code)
    stochastic = [name for name, code in SOLVERS.items()
                  if plain.uses_toolkit(sparse=toolkit, solver=code) == toolkit]
    # The split twin exists on the default path only (split_parts).
    parts = (1, 2) if split and not toolkit else (1,)
    epochs = tuple(dict.fromkeys(training_kernel(backend, solver, out_code, toolkit, n)
                                 for solver in stochastic for n in parts))
    roles = [(f"{'/'.join(stochastic)} fits", epochs)] if stochastic else []
    return roles + [
        ("lbfgs fits", (training_kernel(backend, "lbfgs", out_code, toolkit),)),
        ("predictions", (backend.network(toolkit, out_code).predict,))]


def warm_roles(dtype, backend=None, split=None):
    """What the compile cache holds ``dtype``'s kernels for, as ``fastbp
    info`` reports it: for each path (:data:`KERNEL_PATHS`) and output
    function, the roles of :func:`kernel_roles` none of whose dispatchers
    would compile.

    Parameters
    ----------
    dtype : str or numpy dtype
    backend : CPUBackend, optional
        By default a new one.
    split : bool, optional
        As for :func:`kernel_roles`.

    Yields
    ------
    path : str
        "default path" or "toolkit".
    output : str
        The output function's name (``OUTPUT_FUNCTIONS``).
    warm : list of str
        The descriptions of the roles that are warm (none: an empty list).
    """
    backend = CPUBackend() if backend is None else backend
    split = _split.splits_here() if split is None else split
    for toolkit, path in KERNEL_PATHS:
        for name, code in OUTPUT_FUNCTIONS.items():
            yield path, name, [role for role, kernels
                               in kernel_roles(backend, toolkit, code, split)
                               if not any(dispatchers.will_compile(kernel, dtype)
                                          for kernel in kernels)]


def sparse_compile_command(solver, out_code, early_stopping=False, dtype=None):
    """The ``fastbp compile`` command that warms the kernels of a fit of
    sparse ``X`` with ``solver`` and the output function ``out_code``,
    early stopping where ``early_stopping``: ``--sparse`` with what the
    command's defaults (the classifier's adam, without early stopping)
    leave out, and ``dtype``'s ``--dtype`` where given (without one the
    command warms both dtypes: twice the compile the fit needs).

    rev-258: the notice named a plain ``fastbp compile --sparse`` for
    every fit of sparse ``X``, which the regressor's and the other
    solvers' fits then announced again.

    Parameters
    ----------
    solver : str
    out_code : int
        Output-function code, which tells the estimator: the classifier's
        softmax and logistic, the regressor's identity (squared error) and
        exp (poisson).
    early_stopping : bool, default False
    dtype : numpy dtype, optional

    Returns
    -------
    str
    """
    only = [] if dtype is None else [f"--dtype {np.dtype(dtype).name}"]
    if out_code == OUT_EXP:
        # Only --all warms the poisson loss (it takes no --estimator).
        return " ".join(["fastbp compile --all", *only])
    words = ["fastbp compile --sparse"]
    if out_code == OUT_IDENTITY:
        words.append("--estimator regressor")
    if solver != "adam":
        words.append(f"--solver {solver}")
    # The command warms no early stopping for lbfgs, which has none.
    if early_stopping and solver != "lbfgs":
        words.append("--early-stopping")
    return " ".join([*words, *only])


def announce_compilation(backend, dtype, solver, out_code, toolkit=False, stream=None,
                         parts=1, sparse=False, early_stopping=False):
    """Say so before a fit that will compile its kernels (a cold cache).

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    dtype : numpy dtype
    solver : str
    out_code : int
        Output-function code.
    toolkit : bool
        Whether the fit runs the full kernels (``NetworkSpec.uses_toolkit``).
    stream : file, optional
    parts : int, default 1
        The threads each step is split between
        (``fastbp.estimators.solvers.fit_split_parts``).
    sparse : bool, default False
        Whether ``X`` is sparse: the notice then names the
        ``fastbp compile --sparse`` command that warms this fit
        (:func:`sparse_compile_command`), since a plain ``fastbp compile``
        warms dense ``X`` only (and the command line trains on sparse ``X``
        where a file's text column has many values).
    early_stopping : bool, default False
        Whether the fit holds out a validation set, which the command named
        for sparse ``X`` then warms too.

    Returns
    -------
    bool
        Whether it will compile.
    """
    import sys

    if backend.name != "cpu":
        return False
    kernel = training_kernel(backend, solver, out_code, toolkit, parts)
    if not will_compile(kernel, dtype):
        return False
    # Measured on 2 cores (docs/performance.md, "Compile time"; the
    # toolkit's first fit in docs/performance-log.md, "Numba's pipeline").
    seconds = "6-10" if toolkit else "4-6"
    name = np.dtype(dtype).name
    if compiles_in_memory(kernel):
        # helper-123: no cache location is writable (a read-only install and
        # HOME), yet this promised a cache on disk in every process.
        text = (f"compiling the {name} kernels for {solver} in memory (about {seconds} s on "
                "2 cores; no writable compile cache, so every process compiles them again: "
                "set NUMBA_CACHE_DIR to a writable directory)")
    else:
        ahead = ("; X is sparse here, whose kernels "
                 f"'{sparse_compile_command(solver, out_code, early_stopping, dtype)}' "
                 "compiles ahead" if sparse else "")
        text = (f"compiling the {name} kernels for {solver} (first use on this machine, "
                f"about {seconds} s on 2 cores; cached on disk afterwards{ahead})")
    print(f"fastbp: {text}...", file=stream or sys.stdout, flush=True)
    return True


def _spend_a_compile_wait(warm_split, clip, solver, backend, spec, sparse, params,
                          running, batch_size, n_train):
    """What a stochastic fit does where it would wait for another process
    compiling its kernels (:func:`fastbp._cache.compile_locks.while_waiting`), decided
    then (a fit pays nothing for it unless it waits):

    - compile the prediction kernel its model will run, which scores each
      fit of a search (:func:`fastbp.training.predict.warm_predict`);
    - on the default path, call ``warm_split`` to compile the twins of its
      kernels that split each step between threads, as :func:`fastbp.warmup`
      would: a search's one-thread workers compile their fits' kernels, and
      its refit, on every core, splits its steps if they are large.

    See :func:`spend_compile_waits` for the parameters.
    """
    if backend.name != "cpu" or sparse:
        return
    # The waiting fit's compiled call has not started: its BLAS section
    # holds no product, and a split fit could not pin the pool inside it.
    with outside_blas_section():
        warm_predict(backend, spec, params, running)
        # Fits in other threads: the warm-up's split fit would pin their
        # BLAS pool for seconds.
        if (active_fits() > 1
                or spec.uses_toolkit(False, clip, SOLVERS[solver])
                or not splits_here() or blas_pool_size() is None
                or split_parts(backend, False, False, batch_size, n_train,
                               spec.layout.n_weights) > 1):
            return
        warm_split(params.dtype, 1 if spec.out_code == OUT_LOGISTIC else 0)


def spend_compile_waits(backend, spec, sparse, params, running, batch_size, n_train, *,
                        clip, solver, warm_split):
    """A context manager for the block in which a stochastic fit runs its
    kernels: a wait there for another process's compile is spent compiling
    what the fit will want next (:class:`fastbp._cache.compile_locks.while_waiting`).

    Parameters
    ----------
    backend : Backend
        The fit's backend; only the CPU's waits are spent.
    spec : NetworkSpec
    sparse : bool
        Whether ``X`` is sparse (its fits have no split twins).
    params : ndarray of shape (n_params,)
        The fit's flat parameters, in its dtype.
    running : ndarray of shape (n_running,)
        Its normalisation statistics.
    batch_size, n_train : int
        The fit's mini-batch rows and training rows, which decide whether
        its steps are split.
    clip : float or None
        Its ``clip_grad_norm``.
    solver : str
        Its solver's name.
    warm_split : callable
        ``warm_split(dtype, target)`` compiles the split twins of the fit's
        kernels in ``dtype``, for the output function ``target`` (0: softmax
        or the regressor's, 1: logistic). Given by the estimator, which
        knows how to fit a twin: the trainer builds on no estimator.

    Returns
    -------
    fastbp._cache.compile_locks.while_waiting
    """
    return while_waiting(functools.partial(
        _spend_a_compile_wait, warm_split, clip, solver, backend, spec, sparse, params,
        running, batch_size, n_train))
