"""Per-epoch fit time: fastbp vs scikit-learn vs PyTorch CPU.

Two benches per grid case (see ``bench.workloads`` for the grids), both
running every system in its own worker process (``bench.worker``: one
process per system, started with the case's thread count; the other
systems' processes idle, their thread pools asleep, while one runs):

* ``test_epoch[case-system]`` -- pytest-benchmark times one system's
  ``partial_fit`` epochs after warm-up rounds (compilation excluded); each
  round is one "run an epoch" request to the system's worker (the pipe round
  trip, ~0.1 ms, is inside the timing; the worker's own per-epoch times are
  in ``extra_info["worker_epoch_s"]``); the systems of a case share a
  benchmark group, for ``--benchmark-compare`` across commits.
* ``test_epoch_interleaved[case]`` -- the fair comparison: all systems'
  turns interleaved round by round (``bench.timing``), each turn
  ``bench.report``'s default (:data:`TURN_S`: a first epoch, then warm
  epochs for 50 ms, timed as their mean), plus the GEMM peak at the same
  thread count, GFLOP/s, share of peak and ratios, recorded in
  ``extra_info``. ``python -m bench.report`` prints the same measurement.

The ``epoch_workers`` fixture (conftest) keeps one case's workers alive
across both benches of that case (conftest orders the items case by case),
so each case starts its processes once.

Measure only: nothing here asserts on a time.
"""

from __future__ import annotations

from bench import epochs, peers, report, threads, workloads
from bench.conftest import systems_for
from bench.flops import epoch_flops

#: Seconds of warm epochs per turn of the interleaved bench: the report's
#: (and the README's tables') method. rev-290: these benches timed one cold
#: epoch per turn (tabular b32 float32: 16.2x where 50 ms turns give 28.9x).
TURN_S = report.DEFAULT_TURN_MS / 1e3


def _available(config) -> list[str]:
    # The PyTorch systems only where -m selects them (conftest.torch_selected).
    return systems_for(config, [s for s in peers.default_systems()
                                if not peers.unavailable_reason(s)])


def test_epoch(benchmark, bench_grid, epoch_case, system, skip_if, epoch_workers, request):
    case = epoch_case
    skip_if(peers.unavailable_reason(system), threads.unavailable_reason(case.threads),
            workloads.unavailable_reason(case.workload))
    group = epoch_workers.for_case(case, _available(request.config))
    worker = group.worker(system)  # raises the worker's error if it failed to start
    # pytest-benchmark times each round's whole request, so a round stays one
    # epoch; set here because the interleaved bench of the case gives the
    # same worker its turns.
    worker.turn_s = 0.0
    benchmark.group = f"epoch {case.id}"
    benchmark.extra_info.update(case=case.id, system=system, label=worker.label,
                                turn_s=worker.turn_s,
                                epoch_flops=epoch_flops(worker.info["n_samples"],
                                                        case.workload.sizes)["total"])
    worker_s: list[float] = []

    def settle():  # untimed, before every round: gc in the worker, all pools asleep
        worker.collect()
        group.quiesce()

    benchmark.pedantic(lambda: worker_s.append(worker.epoch(collect=False)), setup=settle,
                       rounds=bench_grid.rounds, warmup_rounds=bench_grid.warmup, iterations=1)
    benchmark.extra_info["worker_epoch_s"] = worker_s
    # Not a timing: an epoch that trained nothing would time nothing (rev-256).
    epochs.check_trained(system, worker.state(), worker.info["n_samples"])


def test_epoch_interleaved(benchmark, bench_grid, epoch_case, skip_if, epoch_workers, request):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads), workloads.unavailable_reason(case.workload))
    available = _available(request.config)
    if len(available) < 2:
        skip_if("fewer than two systems available to compare")
    benchmark.group = f"interleaved {case.id}"
    kwargs = interleaved_kwargs(available, bench_grid, epoch_workers)
    result = benchmark.pedantic(epochs.measure_case, args=(case,), kwargs=kwargs,
                                rounds=1, iterations=1)
    benchmark.extra_info.update(
        case=case.id,
        turn_s=kwargs["turn_s"],
        median_ms={s: r["median_ms"] for s, r in result["systems"].items()},
        gflops={s: r["gflops"] for s, r in result["systems"].items()},
        share_of_peak={s: r["share_of_peak"] for s, r in result["systems"].items()},
        gemm_peak_gflops=result["gemm_peak"]["peak_gflops"],
        ratios=result["ratios"], skipped=result["skipped"], isolation=result["isolation"],
    )


def interleaved_kwargs(systems, grid, pool) -> dict:
    """Keyword arguments of :func:`bench.epochs.measure_case` for
    ``test_epoch_interleaved``: ``grid``'s rounds, the case's workers from
    ``pool``, and turns of :data:`TURN_S`."""
    return dict(systems=systems, rounds=grid.rounds, warmup=grid.warmup, pool=pool,
                turn_s=TURN_S)
