"""Forward pass for prediction and validation."""

import math
from contextlib import nullcontext
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from ..kernels.codes import (INPUT_NOT_FINITE, OUT_EXP, OUT_IDENTITY, OUTPUT_NOT_FINITE,
                             PARAMS_NOT_FINITE)
from ..kernels.entry import compiled_entry
from ..kernels.losses import loss_from_output
from ..kernels.records import Inputs, Work
from .data import EMPTY_INDEX, KernelInput
from .spec import build_spec
from .threads import host_blas_section
from .workspace import Workspace, chunk_rows_within, memory_message

# Most rows per chunk: bounds prediction's memory whatever the number of
# samples; wide layers get fewer (their buffers within CHUNK_BYTES).
CHUNK = 4096

class InferencePlan:
    """What predicting with one network structure needs besides its
    parameters: the layout tables, the hyper-parameter record and the sizes
    of the work buffers, for chunks of up to ``chunk`` rows (fewer where
    the layers are wide: see
    :func:`~fastbp.training.workspace.chunk_rows_within`).

    Built once per structure (:func:`inference_plan`) and shared between
    calls and threads (validation and ``predict``): a prediction writes
    nothing in it but a memo of each kernel's compiled function for plain
    calls (one dict entry, the same whichever thread sets it), and every
    call allocates its own work buffers.

    Parameters
    ----------
    spec : NetworkSpec
    dtype : numpy dtype
    chunk : int
        Most rows per kernel chunk: the plan's :attr:`chunk` is fewer where
        that many rows' buffers would take more than
        :data:`~fastbp.training.workspace.CHUNK_BYTES` (callers that know
        no widths, the estimators' ``predict``, pass :func:`chunk_rows` of
        the row count alone).

    Raises
    ------
    MemoryError
        Naming the rows and the layer widths, where even the chunk's
        buffers cannot be allocated.
    """

    def __init__(self, spec, dtype, chunk):
        layout = spec.layout
        self.spec, self.dtype = spec, np.dtype(dtype)
        self.chunk = chunk_rows_within(layout, self.dtype, chunk)
        ws = Workspace(layout, self.chunk, self.dtype, dense_input=False, training=False,
                       lower=None)
        self.tables = ws.tables(layout.norm)
        self.hyper = spec.hyper(self.dtype)
        self._n_acts, self._n_stats = ws.acts.size, ws.stats.size
        # Zero-sized buffers (dropout masks, deltas, gradients: unused in
        # inference) are never written, so every call may share them.
        self._none = ws.masks
        self._rng = ws.rng
        self._no_data = np.empty(0, dtype=self.dtype)
        self.n_outputs = int(layout.units[-1])
        self._toolkit = spec.uses_toolkit(False)
        # Per predict dispatcher: its compiled function for plain calls.
        self._plain_entries = {}

    def work(self, running):
        """A :class:`~fastbp.kernels.records.Work` record with buffers of its
        own: concurrent predictions must not share activations."""
        none = self._none
        try:
            acts = np.empty(self._n_acts, dtype=self.dtype)
            stats = np.empty(self._n_stats, dtype=self.dtype)
        except MemoryError as exc:
            raise MemoryError(memory_message(self.spec.layout, self.chunk, self.dtype,
                                              False, False, None)) from exc
        return Work(acts, none, none, stats, running, none, self._rng, none, none, none)

    def kernels(self, backend, sparse=False):
        """The whole-network kernels that predict with this plan on
        ``backend`` (``backend.network``): the toolkit's for a sparse ``X``
        or a network that uses the toolkit in inference."""
        return backend.network(sparse or self._toolkit, self.spec.out_code)

    def dense_inputs(self, X):
        """The :class:`~fastbp.kernels.records.Inputs` record of a dense,
        C-contiguous, writable ``X`` of the plan's dtype."""
        return Inputs(X, self._no_data, EMPTY_INDEX, EMPTY_INDEX, False)

    def run(self, backend, params, running, inputs, n_samples, sparse=False, plain=False,
            out=None):
        """Output-layer values for the ``n_samples`` rows of ``inputs``.

        Parameters
        ----------
        backend : CPUBackend or CUDABackend
        params : ndarray of shape (n_params,)
        running : ndarray of shape (n_running,)
        inputs : Inputs
            On the backend's device already (``backend.put``).
        n_samples : int
        sparse : bool
            Whether ``inputs`` holds a CSR matrix (the full kernels read it).
        plain : bool
            Whether ``inputs`` is :meth:`dense_inputs` of a C-contiguous,
            writable 2-D ``X`` of the plan's dtype, and ``params`` and
            ``running`` are C-contiguous, writable and of that dtype: then
            every argument's type is fixed by the plan, and calls after the
            first skip the dispatcher's typing of them.
        out : ndarray of shape (n_samples, n_outputs), optional
            C-contiguous, of the plan's dtype: receives the values (rows of
            a larger output, for :func:`predict_rows`); a new array if None.

        Returns
        -------
        out : ndarray of shape (n_samples, n_outputs)
        status : int
            ``codes.INPUT_NOT_FINITE`` if a dense ``X`` holds a NaN or an
            infinity (reported by backends whose ``checks_input`` is
            true), plus ``codes.OUTPUT_NOT_FINITE`` if ``out`` does.
        """
        if out is None:
            out = np.empty((n_samples, self.n_outputs), dtype=self.dtype)
        kernels = self.kernels(backend, sparse)
        put = backend.put
        out_k = put(out)
        args = (inputs, put(self.tables), put(self.work(running)), put(params), self.hyper,
                self.chunk, out_k)
        entry = self._plain_entries.get(kernels.predict) if plain else None
        with host_blas_section(backend):
            if entry:
                status = entry(*args)
            else:
                status = kernels.predict(*args)
                if entry is None and plain:
                    # False where there is none to keep (the CUDA backend's
                    # drivers): not looked for again.
                    self._plain_entries[kernels.predict] = (
                        compiled_entry(kernels.predict, args) or False)
        backend.fetch(out_k, out)
        if status is None:  # the GPU's drivers return nothing: check here
            status = 0 if np.isfinite(out).all() else OUTPUT_NOT_FINITE
        return out, int(status)


