"""Whole-network training, loss and gradient, and prediction on the GPU.

The CUDA twin of :mod:`fastbp.kernels.network`: ``train_epoch``,
``loss_and_gradient`` and ``predict`` take the same records and return the
same values, but run on the host, launching device kernels over the flat
buffers. Per mini-batch step, for ``L`` weight layers: ``L`` forward
products (bias and activation fused; one normalisation kernel per
normalised layer), one output/loss/delta kernel, ``L`` weight-gradient
products (bias gradient fused), ``L - 1`` delta products (activation
derivative fused) and one optimizer kernel (plus one norm reduction when
clipping).

Nothing is copied between host and device inside an epoch: the epoch's
permutation and an empty record go in before the first launch, and the
record (each step's loss, penalty sums and layer gradient norms) comes back
once after the last. Step scalars the host already knows (the sample-weight
sum of each batch, the update count, Adam's bias-corrected rate) are kernel
arguments, so the update count lives on the host and the device alike.
"""

import threading
from contextlib import contextmanager

import numpy as np
from numba import cuda

from .. import scalar
from ..codes import ADAM, ADAMW, NORM_BATCH, NORM_LAYER, NORM_NONE
from ..network import B_OFF, D_OFF, N_NET_ROWS, O_OFF, UNITS
from ..records import Inputs, Tables, Targets
from . import gemm, optimizers
from .launch import Launch
from .losses import loss_unit, output_activation, output_loss_delta
from .normalization import (
    batch_norm_backward,
    batch_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
    layer_norm_param_grads,
)
from .sparse import densify_rows

#: Tile sizes ``(tile_m, tile_n, tile_k, reg_m, reg_n)`` of the products and
#: threads per block of the element-wise kernels; :func:`configure` changes
#: them (the simulator tests use tiny ones).
TILES = (64, 64, 16, 4, 4)
THREADS = 256
#: Split-K (see :mod:`.gemm`): a product is split along its depth until it
#: has about ``SPLIT_BLOCKS`` blocks (None: twice the GPU's multiprocessors;
#: 0: never split), each split keeping at least ``SPLIT_PANELS`` panels.
SPLIT_BLOCKS = None
SPLIT_PANELS = 4
#: The most bytes a chunk of a sparse X densifies into for prediction and
#: L-BFGS: 4096 rows of 200,000 features would take 3 GiB (a training
#: batch, ``batch_size`` rows, is what the user chose).
SPARSE_DENSIFY_BYTES = 256 << 20
#: The largest scratch buffer (in bytes) a thread keeps between driver
#: calls. Larger ones, whose size follows the data (a densified sparse
#: batch, the permutation of a fit's rows) or the GPU (split-K partial
#: tiles, up to about 17 MB in float64 with 64 x 64 tiles on 132
#: multiprocessors), belong to the call's ``DeviceTables``: a fit's, kept
#: for its epochs, or one prediction's, and go with it (rev-201, fix-206).
#: The buffers every call needs (the step record, the split tile counts,
#: the placeholder permutation) stay far below it and are kept, so that a
#: prediction allocates none of them; a thread keeps at most 7 MiB (seven
#: names) once its models are gone.
SCRATCH_KEEP_BYTES = 1 << 20

_built = {}
_local = threading.local()


_UNSET = object()


def configure(tiles=None, threads=None, split_blocks=_UNSET, split_panels=None):
    """Set the tile sizes, threads per block and split-K of later launches.

    Parameters
    ----------
    tiles : tuple of 5 int, optional
        ``(tile_m, tile_n, tile_k, reg_m, reg_n)``.
    threads : int, optional
        Threads per block of the element-wise kernels (a power of two).
    split_blocks : int or None, optional
        Blocks a product is split towards (``SPLIT_BLOCKS``): None for
        twice the GPU's multiprocessors, 0 to never split.
    split_panels : int, optional
        Fewest panels of depth ``tile_k`` per split (``SPLIT_PANELS``).
    """
    global TILES, THREADS, SPLIT_BLOCKS, SPLIT_PANELS
    if tiles is not None:
        TILES = tuple(int(t) for t in tiles)
    if threads is not None:
        THREADS = int(threads)
    if split_blocks is not _UNSET:
        SPLIT_BLOCKS = None if split_blocks is None else int(split_blocks)
    if split_panels is not None:
        SPLIT_PANELS = max(int(split_panels), 1)


