"""gpu_check's rows rebuild their launches in the mode they name, the
interleaved benches time the report's turns, and every script prints the
environment header. Smoke-sized, no timings; added after review 290 (fix-297)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import bench_epoch, epochs, report, workloads

ROOT = Path(__file__).resolve().parents[1]

# (1) gpu_check's "plain launches" row times launches built in plain mode,
# and its "took" column names the paths of the launches the row ran. Under
# numba-cuda's simulator, which must be set before numba is imported: a
# process of its own.

_SIMULATED_STEPS = textwrap.dedent("""
    import numpy as np
    from bench import gpu_check
    from fastbp.kernels.cuda import launch

    original_init = launch.Launch.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.built_in = launch.MODE

    launch.Launch.__init__ = init
    calls = []
    original_call = gpu_check.driver_call

    def driver_call(*args, **kwargs):
        call, t = original_call(*args, **kwargs)
        calls.append(call)
        return call, t

    original_epoch = gpu_check.time_driver_epoch

    def time_driver_epoch(call, t, perm):
        out = original_epoch(call, t, perm)
        kept = call.arguments["tables"].launches.values()
        built = sorted({getattr(k, "built_in", "the fit") for k in kept})
        print("EPOCH", launch.MODE, ",".join(built), len(kept))
        return out

    gpu_check.driver_call = driver_call
    gpu_check.time_driver_epoch = time_driver_epoch
    cfg = dict(gpu_check.SMOKE, batches=(64,))  # one step per epoch
    rng = np.random.default_rng(0)
    X = rng.standard_normal((cfg["n_samples"], cfg["n_features"])).astype(np.float32)
    y = np.arange(cfg["n_samples"]) % cfg["n_classes"]
    gpu_check.measure_steps(X, y, cfg, gpu_check.parse_args(["--smoke", "--epochs", "1"]), {})
