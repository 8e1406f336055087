"""Per-epoch fit time: fastbp vs scikit-learn vs PyTorch CPU.

Two benches per grid case (see ``bench.workloads`` for the grids):

* ``test_epoch[case-system]`` -- pytest-benchmark times one system's
  ``partial_fit`` epochs after warm-up rounds (compilation excluded); the
  systems of a case share a benchmark group, for ``--benchmark-compare``
  across commits.
* ``test_epoch_interleaved[case]`` -- the fair comparison: all systems'
  epochs interleaved round by round (``bench.timing``), plus the GEMM peak at
  the same thread count, GFLOP/s, share of peak and ratios, recorded in
  ``extra_info``. ``python -m bench.report`` prints the same measurement.

Measure only: nothing here asserts on a time.
"""

from __future__ import annotations

from bench import epochs, peers, threads, workloads
from bench.flops import epoch_flops
from bench.threads import limit_threads


def test_epoch(benchmark, bench_grid, epoch_case, system, skip_if):
    case = epoch_case
    skip_if(peers.unavailable_reason(system), threads.unavailable_reason(case.threads),
            workloads.unavailable_reason(case.workload))
    data = workloads.load(case.workload, case.dtype)
    spec = peers.TrainSpec(case.workload.hidden, case.batch_size)
    benchmark.group = f"epoch {case.id}"
    benchmark.extra_info.update(case=case.id, system=system,
                                epoch_flops=epoch_flops(data.X_train.shape[0], case.workload.sizes)["total"])
    with limit_threads(case.threads, torch=system.startswith("torch")):
        runner = peers.make_runner(system, spec).prepare(data.X_train, data.y_train, data.classes)
        benchmark.extra_info["label"] = runner.label
        benchmark.pedantic(runner.epoch, rounds=bench_grid.rounds,
                           warmup_rounds=bench_grid.warmup, iterations=1)


def test_epoch_interleaved(benchmark, bench_grid, epoch_case, skip_if):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads), workloads.unavailable_reason(case.workload))
    available = [s for s in peers.SYSTEMS if not peers.unavailable_reason(s)]
    if len(available) < 2:
        skip_if("fewer than two systems available to compare")
    benchmark.group = f"interleaved {case.id}"
    result = benchmark.pedantic(epochs.measure_case, args=(case,),
                                kwargs=dict(systems=available, rounds=bench_grid.rounds,
                                            warmup=bench_grid.warmup),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(
        case=case.id,
        median_ms={s: r["median_ms"] for s, r in result["systems"].items()},
        gflops={s: r["gflops"] for s, r in result["systems"].items()},
        share_of_peak={s: r["share_of_peak"] for s, r in result["systems"].items()},
        gemm_peak_gflops=result["gemm_peak"]["peak_gflops"],
        ratios=result["ratios"], skipped=result["skipped"],
    )