def predict_rows(plan, backend, params, running, X):
    """Output-layer values for every row of a validated ``X`` that the
    kernels cannot read as it is, converted a block of rows at a time.

    Converting all of ``X`` (another dtype, F order: a DataFrame's, int64
    CSR indices) would copy it whole, on every call, where
    the CPU kernel reads :attr:`InferencePlan.chunk` rows at a time: each
    block is one of the plan's chunks, so the kernel sees the chunks it
    would see in ``X`` converted whole, and computes the same values. (On
    the GPU, one block.)

    Parameters
    ----------
    plan : InferencePlan
        Built for all of ``X``'s rows (:func:`chunk_rows`).
    backend : CPUBackend or CUDABackend
    params : ndarray of shape (n_params,)
    running : ndarray of shape (n_running,)
    X : ndarray or CSR/CSC matrix of shape (n_samples, n_features)
        Validated, float32 or float64, of any layout (``X`` may also hold
        integers or bools, and a dense ``X`` float16); values that fit the plan's dtype
        (the caller checks).

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs)
    status : int
        As :meth:`InferencePlan.run`'s, over the blocks computed: the first
        block whose input or parameters are not finite is the last (the
        caller raises).
    """
    n_samples = X.shape[0]
    sparse = sp.issparse(X)
    if sparse:
        X = X.tocsr()  # (of CSC, a copy: its rows are not stored together)
    block = plan.chunk
    if backend.name != "cpu":
        # One block: the GPU holds all of X anyway, each call copies the
        # parameters to it, and its sparse kernel's chunks (by the densified
        # size of a row) need not divide the plan's.
        block = max(n_samples, 1)
    out = np.empty((n_samples, plan.n_outputs), dtype=plan.dtype)
    status = 0
    for start in range(0, n_samples, block):
        stop = min(start + block, n_samples)
        inputs = backend.put(KernelInput.rows_of(X, start, stop, plan.dtype).inputs())
        _, code = plan.run(backend, params, running, inputs, stop - start, sparse,
                           out=out[start:stop])
        # Let this block's conversion go before the next one's is made.
        inputs = None
        status |= code
        if code & (INPUT_NOT_FINITE | PARAMS_NOT_FINITE):
            break
    return out, status


def chunk_rows(n_samples):
    """Rows per kernel chunk for ``n_samples`` rows: the next power of two,
    up to :data:`CHUNK`, so that a few plans serve every call size.
    (:class:`InferencePlan` takes fewer where the layers are wide: see
    :func:`~fastbp.training.workspace.chunk_rows_within`.)"""
    return min(CHUNK, 1 << max(int(n_samples) - 1, 0).bit_length())