""")


def test_gpu_check_rows_rebuild_their_launches_in_their_mode():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", _SIMULATED_STEPS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    epochs_run = [line.split()[1:] for line in out.splitlines() if line.startswith("EPOCH")]
    # A warm-up and one timed epoch per mode; the fit's kept launches (built
    # before either mode was set) must serve neither.
    assert [e[0] for e in epochs_run] == ["marshalled"] * 2 + ["plain"] * 2, out
    for mode, built, count in epochs_run:
        assert built == mode and int(count) > 0, out
    # The simulator has no marshalled path: its launches run plain, and the
    # took column says so rather than nothing.
    assert "| 64 | marshalled (took plain) | 1 |" in out, out
    assert "| 64 | plain | 1 |" in out, out
    assert "(took )" not in out, out


# (2) The interleaved pytest bench times the report's turns, not one cold
# epoch per turn, and records the turn.

class _Benchmark:
    def __init__(self):
        self.extra_info = {}
        self.group = None

    def pedantic(self, fn, args=(), kwargs=None, setup=None, rounds=1, iterations=1,
                 warmup_rounds=0):
        for _ in range(warmup_rounds + rounds * iterations):
            if setup is not None:
                setup()
            result = fn(*args, **(kwargs or {}))
        return result


CASE = workloads.EpochCase(workloads.tabular(300), batch_size=64, dtype="float64", threads=1)


def test_interleaved_bench_times_the_reports_turns(monkeypatch):
    seen = {}

    def measure_case(case, **kwargs):
        seen.update(kwargs)
        systems = {s: {"median_ms": 1.0, "gflops": 1.0, "share_of_peak": 0.1}
                   for s in kwargs["systems"]}
        return {"systems": systems, "gemm_peak": {"peak_gflops": 10.0}, "ratios": {},
                "skipped": {}, "isolation": {}}

    monkeypatch.setattr(epochs, "measure_case", measure_case)
    monkeypatch.setattr(bench_epoch, "_available", lambda config: ["fastbp", "sklearn"])
    benchmark = _Benchmark()
    grid = SimpleNamespace(rounds=2, warmup=1)
    bench_epoch.test_epoch_interleaved(benchmark, grid, CASE, lambda *reasons: None,
                                       "the pool", SimpleNamespace(config=None))
    assert report.DEFAULT_TURN_MS > 0
    assert seen["turn_s"] == report.DEFAULT_TURN_MS / 1e3
    assert (seen["rounds"], seen["warmup"], seen["pool"]) == (2, 1, "the pool")
    assert benchmark.extra_info["turn_s"] == seen["turn_s"]


def test_per_system_bench_times_one_epoch_per_round(monkeypatch):
    # Its worker is shared with the case's interleaved bench, which sets turns.
    worker = SimpleNamespace(label="fastbp", info={"n_samples": 300}, turn_s=0.05,
                             collect=lambda: None, state=lambda: {})
    worker.epoch = lambda collect=True: worker.turn_s
    group = SimpleNamespace(worker=lambda system: worker, quiesce=lambda: None)
    pool = SimpleNamespace(for_case=lambda case, systems: group)
    monkeypatch.setattr(bench_epoch, "_available", lambda config: ["fastbp"])
    monkeypatch.setattr(epochs, "check_trained", lambda *args: None)
    benchmark = _Benchmark()
    grid = SimpleNamespace(rounds=2, warmup=0)
    bench_epoch.test_epoch(benchmark, grid, CASE, "fastbp", lambda *reasons: None, pool,
                           SimpleNamespace(config=None))
    assert benchmark.extra_info["worker_epoch_s"] == [0.0, 0.0]
    assert benchmark.extra_info["turn_s"] == 0.0


# (3) Every script whose figures the README quotes prints the machine,
# versions and commit.

def _header_lines():
    return f"git {report._git_head()} · ", "load average (1/5/15 min) at start"


@pytest.mark.parametrize("module, argv, figures", [
    ("subnormals", ["--number", "1"], "Adam update"),
    ("small_products", ["--reps", "1"], "batch "),
    ("split", ["--workloads", "tabular", "--epochs", "1", "--rounds", "1", "--rows", "200",
               "--cases", "8/32"], "workload"),
])
def test_scripts_print_the_environment_header(module, argv, figures, capsys):
    import importlib

    main = importlib.import_module(f"bench.{module}").main
    assert main(argv) == 0
    out = capsys.readouterr().out
    for line in _header_lines():
        assert line in out, out
    assert out.index("load average") < out.index(figures), out


def test_toolkit_compile_prints_the_environment_header(monkeypatch, capsys):
    # Its smallest run compiles every training path cold (minutes): the
    # measurement is replaced, the header is printed before it.
    from bench import toolkit_compile

    n = len(toolkit_compile.CONFIGS)
    monkeypatch.setattr(toolkit_compile, "measure", lambda dtype, cache_dir: dict(
        seconds=[0.0] * n, predict_s=[0.0] * n, import_s=0.0))
    assert toolkit_compile.main(["--dtypes", "float32"]) == 0
    out = capsys.readouterr().out
    for line in _header_lines():
        assert line in out, out
    assert "float32 every path" in out


def test_search_profile_prints_the_environment_header(monkeypatch, capsys):
    # Each section runs a script in a child process (the smallest, 'peak',
    # still times the GEMM peak): replaced, the header comes first.
    from bench import search_profile

    monkeypatch.setattr(search_profile, "run", lambda code, env=None: "SECTION RAN")
    assert search_profile.main(["--sections", "peak"]) == 0
    out = capsys.readouterr().out
    for line in _header_lines():
        assert line in out, out
    assert out.index("load average") < out.index("SECTION RAN")


def test_gpu_check_versions_name_the_commit_and_cpu(capsys):
    from bench import gpu_check
    from fastbp.machine import cpu_model

    gpu_check.report_versions(gpu_check.parse_args(["--smoke", "--no-torch"]), {})
    out = capsys.readouterr().out
    assert f"git           {report._git_head()}\n" in out, out
    assert f"cpu           {cpu_model()} ({os.cpu_count()} cores)\n" in out, out


# (4) search_profile refuses a section it does not know, naming it.

@pytest.mark.parametrize("value, message", [
    ("bogus", "unknown section(s) 'bogus' (choose from compile, worker, threads, refit, peak)"),
    ("peak,bogus", "unknown section(s) 'bogus'"),
    (",", "no section named"),
])
def test_search_profile_refuses_unknown_sections(value, message, monkeypatch, capsys):
    from bench import search_profile

    ran = []
    monkeypatch.setattr(search_profile, "run", lambda code, env=None: ran.append(code) or "")
    with pytest.raises(SystemExit) as exc:
        search_profile.main(["--sections", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert ran == []


# (5) partial_fit says when its PyTorch row is left out.

def test_partial_fit_says_the_torch_row_is_skipped(monkeypatch, capsys):
    from bench import partial_fit, threads

    monkeypatch.setattr(threads, "torch_available", lambda: False)
    assert partial_fit.main(["--calls", "5", "--rounds", "1", "--warm", "0"]) == 0
    out = capsys.readouterr().out
    assert "  PyTorch step: skipped (PyTorch is not installed)\n" in out, out
    assert "PyTorch's eager step" not in out
