"""One epoch with each mini-batch step split between threads.

With BLAS's own threads, every product of a step forks and joins the pool,
and the small products of a mini-batch split poorly: on 2 cores, MNIST at
batch 32 ran slower with two BLAS threads than with one. Here the threads
split the step instead, each calling one-thread products, and meet twice
per step at a spin barrier (:mod:`fastbp.kernels.sync`):

1. **By rows.** Part ``p`` of ``n_parts`` takes rows ``[nb p / P,
   nb (p+1) / P)`` of the batch: it gathers them, runs them forward, takes
   their loss and output delta, and propagates their deltas back through
   every layer. Rows are independent, so the parts share the work buffers
   and write disjoint rows of them. A hidden layer's gradient ``f'(z) *
   delta`` is written over its delta rather than over its activations
   (which the default path computes in place), so that every layer's input
   survives for step 2.
2. **By parameters.** After the barrier, part ``p`` takes rows ``[fan_in p
   / P, fan_in (p+1) / P)`` of each weight matrix: it computes that block
   of the weight gradient from all the batch's rows (``A[:, block].T @
   G``), and applies the optimizer to it at once, while the block is in
   its cache. Part 0 also does the biases. After the second barrier, every
   part sees the new parameters.

Nothing is reduced across threads: each gradient element is summed over
the batch by one product, in one order, so the result does not depend on
timing, and it differs from an unsplit step's only by the rounding of
differently shaped products.

Default path only (:mod:`fastbp.kernels.lean` compiles it per output
function): dense input; sgd or adam (no other solver's step is written
here: ``fastbp.training.split.SplitEpoch`` refuses them); no normalisation,
dropout, residual connections or clipping. The trainer decides when to
split (``fastbp.training.split``).
"""

import math

from .._config import entry_kernel, kernel
from .activations import derivative
from .blas import matmul_nt, matmul_tn_cols
from .codes import ADAM, RELU
from .dtypes import like
from .fpenv import flush_denormals, restore_denormals
from .losses import output_loss_delta
from .network import (
    A_OFF, ACT, B_OFF, D_OFF, H_OFF, N_BUF_ROWS, O_OFF, UNITS, W_OFF, Z_OFF,
    adam_step_size, add_penalty, bias_gradient, flag, forward_hidden, gather_rows, linear,
)
from .optimizers import square_and_abs_sums, update_range
from .sync import barrier
from .views import layer_view


@kernel
def part_rows(buf, units, r0, out):
    """``out = buf`` with every batch-row offset moved down ``r0`` rows: the
    tables of one part's rows of the work arrays."""
    for l in range(buf.shape[1]):
        shift = r0 * units[l]
        for k in range(N_BUF_ROWS):
            out[k, l] = buf[k, l]
        for k in (O_OFF, A_OFF, Z_OFF, H_OFF, D_OFF):
            if buf[k, l] >= 0:
                out[k, l] = buf[k, l] + shift


@kernel
def _times_derivative_loop(d, z, a, code):
    # One array for the delta read and the gradient written: LLVM then sees
    # that they coincide, and vectorises behind an overlap check against z
    # and a only (which passes: they are other buffers).
    n, m = d.shape
    for i in range(n):
        for j in range(m):
            d[i, j] = d[i, j] * derivative(z[i, j], a[i, j], code)


@kernel
def times_derivative(d, z, a, code):
    """``d *= f'(z)``, with ``f'`` from ``z`` and/or ``a = f(z)``, in place."""
    # Called under ``code == RELU``, LLVM folds the dispatch and vectorises
    # relu's loop (see activations.bias_activation).
    if code == RELU:
        _times_derivative_loop(d, z, a, code)
    else:
        _times_derivative_loop(d, z, a, code)