@lru_cache(maxsize=64)
def inference_plan(units, activations, norm, residual, out_code, dtype, chunk):
    """The :class:`InferencePlan` of a network structure, built once.

    Parameters
    ----------
    units : tuple of int
        Layer widths, input first.
    activations : tuple of int
        Activation code of each hidden layer.
    norm : int
        Normalisation code.
    residual : tuple of bool
        Skip connection flag of each hidden layer.
    out_code : int
        Output function code.
    dtype : numpy dtype
        The model's dtype.
    chunk : int
        Rows per kernel chunk (:func:`chunk_rows`).
    """
    spec = build_spec(units, activations, norm, residual, [0.0] * (len(units) - 2), out_code)
    return InferencePlan(spec, dtype, chunk)


def inference_plan_of(spec, dtype, chunk, out_code=None):
    """The :func:`inference_plan` that a model of the training ``spec``
    predicts with: its structure, without dropout, which inference does not
    apply (a dropout network runs the prediction kernel of the same network
    without it).

    Parameters
    ----------
    spec : NetworkSpec
    dtype : numpy dtype
    chunk : int
        Rows per kernel chunk (:func:`chunk_rows`).
    out_code : int, optional
        Another output function for the same network (``spec``'s if None).
    """
    layout = spec.layout
    hidden = slice(1, len(layout.units) - 1)
    return inference_plan(tuple(int(u) for u in layout.units),
                          tuple(int(a) for a in layout.activations[hidden]), layout.norm,
                          tuple(bool(r) for r in layout.residual[hidden]),
                          spec.out_code if out_code is None else out_code, np.dtype(dtype),
                          chunk)