def _split_target():
    """Blocks to split a product towards: ``SPLIT_BLOCKS``, or twice the
    current GPU's multiprocessors (0 under the simulator, which has none)."""
    if SPLIT_BLOCKS is not None:
        return SPLIT_BLOCKS
    try:
        return 2 * int(cuda.get_current_device().MULTIPROCESSOR_COUNT)
    except Exception:  # the simulator's device has no such attribute
        return 0


def _split(grid, depth, tile_k):
    """``grid`` with a third dimension: the splits of a product of depth
    ``depth`` (see :mod:`.gemm`), 1 when it already has blocks enough."""
    blocks = grid[0] * grid[1]
    panels = max((depth + tile_k - 1) // tile_k, 1)
    splits = min(-(-_split_target() // blocks), panels // SPLIT_PANELS)
    if splits <= 1:
        return (grid[0], grid[1], 1)
    # Even shares of whole panels, none empty at this depth (a shorter last
    # batch leaves trailing splits empty: they add zero tiles).
    span = -(-panels // splits)
    return (grid[0], grid[1], -(-panels // span))


def _kernels(dtype):
    """The products and optimizer kernels for ``dtype`` and the current
    configuration, compiled once per process."""
    key = (np.dtype(dtype), TILES, THREADS)
    if key not in _built:
        _built[key] = (gemm.build(dtype, *TILES), optimizers.build(dtype, THREADS))
    return _built[key]


class DeviceTables:
    """The ``Tables`` record on the GPU: ``net`` and ``buf`` stacked into
    one int64 table on the device, with the host copies that launch
    planning reads."""

    def __init__(self, tables):
        self.net, self.buf, self.drops, self.norm = tables
        self.table = cuda.to_device(np.ascontiguousarray(np.vstack([self.net, self.buf])))
        self.units = [int(u) for u in self.net[UNITS]]
        # Marshalled launches, kept between the driver calls of one fit (an
        # epoch runs in slices of about 0.1 s, each a call): marshalling a
        # step's kernels costs the host about 4 ms (H200 machine).
        self.launches = {}
        # Scratch too large for the thread to keep (see _scratch).
        self.scratch = {}


class DeviceTargets:
    """The ``Targets`` record on the GPU, keeping the host sample weights
    from which the host computes each batch's weight sum."""

    def __init__(self, targets):
        Y, sw, self.has_sw = targets
        self.host_sw = sw
        self.Y = cuda.to_device(np.ascontiguousarray(Y))
        self.sw = cuda.to_device(sw if sw.size else np.zeros(1, dtype=Y.dtype))


class DeviceInputs:
    """The ``Inputs`` record on the GPU; a dense ``X`` is also viewed flat."""

    def __init__(self, inputs):
        X, data, indices, indptr, self.is_sparse = inputs
        self.n_samples = int(indptr.shape[0] - 1) if self.is_sparse else X.shape[0]
        self.n_features = X.shape[1]
        self.dtype = X.dtype
        if self.is_sparse:
            self.x_flat = None
            self.data = cuda.to_device(data)
            self.indices = cuda.to_device(indices)
            self.indptr = cuda.to_device(indptr)
        else:
            self.x_flat = cuda.to_device(np.ascontiguousarray(X).reshape(-1))


def to_device(value):
    """``value`` on the GPU: an array is copied; a record becomes its device
    form (``Tables``, ``Targets``, ``Inputs`` keep what the host needs for
    planning; other records get each array copied)."""
    if isinstance(value, np.ndarray):
        return cuda.to_device(np.ascontiguousarray(value) if value.size else
                              np.zeros(1, dtype=value.dtype))
    if isinstance(value, Tables):
        return DeviceTables(value)
    if isinstance(value, Targets):
        return DeviceTargets(value)
    if isinstance(value, Inputs):
        return DeviceInputs(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[to_device(v) for v in value])
    return value


def _scratch(name, size, dtype, zeroed=False):
    """A device array of at least ``size`` elements, reused between calls
    (one per name); ``zeroed`` fills a new one with zeros (the split
    products' tile counts, which every launch leaves at zero).

    One of at most :data:`SCRATCH_KEEP_BYTES` is this thread's, kept for
    its later calls; a larger one belongs to the records of the driver
    call that asks (see :func:`_owned_by`), so that it is freed with them
    rather than held for the thread's life."""
    n = max(int(size), 1)
    owner = getattr(_local, "owner", None)
    if owner is not None and n * np.dtype(dtype).itemsize > SCRATCH_KEEP_BYTES:
        cache = owner.scratch
    else:
        cache = _local.__dict__.setdefault("scratch", {})
    arr = cache.get(name)
    if arr is None or arr.shape[0] < size or arr.dtype != np.dtype(dtype):
        arr = cache[name] = (cuda.to_device(np.zeros(n, dtype=dtype)) if zeroed else
                             cuda.device_array(n, dtype=dtype))
    return arr


@contextmanager
def _owned_by(tables):
    """Large scratch of the calls inside to be owned by ``tables`` (a
    ``DeviceTables``): a fit's records, which keep it for the fit's later
    calls (an epoch runs in slices, each a call, whose kept launches read
    the same buffers), or a prediction's, made for that call. A call made
    inside another (none are today) owns its own, and the outer call's
    owner is back after it, an exception included."""
    before = getattr(_local, "owner", None)
    _local.owner = tables
    try:
        yield
    finally:
        _local.owner = before


def _rows(buf, offset, rows, m):
    """``buf[offset:offset + rows * m]`` viewed as ``(rows, m)``, or None
    when ``buf`` is a placeholder too small for it, or the workspace has no
    such part (offset -1: a prediction's deltas, whose one-element
    placeholder a view of one or two rows of one output would fit)."""
    if offset < 0 or buf.shape[0] < offset + rows * m:
        return None
    return buf[offset:offset + rows * m].reshape(rows, m)


def _grid(n, threads):
    return max((n + threads - 1) // threads, 1)


class _Launcher:
    """Launch configurations of one network and batch size, built once,
    with 2-D views of the output layer's work buffers."""

    def __init__(self, tables, dtype, rows, work):
        self.g, self.o = _kernels(dtype)
        self.tab = tables.table
        self.units = tables.units
        self.norm = tables.norm
        self.drops = [tables.drops.dtype.type(d) for d in tables.drops]
        self.dt = np.dtype(dtype).type
        tm, tn = self.g.tile
        nl = len(self.units) - 1
        # Grid sizes only: the simulator's ``kernel[grid, block]`` reconfigures
        # the kernel object itself, so configured launchers cannot be kept.
        tk = self.g.depth
        self.fwd = [None] + [_split((_grid(self.units[l], tn), _grid(rows, tm)),
                                    self.units[l - 1], tk) for l in range(1, nl + 1)]
        self.wgrad = [None] + [_split((_grid(self.units[l], tn), _grid(self.units[l - 1], tm)),
                                      rows, tk) for l in range(1, nl + 1)]
        self.delta = [None, None] + [_split((_grid(self.units[l - 1], tn), _grid(rows, tm)),
                                            self.units[l], tk) for l in range(2, nl + 1)]
        # Partial tiles and per-tile counts of the split products.
        grids = [g for g in self.fwd + self.wgrad + self.delta if g is not None]
        self.ws = _scratch("split_ws", max(g[0] * g[1] * g[2] * tm * tn if g[2] > 1 else 0
                                           for g in grids), dtype)
        self.counts = _scratch("split_counts", max(g[0] * g[1] for g in grids), np.int32,
                               zeroed=True)
        self.col = [None] + [_grid(u, THREADS) for u in self.units[1:]]
        # Grids cover ``rows``, the largest batch: a smaller one (the last)
        # leaves blocks idle rather than needing launches of its own.
        self.rows = rows
        self.row = _grid(rows, THREADS)
        self._kept = tables.launches
        self._launches = {}
        m = self.units[nl]
        o = int(tables.buf[O_OFF, nl])
        d = int(tables.buf[D_OFF, nl])
        self.bias_out = int(tables.net[B_OFF, nl - 1])
        self.z_out = _rows(work.acts, o, rows, m)
        # Prediction's work record has no deltas or targets.
        self.delta_out = _rows(work.deltas, d, rows, m)
        self.y_out = _rows(work.y_buf, 0, rows, m)

    def _launch(self, key, kernel, grid, block, args, varying=(1,)):
        """``kernel[grid, block](*args)`` through the :class:`Launch` kept
        for ``key``: the one an earlier call of this fit built when it
        matches these arguments, else a new one. Later calls of ``key`` on
        this launcher pass only the ``varying`` arguments anew (the rest
        must stay the same)."""
        launch = self._launches.get(key)
        if launch is None:
            # Checked once, then held by this launcher: another launcher of
            # the same tables may replace the kept one meanwhile.
            launch = self._kept.get(key)
            if launch is None or not launch.matches(kernel, grid, block, args):
                launch = self._kept[key] = Launch(kernel, grid, block, args, varying)
            self._launches[key] = launch
        launch(*[args[p] for p in varying])

    def forward(self, x, x_off, ldx, perm, p0, use_perm, nb, params, work, seed, step,
                training, eps, momentum):
        """Forward pass of ``nb`` rows into the work buffers (output layer:
        pre-activations without bias)."""
        nl = len(self.units) - 1
        tab = self.tab
        for l in range(1, nl + 1):
            hidden = l < nl
            drop = self.drops[l] if training else self.drops[l] * 0
            plain = not hidden or self.norm == NORM_NONE
            self._launch(
                ("forward", l), self.g.forward, self.fwd[l], self.g.block,
                (l, nb, tab, x, x_off, ldx, perm, p0, use_perm, params, work.acts, work.masks,
                 work.alive, drop, seed, step, training,
                 gemm.EPI_HIDDEN if hidden and plain else gemm.EPI_STORE, self.ws, self.counts),
                (1, 4, 7, 15))
            if hidden and self.norm == NORM_BATCH:
                self._launch(
                    ("batch_norm_forward", l), batch_norm_forward, self.col[l], THREADS,
                    (l, nb, tab, params, work.acts, work.stats, work.running, work.masks,
                     work.alive, drop, seed, step, training, momentum, eps), (1, 11))
            elif hidden and self.norm == NORM_LAYER:
                self._launch(
                    ("layer_norm_forward", l), layer_norm_forward, self.row, THREADS,
                    (l, nb, tab, params, work.acts, work.stats, work.masks, work.alive, drop,
                     seed, step, training, eps), (1, 10))

    def backward(self, x, x_off, ldx, perm, p0, use_perm, nb, params, grads, work,
                 accumulate):
        """Backward pass from the output delta: raw summed gradients into
        ``grads`` (added to them when ``accumulate``)."""
        nl = len(self.units) - 1
        tab = self.tab
        for l in range(nl, 0, -1):
            if l < nl and self.norm == NORM_BATCH:
                self._launch(("batch_norm_backward", l), batch_norm_backward, self.col[l],
                             THREADS, (l, nb, tab, params, work.acts, work.stats, grads,
                                       accumulate))
            elif l < nl and self.norm == NORM_LAYER:
                self._launch(("layer_norm_param_grads", l), layer_norm_param_grads,
                             self.col[l], THREADS, (l, nb, tab, work.acts, grads, accumulate))
                self._launch(("layer_norm_backward", l), layer_norm_backward, self.row,
                             THREADS, (l, nb, tab, params, work.acts, work.stats))
            # A normalised layer has no bias (beta shifts it): its gradient is 0.
            self._launch(
                ("weight_grad", l), self.g.weight_grad, self.wgrad[l], self.g.block,
                (l, nb, tab, x, x_off, ldx, perm, p0, use_perm, work.acts, work.deltas, grads,
                 accumulate, l == nl or self.norm == NORM_NONE, self.ws, self.counts),
                (1, 4, 7))
            if l > 1:
                self._launch(
                    ("delta", l), self.g.delta, self.delta[l], self.g.block,
                    (l, nb, tab, params, work.acts, work.masks, work.deltas,
                     self.drops[l - 1], self.ws, self.counts))

    def loss_delta(self, nb, params, targets, perm, p0, use_perm, h, record, at):
        """Output function, loss (added to ``record[at]``) and output delta."""
        self._launch(
            "output_loss_delta", output_loss_delta, self.row, THREADS,
            (nb, params, self.bias_out, self.z_out, self.delta_out, targets.Y, targets.sw,
             targets.has_sw, perm, p0, use_perm, self.y_out, h.out_code, h.prob_lo,
             h.prob_hi, record, at), (0, 9, 16))

    def first_layer(self, inputs, perm_d, p0, nb, use_perm):
        """``(x, x_off, ldx, perm, p0, use_perm)`` for the first layer: the
        dense ``X`` read in place, or a sparse batch densified into scratch."""
        if not inputs.is_sparse:
            ldx = inputs.n_features
            return inputs.x_flat, (0 if use_perm else p0 * ldx), ldx, perm_d, p0, use_perm
        xb = _scratch("xb", self.rows * inputs.n_features, inputs.dtype)
        self._launch("densify_rows", densify_rows, self.row, THREADS,
                     (inputs.data, inputs.indices, inputs.indptr, perm_d, p0, use_perm, nb,
                      inputs.n_features, xb), (4, 6))
        return xb, 0, inputs.n_features, perm_d, 0, False


def _add_penalty(loss, alpha, l1, sumsq, sumabs):
    """``scalar.add_penalty``, the CPU kernels' penalised loss, run by
    Python on the host's float64 record (``loss``, ``sumsq`` and
    ``sumabs`` may be arrays, one value per step). The coefficients are
    converted to Python floats first: NumPy would multiply a float32 ``l1``
    by a Python float in float32."""
    return scalar.add_penalty(loss, float(alpha), float(l1), sumsq, sumabs)


def _penalty_sums(rec, dtype):
    """``sum(W**2)`` and ``sum(|W|)`` of each record row (``rec`` 2-D, or
    one row): the record's columns as they are, unless a block's sum went
    past the bound to a ``*_BIG`` column (float32 weights above about
    1.8e19, helper-170): then in float64, that column scaled back, where the
    CPU's float64 fallback sums them too (an inf penalty had made a false
    divergence)."""
    cols = optimizers
    sumsq = rec[..., cols.REC_SUMSQ]
    sumabs = rec[..., cols.REC_SUMABS]
    big_sq = rec[..., cols.REC_SUMSQ_BIG]
    big_ab = rec[..., cols.REC_SUMABS_BIG]
    if np.any(big_sq != 0) or np.any(big_ab != 0):  # on the host, once per call
        k = optimizers.big_exp(dtype)
        with np.errstate(over="ignore"):
            sumsq = sumsq.astype(np.float64) + np.ldexp(big_sq.astype(np.float64), 2 * k)
            sumabs = sumabs.astype(np.float64) + np.ldexp(big_ab.astype(np.float64), k)
    return sumsq, sumabs


def train_epoch(inputs, targets, tables, work, solver, hyper, perm, batch_size, t,
                loss_sum, layer_sq, first_sq):
    """One epoch of mini-batch training on the GPU (see
    :func:`fastbp.kernels.network.train_epoch`; same arguments, with the
    records from :func:`to_device`, and ``perm``, ``layer_sq``, ``first_sq``
    on the host)."""
    with _owned_by(tables):
        params, state_1, state_2 = solver
        h = hyper
        dt = params.dtype.type
        n = perm.shape[0]
        starts = np.arange(0, n, batch_size)
        sizes = np.minimum(batch_size, n - starts)
        if targets.has_sw:
            sums = np.add.reduceat(targets.host_sw[perm].astype(np.float64), starts)
        else:
            sums = sizes.astype(np.float64)
        # A batch whose weights are all zero carries no gradient: no update.
        active = np.flatnonzero(sums != 0)
        n_layers = len(tables.units) - 1
        ncol = optimizers.REC_LAYERS + n_layers
        record_host = np.zeros((max(len(active), 1), ncol), dtype=params.dtype)
        record = _scratch("record", record_host.size, params.dtype)
        record[:record_host.size].copy_to_device(record_host.reshape(-1))
        perm_d = _scratch("perm", n, np.int64)
        perm_d[:n].copy_to_device(np.ascontiguousarray(perm))
        run = _Launcher(tables, params.dtype, batch_size, work)
        decoupled = h.solver == ADAMW
        alpha_loss = dt(0) if decoupled else h.alpha
        seed = int(work.rng.copy_to_host()[0]) if hasattr(work.rng, "copy_to_host") else 0
        opt_blocks = run.o.blocks(tables.net, h.n_weights, params.shape[0])
        t0 = t
        for s, b in enumerate(active):
            start = int(starts[b])
            nb = int(sizes[b])
            at = s * ncol
            x, x_off, ldx, xperm, p0, use_perm = run.first_layer(inputs, perm_d, start, nb, True)
            run.forward(x, x_off, ldx, xperm, p0, use_perm, nb, params, work, seed, t,
                        True, h.norm_eps, h.bn_momentum)
            run.loss_delta(nb, params, targets, perm_d, start, True, h, record,
                           at + optimizers.REC_LOSS)
            run.backward(x, x_off, ldx, xperm, p0, use_perm, nb, params, work.grads, work, False)
            scale = dt(1) / dt(sums[b])
            if h.clip > 0:
                run._launch("gradient_norm_sq", run.o.gradient_norm_sq,
                            _grid(params.shape[0], THREADS), THREADS,
                            (h.n_weights, params, work.grads, alpha_loss, h.l1, scale, record, at),
                            (5, 7))
            t += 1
            lr_t = h.lr
            if h.solver == ADAM or decoupled:
                # The CPU's train_epoch's function, run by Python on the host.
                lr_t = scalar.adam_step_size(h.lr, h.beta_1c, h.beta_2c, t)
            eps = scalar.adamw_epsilon(h.epsilon, h.beta_2c, t) if decoupled else h.epsilon
            run._launch(
                "optimizer_step", run.o.optimizer_step, opt_blocks, THREADS,
                (run.tab, h.n_weights, params, work.grads, state_1, state_2, record, at, h.solver,
                 h.alpha, h.l1, scale, h.lr, lr_t, h.momentum, h.nesterov, h.beta_1, h.beta_2,
                 h.beta_1c, h.beta_2c, eps, h.clip), (7, 11, 13, 20))
        record[:record_host.size].copy_to_host(record_host.reshape(-1))
        rec = record_host[:len(active)]
        cols = optimizers
        sumsq, sumabs = _penalty_sums(rec, params.dtype)
        total = float(loss_sum) + float(np.sum(
            _add_penalty(rec[:, cols.REC_LOSS].astype(np.float64) * loss_unit(run.rows),
                         alpha_loss, h.l1, sumsq, sumabs)
            / sums[active] * sizes[active]))
        if len(active):
            layer_sq += rec[:, cols.REC_LAYERS:].sum(axis=0, dtype=layer_sq.dtype)
            if t0 == 0:
                first_sq[:] = rec[0, cols.REC_LAYERS:]
        return total, t


def _chunk_for(inputs, dtype, chunk):
    """Rows per chunk: ``chunk``, fewer where a sparse X's chunk would
    densify into more than :data:`SPARSE_DENSIFY_BYTES`."""
    if not inputs.is_sparse:
        return chunk
    per_row = max(inputs.n_features, 1) * np.dtype(dtype).itemsize
    return max(1, min(chunk, SPARSE_DENSIFY_BYTES // per_row))


def loss_and_gradient(inputs, targets, tables, work, params, grads_chunk, hyper, chunk):
    """Full-batch penalised loss and gradient on the GPU (see
    :func:`fastbp.kernels.network.loss_and_gradient`); the gradient is left
    in ``work.grads`` on the device. ``grads_chunk`` is unused: chunks add
    their gradients in place."""
    with _owned_by(tables):
        h = hyper
        dt = params.dtype.type
        n = targets.Y.shape[0]
        chunk = _chunk_for(inputs, params.dtype, chunk)
        run = _Launcher(tables, params.dtype, chunk, work)
        record_host = np.zeros(optimizers.REC_LAYERS, dtype=params.dtype)
        record = _scratch("lbfgs_record", record_host.size, params.dtype)
        record[:record_host.size].copy_to_device(record_host)
        run.o.fill[_grid(params.shape[0], THREADS), THREADS](work.grads, dt(0))
        none = _scratch("no_perm", 1, np.int64)
        for start in range(0, n, chunk):
            nb = min(chunk, n - start)
            x, x_off, ldx, xperm, p0, use_perm = run.first_layer(inputs, none, start, nb, False)
            run.forward(x, x_off, ldx, xperm, p0, use_perm, nb, params, work, 0, 0, True,
                        h.norm_eps, h.bn_momentum)
            run.loss_delta(nb, params, targets, none, start, False, h, record,
                           optimizers.REC_LOSS)
            run.backward(x, x_off, ldx, xperm, p0, use_perm, nb, params, work.grads, work, True)
        sw_sum = float(np.sum(targets.host_sw, dtype=np.float64)) if targets.has_sw else float(n)
        run.o.penalised_gradient[_grid(params.shape[0], THREADS), THREADS](
            h.n_weights, params, work.grads, h.alpha, h.l1, dt(1.0 / sw_sum), record, 0)
        record[:record_host.size].copy_to_host(record_host)
        r = record_host.astype(np.float64)
        sumsq, sumabs = _penalty_sums(r, params.dtype)
        return _add_penalty(r[optimizers.REC_LOSS] * loss_unit(run.rows), h.alpha, h.l1,
                            float(sumsq), float(sumabs)) / sw_sum


def predict(inputs, tables, work, params, hyper, chunk, out):
    """Network outputs for every row on the GPU (see
    :func:`fastbp.kernels.network.predict`); ``out`` is a device array."""
    with _owned_by(tables):
        n = out.shape[0]
        chunk = _chunk_for(inputs, params.dtype, chunk)
        run = _Launcher(tables, params.dtype, chunk, work)
        none = _scratch("no_perm", 1, np.int64)
        for start in range(0, n, chunk):
            nb = min(chunk, n - start)
            x, x_off, ldx, xperm, p0, use_perm = run.first_layer(inputs, none, start, nb, False)
            run.forward(x, x_off, ldx, xperm, p0, use_perm, nb, params, work, 0, 0, False,
                        hyper.norm_eps, hyper.bn_momentum)
            run._launch("output_activation", output_activation, run.row, THREADS,
                        (nb, params, run.bias_out, run.z_out, hyper.out_code, out, start), (0, 6))


__all__ = ["train_epoch", "loss_and_gradient", "predict", "to_device", "configure",
           "N_NET_ROWS", "cuda"]