@kernel
def backward_rows(nb, params, net, buf, acts, deltas):
    """Step 1's backward half for ``nb`` rows: every layer's gradient with
    respect to its pre-activation, in ``deltas``, from the output delta.

    ``buf`` is the part's table (:func:`part_rows`).
    """
    nl = net.shape[1] - 1
    for l in range(nl, 1, -1):
        m = net[UNITS, l]
        fan_in = net[UNITS, l - 1]
        g = layer_view(deltas, buf[D_OFF, l], nb, m)
        w = layer_view(params, net[W_OFF, l - 1], fan_in, m)
        d_prev = layer_view(deltas, buf[D_OFF, l - 1], nb, fan_in)
        matmul_nt(g, w, d_prev)
        times_derivative(d_prev, layer_view(acts, buf[Z_OFF, l - 1], nb, fan_in),
                         layer_view(acts, buf[A_OFF, l - 1], nb, fan_in), net[ACT, l - 1])


@kernel
def update_block(nb, part, n_parts, x0, params, grads, state_1, state_2, net, buf, acts,
                 deltas, hyper, scale, lr_t, layer_sq):
    """Step 2 for one part: its blocks of the weight gradients from all
    ``nb`` rows, and the optimizer on them; part 0 does the biases too.

    Returns
    -------
    sumsq, sumabs : float
        ``sum(W**2)`` and ``sum(|W|)`` over the part's blocks, before the
        update.
    """
    h = hyper
    nl = net.shape[1] - 1
    one = like(1, params)
    zero = like(0, params)
    sumsq = 0.0
    sumabs = 0.0
    for l in range(1, nl + 1):
        m = net[UNITS, l]
        fan_in = net[UNITS, l - 1]
        g = layer_view(deltas, buf[D_OFF, l], nb, m)
        a = x0 if l == 1 else layer_view(acts, buf[O_OFF, l - 1], nb, fan_in)
        i0 = fan_in * part // n_parts
        i1 = fan_in * (part + 1) // n_parts
        lo = net[W_OFF, l - 1] + i0 * m
        hi = lo + (i1 - i0) * m
        matmul_tn_cols(a, i0, g, layer_view(grads, lo, i1 - i0, m))
        sq, ab, gsq = update_range(params, grads, state_1, state_2, lo, hi, h.solver,
                                   h.alpha, h.l1, scale, one, h.lr, lr_t, h.momentum,
                                   h.nesterov, h.beta_1, h.beta_2, h.beta_1c, h.beta_2c,
                                   h.epsilon, zero)
        if not (sq < math.inf and ab < math.inf):  # as optimizer_step
            sq, ab = square_and_abs_sums(params, lo, hi)
        sumsq += sq
        sumabs += ab
        layer_sq[l - 1] += gsq
    if part == 0:
        for l in range(1, nl + 1):
            m = net[UNITS, l]
            g = layer_view(deltas, buf[D_OFF, l], nb, m)
            bias_gradient(g, grads[net[B_OFF, l - 1]:net[B_OFF, l - 1] + m])
        update_range(params, grads, state_1, state_2, h.n_weights, params.shape[0],
                     h.solver, zero, zero, scale, one, h.lr, lr_t, h.momentum, h.nesterov,
                     h.beta_1, h.beta_2, h.beta_1c, h.beta_2c, h.epsilon, zero)
    return sumsq, sumabs


