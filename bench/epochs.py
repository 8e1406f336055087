"""One cell of the per-epoch grid, measured completely in one run.

:func:`measure_case` loads the workload, prepares every available system on
the same data with the same :class:`~bench.peers.TrainSpec`, times
interleaved epochs at the case's thread count, measures the GEMM peak on the
case's own shapes at that thread count, and derives GFLOP/s, share of peak
and speed ratios. The pytest benches and ``bench.report`` both call it.
"""

from __future__ import annotations

from . import gemm_peak, peers, workloads
from .flops import epoch_flops, layer_sizes
from .threads import limit_threads
from .timing import interleaved_epochs
from .workloads import EpochCase


def case_info(case: EpochCase, data: workloads.Dataset, sizes: list[int]) -> dict:
    return {"id": case.id, "workload": case.workload.name, "label": case.workload.label,
            "hidden": list(case.workload.hidden), "n_samples": int(data.X_train.shape[0]),
            "n_features": data.n_features, "n_classes": data.n_classes, "sizes": sizes,
            "batch_size": case.batch_size, "dtype": case.dtype, "threads": case.threads}


def measure_case(case: EpochCase, systems=peers.SYSTEMS, rounds: int = 3, warmup: int = 1,
                 standin: bool | None = None, with_peak: bool = True,
                 tolerate_failures: bool = False) -> dict:
    """Measure ``case`` (see module doc).

    ``tolerate_failures`` (used by the report) turns a system that raises in
    its warm-up epoch into a ``skipped`` entry instead of an error.
    """
    warmup = max(warmup, 1)  # the first epoch (init, compilation) is never timed
    data = workloads.load(case.workload, case.dtype)
    sizes = layer_sizes(data.n_features, case.workload.hidden, data.n_classes)
    n = data.X_train.shape[0]
    flops = epoch_flops(n, sizes)
    spec = peers.TrainSpec(case.workload.hidden, case.batch_size)

    skipped = {s: r for s in systems if (r := peers.unavailable_reason(s, standin))}
    active = [s for s in systems if s not in skipped]
    failed: dict[str, str] = {}
    with limit_threads(case.threads, torch=any(s.startswith("torch") for s in active)):
        runners = {s: peers.make_runner(s, spec, standin).prepare(data.X_train, data.y_train,
                                                                  data.classes)
                   for s in active}
        times = interleaved_epochs(runners, rounds=rounds, warmup=warmup,
                                   failed=failed if tolerate_failures else None)
    skipped.update(failed)
    active = [s for s in active if s not in failed]
    peak = gemm_peak.measure(n, case.batch_size, sizes, case.dtype, case.threads) if with_peak else None

    results = {}
    for s in active:
        t = times[s]
        gflops = flops["total"] / t.median_s / 1e9
        results[s] = {
            "label": runners[s].label,
            "median_ms": t.median_s * 1e3, "min_ms": t.min_s * 1e3,
            "first_epoch_ms": t.warmup_s[0] * 1e3 if t.warmup_s else None,
            "gflops": gflops,
            "share_of_peak": gflops / peak["peak_gflops"] if peak else None,
            "times": t.as_dict(),
        }
    # ratios[a][b] = time(b) / time(a): how many times faster a is than b.
    ratios = {a: {b: results[b]["median_ms"] / results[a]["median_ms"]
                  for b in active if b != a} for a in active}
    return {"case": case_info(case, data, sizes), "flops": flops, "gemm_peak": peak,
            "rounds": rounds, "warmup": warmup, "systems": results, "ratios": ratios,
            "skipped": skipped}