def predict_outputs(backend, spec, params, running, inp, inputs=None, plan=None):
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
    plan : InferencePlan, optional
        This function's plan for ``inp``, when the caller keeps it between
        calls (validation: building one costs 40 us).

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs)
        Probabilities for classifiers, predictions for regressors.
    finite : bool
        Whether every value of ``out`` is finite.
    """
    if plan is None:
        plan = InferencePlan(spec, params.dtype, chunk_rows(inp.n_samples))
    if inputs is None:
        inputs = backend.put(inp.inputs())
    out, status = plan.run(backend, params, running, inputs, inp.n_samples, inp.is_sparse)
    return out, not status & OUTPUT_NOT_FINITE


def warm_predict(backend, spec, params, running):
    """Compile, or load from the cache, the prediction kernel that a model
    of ``spec`` will run, by predicting one row of zeros through the plan
    its ``predict`` builds (:func:`inference_plan`, plain dense input).

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
    spec : NetworkSpec
        A fit's (its dropout plays no part in prediction).
    params : ndarray of shape (n_params,)
    running : ndarray of shape (n_running,)
        Read only.
    """
    plan = inference_plan_of(spec, params.dtype, chunk_rows(1))
    X = np.zeros((1, int(spec.layout.units[0])), dtype=params.dtype)
    plan.run(backend, params, running, backend.put(plan.dense_inputs(X)), 1, plain=True)


def _loss(spec, out, Y, sw, pre_exp=False):
    """The loss of the outputs ``out`` against ``Y``, weighted by ``sw``
    (or None), in float64, as validation takes it (``out`` the exp output's
    pre-activations where ``pre_exp``)."""
    has_sw = sw is not None
    return loss_from_output(out, Y, sw if has_sw else np.empty(0, dtype=out.dtype), has_sw,
                            spec.out_code, out.dtype.type(np.finfo(out.dtype).eps), pre_exp)


def _loss_of(backend, spec, params, running, inp, inputs, out, Y, sw):
    """:func:`_loss` of the finite outputs ``out`` of ``params`` on ``inp``
    (``inputs`` as :func:`predict_outputs` takes it).

    The half Poisson deviance reads ``log(exp(t))`` as the pre-activation
    ``t``, as training does: where a prediction of a positive target is 0
    (``exp(t)`` underflowed, below ``t`` of about -745 in float64, -103 in
    float32) or subnormal, its log is ``-inf`` or inexact though the loss
    is finite, and the loss is taken from ``t``, predicted again with the
    identity output. Elsewhere ``log(p)`` is ``t`` to an ulp of ``p``, and
    validation runs only the kernel that predict runs, compiled once for
    both (the identity output's costs seconds on a cold cache).
    """
    if spec.out_code == OUT_EXP and np.any((out < np.finfo(out.dtype).tiny) & (Y > 0)):
        plan = inference_plan_of(spec, out.dtype, chunk_rows(inp.n_samples), OUT_IDENTITY)
        # A NaN t gives a NaN loss, which the callers refuse as any other.
        out, _ = predict_outputs(backend, spec, params, running, inp, inputs, plan)
        return _loss(spec, out, Y, sw, pre_exp=True)
    return _loss(spec, out, Y, sw)


def fits_rows(backend, spec, params, running, inp, Y, sw, rows):
    """Whether ``params`` give finite outputs and a finite loss on the rows
    ``rows`` of ``inp`` (targets ``Y``, weights ``sw`` or None, of all rows).

    Tells diverged weights from input rows out of their range where
    validation is not finite: a copy of the rows, predicted once.
    """
    rows_inp = inp.take(rows)
    out, finite = predict_outputs(backend, spec, params, running, rows_inp)
    if not finite:
        return False
    return bool(np.isfinite(_loss_of(backend, spec, params, running, rows_inp, None, out,
                                     np.ascontiguousarray(Y[rows]),
                                     None if sw is None else np.ascontiguousarray(sw[rows]))))


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
    user_scorer : bool, default=False
        Whether ``score`` calls a scorer of the user's (``scoring`` a
        callable), which may hand its predictions to another thread.
    """

    def __init__(self, backend, spec, inp, Y, sw, score, user_scorer=False):
        self.backend, self.spec, self.inp, self.Y, self.sw = backend, spec, inp, Y, sw
        self.inputs = backend.put(inp.inputs())
        self.score = score
        self.user_scorer = user_scorer
        # The model's own predict plan: validation scores what predict
        # would, with the same kernel, compiled once for both.
        self.plan = inference_plan_of(spec, Y.dtype, chunk_rows(inp.n_samples))

    def evaluate(self, params, running, section=nullcontext):
        """``(score, loss)`` of ``params``; a NaN score, unscored, where the
        outputs or the loss are not finite (a NaN loss for non-finite
        outputs): the caller refuses it (see :meth:`refuse`).

        ``section()`` is the context that the validation runs in: the
        epoch's (:meth:`fastbp.training.split.WholeEpoch.section`; a split
        fit's pins the BLAS pool, which keeps OpenBLAS's idle thread from
        spinning on the core the next slice needs). A scorer of the user's
        runs after it, outside: it may hand its predictions to another
        thread, which would wait for the pin while the fit waited for it.
        Its predictions run as the model's predict does after the fit,
        whichever thread runs them. scikit-learn's named scorers predict in
        this thread, inside the section (a split fit with a callable scorer
        pays for the spin: 166-205 ms epochs against 98-113 on 20,000 MNIST
        rows, batch 200, two threads).
        """
        with section():
            out, finite = predict_outputs(self.backend, self.spec, params, running, self.inp,
                                          self.inputs, self.plan)
            if not finite:
                return np.nan, np.nan
            loss = _loss_of(self.backend, self.spec, params, running, self.inp, self.inputs,
                            out, self.Y, self.sw)
            if not np.isfinite(loss):
                # Squared errors overflow (above 1.3e154 in float64) before
                # the outputs do.
                return np.nan, float(loss)
            if not self.user_scorer:
                return self.score(out, params, running, loss), float(loss)
        return self.score(out, params, running, loss), float(loss)

    def refuse(self, loss, epoch):
        """Raise the ``ValueError`` of a validation set whose outputs (a NaN
        ``loss``) or loss were not finite at ``epoch`` of the call, where
        the training rows' were, before any epoch of the call had a finite
        score: early stopping could choose no weights of the call by its
        scores, and would end on those it started from (a warm start's, on
        the best weights of the calls before it)."""
        inp = self.inp
        values = inp.data if inp.is_sparse else inp.dense
        with np.errstate(over="ignore", invalid="ignore"):
            biggest = float(np.max(np.abs(values))) if values.size else 0.0
        what = ("the network's outputs on it are not finite, though on the training rows "
                "they are" if math.isnan(loss) else
                f"its loss is {loss}, though the training rows' is finite")
        raise ValueError(
            f"Early stopping cannot score the validation set (the validation_fraction of "
            f"the rows that early_stopping=True holds out) at epoch {epoch}: {what}, so "
            "validation rows are out of the range the network handles. Early stopping "
            "keeps the weights of the best validation score, and no epoch of this fit has "
            "had a finite one: it would end on the weights it started from (a warm start's "
            "on those of the best score of the fits before it). The "
            "validation rows of "
            f"X reach a magnitude of {biggest:.3g}: standardise X (for example with "
            "sklearn.preprocessing.StandardScaler) or remove its extreme rows, or set "
            "early_stopping=False.")