@entry_kernel
def train_epoch_split(inputs, targets, tables, work, solver, hyper, perm, batch_size, t,
                      loss_sum, layer_sq, first_sq, split):
    """One part of an epoch whose steps are split between ``split.n_parts``
    threads; each thread calls it at once with its own ``split.part``.

    Parameters
    ----------
    inputs, targets, tables, solver, hyper, perm, batch_size, t
        As in :func:`fastbp.kernels.network.train_epoch`, and the same for
        every part (dense input only).
    work : Work
        Shared by the parts, except ``alive``: each part tracks dead units
        in an array of its own (the caller merges them).
    loss_sum : float
        This part's running sum (0 at an epoch's start).
    layer_sq, first_sq : ndarray of shape (n_layers - 1,)
        This part's own, as in ``train_epoch``: each holds the squared
        norms of the part's blocks of the weight gradients (their sum over
        the parts is the whole).
    split : Split
        The part, and the barrier counters (zeroed by the caller before
        every call).

    Returns
    -------
    loss_sum : float
        ``loss_sum`` plus this part's share of the epoch's loss sum (its
        rows' losses and its blocks' penalties, per batch as in
        ``train_epoch``): the parts' sums add up to ``train_epoch``'s.
    t : int
        Updates done after this call.
    completed : bool
        False if the call stopped early because the driver raised the
        barrier's abort flag.
    """
    X = inputs.X
    Y, sw, has_sw = targets
    net, buf, drops, norm = tables
    params, state_1, state_2 = solver
    acts, masks, deltas, stats = work.acts, work.masks, work.deltas, work.stats
    running, alive, rng, grads = work.running, work.alive, work.rng, work.grads
    y_buf, sw_buf = work.y_buf, work.sw_buf
    part, n_parts, pbuf, sync = split
    h = hyper
    n = perm.shape[0]
    n_out = Y.shape[1]
    nl = net.shape[1] - 1
    n_features = net[UNITS, 0]
    dt = params.dtype.type
    one = dt(1)
    total = float(loss_sum)
    passed = 0
    completed = True
    mxcsr = flush_denormals()  # as in train_epoch
    for start in range(0, n, batch_size):
        stop = start + batch_size
        stop = n if n < stop else stop
        nb = stop - start
        r0 = nb * part // n_parts
        r1 = nb * (part + 1) // n_parts
        mine = r1 - r0
        batch = perm[start:stop]
        rows = batch[r0:r1]
        # The weight sum of the whole batch, which scales every part's update.
        sw_sum = 0.0
        if has_sw:
            for r in range(nb):
                sw_sum += sw[batch[r]]
        else:
            sw_sum = float(nb)
        if sw_sum == 0:
            continue  # no gradient (as in train_epoch), for every part alike
        part_rows(buf, net[UNITS], r0, pbuf)
        # This part's rows of the next batch, prefetched (see train_epoch).
        after = stop + batch_size
        n_next = (n if n < after else after) - stop
        upcoming = perm[stop + n_next * part // n_parts:stop + n_next * (part + 1) // n_parts]
        x0 = layer_view(acts, pbuf[O_OFF, 0], mine, n_features)
        gather_rows(X, rows, x0, upcoming)
        yb = layer_view(y_buf, r0 * n_out, mine, n_out)
        gather_rows(Y, rows, yb, upcoming)
        swb = sw_buf[r0:r1]
        if has_sw:
            for r in range(mine):
                swb[r] = sw[rows[r]]
        forward_hidden(x0, inputs.data, inputs.indices, inputs.indptr, inputs.is_sparse,
                       rows, mine, params, net, pbuf, drops, norm, acts, masks, stats,
                       running, alive, rng, flag(True), h.bn_momentum, h.norm_eps)
        out = layer_view(acts, pbuf[O_OFF, nl], mine, n_out)
        linear(nl, x0, inputs.data, inputs.indices, inputs.indptr, inputs.is_sparse, rows,
               mine, params, net, pbuf, acts, out)
        part_loss = output_loss_delta(
            out, params[net[B_OFF, nl - 1]:net[B_OFF, nl - 1] + n_out], yb, swb, has_sw,
            h.out_code, h.prob_lo, h.prob_hi, layer_view(deltas, pbuf[D_OFF, nl], mine,
                                                           n_out))
        backward_rows(mine, params, net, pbuf, acts, deltas)
        passed += 1
        if not barrier(sync, part, n_parts, passed):
            completed = False
            break
        t += 1
        lr_t = h.lr
        if h.solver == ADAM:
            lr_t = adam_step_size(h.lr, h.beta_1c, h.beta_2c, t)
        sumsq, sumabs = update_block(nb, part, n_parts,
                                     layer_view(acts, buf[O_OFF, 0], nb, n_features),
                                     params, grads, state_1, state_2, net, buf, acts, deltas,
                                     h, one / dt(sw_sum), lr_t, layer_sq)
        passed += 1
        if not barrier(sync, part, n_parts, passed):
            completed = False
            break
        if t == 1:
            for l in range(first_sq.shape[0]):
                first_sq[l] = layer_sq[l]
        part_loss = add_penalty(part_loss, h.alpha, h.l1, sumsq, sumabs)
        total += part_loss / sw_sum * nb
    restore_denormals(mxcsr)
    return total, t, completed
