"""One cell of the per-epoch grid, measured completely in one run.

:func:`measure_case` starts one worker process per available system
(:mod:`bench.worker`) at the case's thread count, each loading the case's
training data itself (same workload, subset and dtype) and building its
runner with the same :class:`~bench.peers.TrainSpec`; it then times interleaved epochs, one
worker at a time (:func:`bench.timing.interleaved_epochs`, each epoch timed
inside its worker), measures the GEMM peak on the case's own shapes at that
thread count in a worker of its own, and derives GFLOP/s, share of peak and
speed ratios. The pytest benches and ``bench.report`` both call it.
"""

from __future__ import annotations

import statistics

from . import peers, workloads
from .flops import epoch_flops, layer_sizes
from .timing import interleaved_epochs, round_ratios
from .worker import WorkerError, WorkerPool
from .workloads import EpochCase


def case_info(case: EpochCase, data: workloads.Dataset, sizes: list[int]) -> dict:
    return {"id": case.id, "workload": case.workload.name, "label": case.workload.label,
            "hidden": list(case.workload.hidden), "n_samples": int(data.X_train.shape[0]),
            "n_features": data.n_features, "n_classes": data.n_classes, "sizes": sizes,
            "batch_size": case.batch_size, "dtype": case.dtype, "threads": case.threads}


def paired_ratios(epoch_s: dict[str, list[float]]) -> tuple[dict, dict]:
    """Each pair of systems' per-round time ratios, and their medians.

    ``rounds[a][b][i] = epoch_s[b][i] / epoch_s[a][i]``: how many times
    faster ``a`` was than ``b`` in round ``i``, whose epochs are adjacent in
    time (:func:`bench.timing.round_ratios`). ``ratios[a][b]`` is the median
    of the round ratios.
    """
    pairs = {a: {b: round_ratios(epoch_s[b], epoch_s[a]) for b in epoch_s if b != a}
             for a in epoch_s}
    ratios = {a: {b: median for b, (median, _) in per.items()} for a, per in pairs.items()}
    rounds = {a: {b: each for b, (_, each) in per.items()} for a, per in pairs.items()}
    return ratios, rounds


def check_trained(system: str, state: dict, n_samples: int) -> None:
    """Raise unless ``system``'s worker trained on every row in every epoch
    (but at most one, which batch norm leaves out of a one-row last batch).

    ``state`` is the worker's :meth:`~bench.worker.Worker.state`: its
    ``epochs`` since the setup and the ``samples`` its runner counted
    (:mod:`bench.peers`). rev-256: a PyTorch loop that stepped over no
    batch was timed and published as a 0.09x ratio at 54% of peak, exit 0.
    """
    epochs, samples = state.get("epochs"), state.get("samples")
    expected = None if epochs is None else epochs * n_samples
    # Up to a row an epoch fewer: fastbp's batch norm sits out a last
    # batch of one row (rev-270: an exact count refused such a fit).
    if samples is None or not expected - epochs <= samples <= expected:
        raise RuntimeError(
            f"{system}: its runner trained {samples} samples in {epochs} epochs, where "
            f"{epochs} epochs of {n_samples} rows are {expected}; its epoch times are not "
            "of training, so they are not reported")


def measure_case(case: EpochCase, systems=None, rounds: int = 3, warmup: int = 1,
                 standin: bool | None = None, with_peak: bool = True,
                 tolerate_failures: bool = False, pool: WorkerPool | None = None,
                 turn_s: float = 0.0) -> dict:
    """Measure ``case`` (see module doc).

    ``systems`` defaults to :func:`bench.peers.default_systems` (the GPU
    system only where a GPU is usable).

    ``turn_s`` > 0 makes each timed value a turn's: a first epoch, then
    back-to-back epochs for at least ``turn_s`` seconds, timed as their
    mean without the first (``bench.worker``'s ``epoch`` command).

    ``tolerate_failures`` (used by the report) turns a system whose worker
    fails to start or raises in its warm-up epoch into a ``skipped`` entry
    instead of an error. A system whose worker did not train on every row
    in every epoch is refused whatever ``tolerate_failures`` says
    (:func:`check_trained` raises). ``pool`` lends the workers of a longer-lived
    :class:`~bench.worker.WorkerPool` (the pytest session's, shared by the
    benches); without it fresh workers live for this call only.
    """
    from . import subject

    warmup = max(warmup, 1)  # the first epoch (init, compilation) is never timed
    standin = subject.standin_requested() if standin is None else bool(standin)
    if systems is None:
        systems = peers.default_systems(standin)
    data = workloads.load(case.workload, case.dtype)
    sizes = layer_sizes(data.n_features, case.workload.hidden, data.n_classes)
    n = data.X_train.shape[0]
    flops = epoch_flops(n, sizes)
    info = case_info(case, data, sizes)

    skipped = {s: r for s in systems if (r := peers.unavailable_reason(s, standin))}
    active = [s for s in systems if s not in skipped]
    failed: dict[str, str] = {}
    own_pool = pool is None
    pool = WorkerPool() if own_pool else pool
    try:
        n_settle = len(pool.settle_s)
        group = pool.for_case(case, active, standin, peak=with_peak)
        for s in active:
            if s in group.failed:
                if not tolerate_failures:
                    raise WorkerError(group.failed[s])
                failed[s] = group.failed[s]
        runners = {s: group.worker(s) for s in active if s not in failed}
        for runner in runners.values():
            runner.turn_s = turn_s
        times = interleaved_epochs(runners, rounds=rounds, warmup=warmup,
                                   failed=failed if tolerate_failures else None,
                                   before_epoch=group.quiesce)
        skipped.update(failed)
        active = [s for s in active if s not in failed]
        states = {s: runners[s].state() for s in active}
        for s in active:
            check_trained(s, states[s], n)
        peak = group.gemm_peak(n, case.batch_size, sizes, case.dtype) if with_peak else None
        settle = pool.settle_s[n_settle:]
    finally:
        if own_pool:
            pool.close()

    results = {}
    for s in active:
        t, w = times[s], runners[s]
        gflops = flops["total"] / t.median_s / 1e9
        first = states[s]["first_epoch_s"]
        results[s] = {
            "label": w.label,
            "median_ms": t.median_s * 1e3, "min_ms": t.min_s * 1e3,
            # the worker's very first epoch (initialisation, compilation)
            "first_epoch_ms": first * 1e3 if first is not None else None,
            "gflops": gflops,
            "share_of_peak": gflops / peak["peak_gflops"] if peak else None,
            "times": t.as_dict(),
            "worker": {"pid": w.pid, "epochs_run": states[s]["epochs"],
                       "samples_trained": states[s]["samples"],
                       "threads": states[s]["threads"]},
        }
    ratios, per_round = paired_ratios({s: times[s].epoch_s for s in active})
    isolation = {"mode": "one worker process per system (bench.worker)",
                 "settle_ms_median": statistics.median(settle) * 1e3 if settle else None,
                 "settle_ms_max": max(settle) * 1e3 if settle else None}
    return {"case": info, "flops": flops, "gemm_peak": peak,
            "rounds": rounds, "warmup": warmup, "turn_s": turn_s, "systems": results,
            "ratios": ratios, "round_ratios": per_round,
            "skipped": skipped, "isolation": isolation}
