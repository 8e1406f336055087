"""Run every measurement and print one markdown report; save it as JSON.

    python -m bench.report            # quick grid (default)
    python -m bench.report --full     # the full grid of the README's tables (tens of minutes)
    python -m bench.report --smoke    # CI-sized, a few minutes
    python bench/report.py --quick --systems fastbp,sklearn --skip compile,memory

MNIST is read from ``FASTBP_DATA_DIR``; MNIST rows are skipped (with the
reason in the report) when it is not set. ``--standin`` (or
``FASTBP_BENCH_STANDIN=sklearn``) benchmarks scikit-learn in fastbp's place,
to check the harness. Results go to ``bench/results/`` (gitignored) as
``report-<mode>-<timestamp>.json`` plus the printed markdown (``.md``).

Each timed value is a turn's: a first epoch, then back-to-back epochs for
at least ``--turn-ms`` (50) ms, timed as their mean without the first.
Ratios are ``time(peer) / time(fastbp)`` from the same interleaved run:
above 1 means fastbp is faster. Every system runs in its own worker process
(``bench.worker``), fresh for each case, so no library's thread pool runs
beside another's. GFLOP/s count GEMM FLOPs only
(``bench.flops``); share of peak is against numpy's best GEMM GFLOP/s on the
case's own shapes at the same thread count (``bench.gemm_peak``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/report.py
    _root = str(Path(__file__).resolve().parents[1])
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path[0] = _root  # the bench/ folder itself must not shadow anything
    else:
        sys.path.insert(0, _root)

from bench import accuracy, compile_time, epochs, memory, peers, subject, threads, workloads  # noqa: E402
from fastbp.machine import cpu_model  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECTIONS = ("epochs", "compile", "memory", "accuracy")
WORKLOADS = ("tabular", "mnist")
DTYPES = ("float32", "float64")
#: ``--turn-ms``: the README's method (its "Training epochs" tables) in
#: every mode; rev-256: the default was 0, the cold single epoch the README
#: had dropped (tabular b32 float32: 16.2x against 28.9x with 50 ms).
DEFAULT_TURN_MS = 50.0
SHORT = {"fastbp": "fastbp", "sklearn": "sklearn", "torch": "torch", "torch_fused": "torch fused",
         "cuda": "fastbp cuda"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="quick grid (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the full grid: every workload, batch size, dtype and thread count of the README's tables")
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="the CI smoke grid")
    ap.add_argument("--standin", action="store_true", default=None,
                    help="benchmark scikit-learn in place of fastbp (harness check)")
    ap.add_argument("--systems", type=_csv, default=None,
                    help=f"comma list from {','.join(peers.SYSTEMS)} (default: all, with "
                         "cuda only where a GPU is usable)")
    ap.add_argument("--workloads", type=_csv, default=None,
                    help=f"comma list from {','.join(WORKLOADS)}")
    ap.add_argument("--batch-sizes", type=lambda s: tuple(map(int, _csv(s))), default=None,
                    help="comma list of batch sizes (each at least 1)")
    ap.add_argument("--dtypes", type=lambda s: tuple(_csv(s)), default=None,
                    help=f"comma list from {','.join(DTYPES)}")
    ap.add_argument("--threads", type=lambda s: tuple(map(int, _csv(s))), default=None,
                    help="comma list of thread counts (the accuracy fits use the first)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed turns per system (at least 1)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed epochs per system first")
    ap.add_argument("--turn-ms", type=float, default=DEFAULT_TURN_MS,
                    help="each turn is a first epoch, then back-to-back epochs for at least "
                         "this many ms, timed as their mean, the first left out (default "
                         f"{DEFAULT_TURN_MS:g}); 0: one epoch per turn, after gc.collect() and "
                         "the other systems' turns, i.e. with cold caches (the dropped method)")
    ap.add_argument("--skip", type=_csv, default=[], help=f"sections to skip: {','.join(SECTIONS)}")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the JSON/markdown")
    args = ap.parse_args(argv)
    args.mode = args.mode or "quick"
    if args.systems is None:
        args.systems = peers.default_systems(args.standin)
    for s in args.systems:
        if s not in peers.SYSTEMS:
            ap.error(f"unknown system {s!r}")
    for s in args.skip:
        if s not in SECTIONS:
            ap.error(f"unknown section {s!r}")
    # helper-77: an unknown workload gave empty tables and exit 0, an
    # unknown dtype ran float64 under its name, --rounds 0 failed every case.
    for w in args.workloads or ():
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r} in --workloads (choose from {', '.join(WORKLOADS)})")
    for dt in args.dtypes or ():
        if dt not in DTYPES:
            ap.error(f"unknown dtype {dt!r} in --dtypes (choose from {', '.join(DTYPES)})")
    if args.rounds is not None and args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    # helper-153: --threads 0 made fastbp "not importable" and timed
    # scikit-learn under "t0"; --batch-sizes 0 failed every case with a
    # ZeroDivisionError; both exited 0.
    for name in ("threads", "batch_sizes"):
        for n in getattr(args, name) or ():
            if n < 1:
                ap.error(f"--{name.replace('_', '-')} must be at least 1 each, got {n}")
    return args


def build_grid(args) -> workloads.Grid:
    g = workloads.grid_for(args.mode)
    changes = {}
    if args.workloads:
        changes["workloads"] = tuple(w for w in g.workloads if w.name in args.workloads)
    for name in ("batch_sizes", "dtypes", "threads", "rounds", "warmup"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.threads:  # helper-77: the accuracy fits ignored --threads
        changes["accuracy"] = replace(g.accuracy, threads=args.threads[0])
    # helper-153: --dtypes and --workloads reached the epoch table only; the
    # compile section still compiled both dtypes, and memory and accuracy
    # ran MNIST float32 whatever was asked for.
    if args.dtypes:
        changes["compile_dtypes"] = tuple(dt for dt in g.compile_dtypes if dt in args.dtypes)
        for name in ("memory", "accuracy"):
            setting = changes.get(name, getattr(g, name))
            if setting.dtype not in args.dtypes:
                changes[name] = replace(setting, dtype=args.dtypes[0])
    if args.workloads:
        for name in ("memory", "accuracy"):
            if getattr(g, name).workload.name not in args.workloads:
                changes[name] = None
    return replace(g, **changes)


def _left_out(section: str, grid) -> str | None:
    """Why --dtypes or --workloads leave ``section`` nothing to measure."""
    if section == "compile" and not grid.compile_dtypes:
        return "no dtype of --dtypes is compiled in this mode (see bench/workloads.py)"
    if section in ("memory", "accuracy") and getattr(grid, section) is None:
        return "measured on MNIST only, which --workloads leaves out"
    return None


# ---------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------


def environment(standin: bool) -> dict:
    import numba
    import numpy
    import sklearn
    import threadpoolctl

    env = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(), "max_threads": threads.max_threads(),
        "numpy": numpy.__version__, "sklearn": sklearn.__version__, "numba": numba.__version__,
        "torch": None, "blas": [
            {k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"
        ],
        "standin": standin, "git": _git_head(), "loadavg_start": _loadavg(),
    }
    subj = subject.load_subject(standin)
    env["fastbp"] = subj.version if subj else subject.unavailable_reason(standin)
    if threads.torch_available():
        import torch

        env["torch"] = torch.__version__
    return env


def environment_line(env: dict, timestamp: str) -> str:
    """Date, commit, CPU and versions of :func:`environment` on one line."""
    return (f"{timestamp} · git {env['git']} · {env['cpu']} ({env['cpu_count']} cores) · "
            f"Python {env['python']} · numpy {env['numpy']} · scikit-learn {env['sklearn']} · "
            f"numba {env['numba']} · torch {env['torch'] or 'not installed'} · "
            f"fastbp: {env['fastbp']}")


def script_environment() -> dict:
    """:func:`environment` with a timestamp, for the ``python -m bench.*``
    scripts that measure fastbp itself (no stand-in).

    helper-153: bench.inference, bench.partial_fit and bench.epoch_overhead
    recorded no date, CPU, commit, versions or load, so their figures could
    not be placed.
    """
    env = environment(False)
    env["timestamp"] = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return env


def environment_header(env: dict) -> str:
    """The printed header of :func:`script_environment`: one line of
    machine and versions, one of the load averages (``loadavg_end`` once
    set)."""
    end = f", at end {env['loadavg_end']}" if "loadavg_end" in env else ""
    return (environment_line(env, env["timestamp"]) + "\n"
            f"load average (1/5/15 min) at start {env['loadavg_start']}{end}")


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


DIRTY_DIRS = ("fastbp", "bench")


def _git_head(root: Path | None = None) -> str | None:
    """The short commit of ``root`` (the repository by default), with
    ``+dirty(fastbp/, bench/)`` naming the folders that hold uncommitted
    changes."""
    try:
        root = root or Path(__file__).resolve().parents[1]
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        # helper-153: a change under bench/ changes what is measured too.
        status = subprocess.run(["git", "status", "--porcelain", "--", *DIRTY_DIRS], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout
        dirty = [d for d in DIRTY_DIRS
                 if any(line[3:].strip('"').startswith(d + "/") for line in status.splitlines())]
        return head + (f"+dirty({', '.join(d + '/' for d in dirty)})" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------


def run_epochs(grid, systems, standin, turn_s: float = 0.0) -> list[dict]:
    rows = []
    for case in grid.cases():
        reason = threads.unavailable_reason(case.threads) or workloads.unavailable_reason(case.workload)
        if reason:
            log(f"[epochs] {case.id}: skipped: {reason}")
            rows.append({"case": {"id": case.id}, "skipped_case": reason})
            continue
        t0 = time.perf_counter()
        try:
            r = epochs.measure_case(case, systems=systems, rounds=grid.rounds, warmup=grid.warmup,
                                    standin=standin, tolerate_failures=True, turn_s=turn_s)
        except Exception as exc:  # noqa: BLE001 - report the failure, keep measuring
            log(f"[epochs] {case.id}: FAILED: {type(exc).__name__}: {exc}")
            rows.append({"case": {"id": case.id}, "skipped_case": f"FAILED: {_err(exc)}"})
            continue
        summary = ", ".join(f"{s} {v['median_ms']:.1f} ms" for s, v in r["systems"].items())
        log(f"[epochs] {case.id}: {summary} ({time.perf_counter() - t0:.0f} s)")
        rows.append(r)
    return rows


def run_compile(grid, standin) -> list[dict] | dict:
    reason = _left_out("compile", grid) or subject.unavailable_reason(standin)
    if reason:
        return {"skipped": reason}
    out = []
    for dt in grid.compile_dtypes:
        try:
            r = compile_time.measure(dt, standin=standin, warm_repeats=2 if grid.mode == "full" else 1)
        except Exception as exc:  # noqa: BLE001
            log(f"[compile] {dt}: FAILED: {_err(exc)}")
            out.append({"dtype": dt, "failed": _err(exc)})
            continue
        log(f"[compile] {dt}: cold first-fit overhead {r['cold']['overhead_s']:.2f} s, "
            f"warm {r['warm']['overhead_s']:.2f} s")
        out.append(r)
    return out


def run_memory(grid, systems, standin) -> dict:
    setting = grid.memory
    reason = _left_out("memory", grid) or workloads.unavailable_reason(setting.workload)
    if reason:
        return {"skipped": reason}
    out = {"results": [], "skipped": {}}
    # Host memory only: torch_fused's equals torch's, and the GPU's is not
    # the process's RSS.
    for s in (s for s in systems if s not in ("torch_fused", "cuda")):
        reason = peers.unavailable_reason(s, standin)
        if reason:
            out["skipped"][s] = reason
            continue
        try:
            r = memory.measure(s, setting, standin=standin)
        except Exception as exc:  # noqa: BLE001
            log(f"[memory] {s}: FAILED: {_err(exc)}")
            out["skipped"][s] = f"FAILED: {_err(exc)}"
            continue
        log(f"[memory] {s}: fit peak over baseline {r['fit_bytes'] / 2**20:.0f} MiB")
        out["results"].append(r)
    return out


def run_accuracy(grid, systems, standin) -> dict:
    setting = grid.accuracy
    reason = _left_out("accuracy", grid) or workloads.unavailable_reason(setting.workload)
    if reason:
        return {"skipped": reason}
    r = accuracy.measure(setting, systems=[s for s in systems if s != "torch_fused"], standin=standin,
                         tolerate_failures=True)
    log("[accuracy] " + ", ".join(f"{s} {v['accuracy']:.4f}" for s, v in r["systems"].items()))
    return r


# ---------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------


def _err(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return " / ".join(line.strip() for line in text[-3:])[:400]


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _mib(b) -> str:
    return f"{b / 2**20:.1f}"


def _name(system: str, standin: bool) -> str:
    return subject.STANDIN_LABEL if (system == "fastbp" and standin) else SHORT[system]


def _ratio(row: dict, a: str, b: str) -> str:
    """``row``'s ratio time(b) / time(a): "median (min-max)" of its rounds,
    or the median alone in a report saved before rounds were paired."""
    text = f"{row['ratios'][a][b]:.2f}x"
    rounds = row.get("round_ratios", {}).get(a, {}).get(b)
    if rounds:
        text += f" ({min(rounds):.2f}-{max(rounds):.2f})"
    return text


def render(report: dict) -> str:
    env, standin = report["environment"], report["environment"]["standin"]
    systems = report["systems"]
    out = [f"# fastbp benchmark report ({report['mode']})", "",
           environment_line(env, report["timestamp"]),
           "", f"Load average (1/5/15 min) at start {env['loadavg_start']}, at end "
           f"{env.get('loadavg_end')}: other work on the machine shows up as noise, mostly in "
           "the multi-threaded rows. Compare systems only within one report."]
    if standin:
        out += ["", f"**Stand-in run: `{subject.STANDIN_LABEL}` is scikit-learn, not fastbp.**"]

    rows = report.get("epochs")
    if isinstance(rows, dict):
        out += ["", "## Fit time per epoch", "", f"skipped: {rows['skipped']}"]
    elif rows is not None:
        measured = [r for r in rows if "systems" in r]
        peers_present = [p for p in systems if p != "fastbp"]
        rounds, warm = report["grid"]["rounds"], max(1, report["grid"]["warmup"])
        turn_ms = report["grid"].get("turn_s", 0.0) * 1e3
        turn = (f"Each round, every system takes a turn of back-to-back `partial_fit` "
                f"epochs: a first epoch, then epochs for at least {turn_ms:g} ms (at least "
                "one); its value is the mean of the epochs after the first (a fit's epochs "
                "follow each other, while the turn's first epoch, after `gc.collect()` and "
                "the other systems' turns, starts with cold caches). " if turn_ms > 0 else
                "One epoch per round, after `gc.collect()` and the other systems' epochs (cold "
                "caches: `--turn-ms 0`; by default turns time warm epochs instead). ")
        out += ["", "## Fit time per epoch", "",
                f"Median ms/epoch over {rounds} interleaved rounds after {warm} warm-up round(s) "
                "(compilation excluded), each system in its own worker process started at the "
                "case's thread count, one process running at a time (`bench/worker.py`). "
                + turn + "`vs X` = time(X) / time(fastbp), measured in the same run: "
                ">1 means fastbp is faster; the median of the rounds' ratios (each round's "
                "epochs are adjacent in time), with their range in brackets.", ""]
        # The GPU is fastbp too: its column says how much faster it is than
        # fastbp on the CPU, rather than how much slower it is than fastbp.
        cpu_peers = [p for p in peers_present if p not in peers.GPU_SYSTEMS]
        gpu = [p for p in peers_present if p in peers.GPU_SYSTEMS and "fastbp" in systems]
        header = ["case", "n"] + [f"{_name(s, standin)} ms" for s in systems] \
            + [f"vs {SHORT[p]}" for p in cpu_peers if "fastbp" in systems] \
            + [f"{SHORT[p]} speed-up" for p in gpu]
        if gpu:  # out[-2] is the paragraph above, out[-1] the blank line after it
            out[-2] += (" `fastbp cuda speed-up` = time(fastbp) / time(fastbp cuda), the same "
                        "run: fastbp's GPU over its CPU. Each GPU `partial_fit` copies the data "
                        "to the GPU and the model back, so it understates a `fit` epoch's "
                        "speed-up (`bench/gpu_check.py` times those).")
        body = []
        for r in rows:
            if "systems" not in r:
                body.append([r["case"]["id"], None] + ["skipped"] * (len(header) - 2))
                continue
            res = r["systems"]
            line = [r["case"]["id"], r["case"]["n_samples"]]
            line += [f"{res[s]['median_ms']:.1f}" if s in res else "n/a" for s in systems]
            if "fastbp" in systems:
                fr = r["ratios"].get("fastbp", {})
                line += [_ratio(r, "fastbp", p) if p in fr else "n/a" for p in cpu_peers]
                line += [_ratio(r, p, "fastbp") if p in fr else "n/a" for p in gpu]
            body.append(line)
        out.append(_table(header, body))

        out += ["", "## Throughput vs GEMM peak", "",
                "GEMM GFLOP/s = exact GEMM FLOPs per epoch / median epoch time. Peak = the best "
                "GFLOP/s of NumPy's BLAS, called from compiled code as fastbp's kernels call it, "
                "over the case's own forward/backward GEMM shapes, same threads, same run, "
                "in a worker process of its own; "
                "floor = one epoch of those GEMMs alone at the best per-shape speed.", ""]
        header = ["case", "GFLOP/epoch", "peak GFLOP/s", "GEMM floor ms"] \
            + [f"{_name(s, standin)} GFLOP/s (% peak)" for s in systems]
        body = []
        for r in measured:
            res, peak = r["systems"], r["gemm_peak"]
            line = [r["case"]["id"], f"{r['flops']['total'] / 1e9:.3f}", f"{peak['peak_gflops']:.1f}",
                    f"{peak['floor_s'] * 1e3:.1f}"]
            # The peak is the CPU's: a GPU's share of it would mean nothing.
            line += ["n/a" if s not in res else f"{res[s]['gflops']:.2f} (GPU)"
                     if s in peers.GPU_SYSTEMS else
                     f"{res[s]['gflops']:.2f} ({100 * res[s]['share_of_peak']:.0f}%)"
                     for s in systems]
            body.append(line)
        out.append(_table(header, body))
        skipped = {s: why for r in measured for s, why in r["skipped"].items()}
        skipped.update({r["case"]["id"]: r["skipped_case"] for r in rows if "skipped_case" in r})
        if skipped:
            out += [""] + [f"- skipped {k}: {v}" for k, v in skipped.items()]

    comp = report.get("compile")
    if comp is not None:
        out += ["", "## Compile", "",
                "Fresh processes, tiny fit (64x8, hidden (4,), 2 epochs) fitted twice. cold = empty "
                "NUMBA_CACHE_DIR; warm = a second process on the cache the cold one filled. "
                "overhead = first fit - second fit (compilation, or loading it from the cache).", ""]
        if isinstance(comp, dict):
            out.append(f"skipped: {comp['skipped']}")
        else:
            header = ["dtype", "import cold s", "import warm s", "first-fit overhead cold s",
                      "first-fit overhead warm s", "fit proper s", "cache files"]
            body = []
            for c in comp:
                if "failed" in c:
                    body.append([c["dtype"], c["failed"]] + [""] * (len(header) - 2))
                    continue
                body.append([c["dtype"], f"{c['cold']['import_s']:.2f}", f"{c['warm']['import_s']:.2f}",
                             f"{c['cold']['overhead_s']:.2f}", f"{c['warm']['overhead_s']:.3f}",
                             f"{c['warm']['fit_s']:.4f}", c["cache_files"]])
            out.append(_table(header, body))

    mem = report.get("memory")
    if mem is not None:
        out += ["", "## Memory", ""]
        if "results" not in mem:
            out.append(f"skipped: {mem['skipped']}")
        else:
            res = mem["results"]
            if res:
                r0 = res[0]
                out += [f"{r0['workload']} ({r0['n_samples']} rows, {r0['dtype']}), batch "
                        f"{r0['batch_size']}, {r0['epochs']} epoch(s), in a fresh subprocess. fit = peak RSS "
                        "during load+fit (high-water mark reset after a tiny warm-up fit) - RSS "
                        "before loading X; ideal = X + y + params + one batch of activations; "
                        "process peak = getrusage ru_maxrss (imports and warm-up included).", ""]
            header = ["system", "RSS after import+warm-up MiB", "peak RSS MiB", "fit MiB",
                      "ideal MiB", "fit / ideal", "process peak MiB"]
            out.append(_table(header, [[_name(r["system"], standin), _mib(r["baseline_bytes"]),
                                        _mib(r["peak_bytes"]), _mib(r["fit_bytes"]),
                                        _mib(r["ideal_bytes"]["total"]), f"{r['fit_over_ideal']:.2f}",
                                        _mib(r["ru_maxrss_bytes"])] for r in res]))
            out += [f"- skipped {k}: {v}" for k, v in mem["skipped"].items()]

    acc = report.get("accuracy")
    if acc is not None:
        out += ["", "## Accuracy", ""]
        if "systems" not in acc:
            out.append(f"skipped: {acc['skipped']}")
        else:
            out += [f"{acc['workload']}: {acc['n_train']} train / {acc['n_test']} test rows, "
                    f"{acc['epochs']} epochs, batch {acc['batch_size']}, {acc['dtype']}, same initial "
                    f"weights, {acc.get('threads', 1)} thread(s). train s: one fit per system, one "
                    "after another in one process, from building the model (for fastbp, loading "
                    "its compiled kernels, or compiling them on a cold cache) to the end of "
                    "training; a single run, not alternated: compare speeds in the epoch table.",
                    ""]
            header = ["system", "test accuracy", "final train loss", "train s"]
            out.append(_table(header, [[_name(s, standin), f"{v['accuracy']:.4f}",
                                        "" if v["final_loss"] is None else f"{v['final_loss']:.4f}",
                                        f"{v['train_s']:.1f}"] for s, v in acc["systems"].items()]))
            out += [f"- skipped {k}: {v}" for k, v in acc["skipped"].items()]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    standin = subject.standin_requested() if args.standin is None else True
    grid = build_grid(args)
    systems = [s for s in peers.SYSTEMS if s in args.systems]
    t0 = time.perf_counter()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    report = {"mode": grid.mode, "timestamp": stamp, "environment": environment(standin),
              "systems": systems,
              "grid": {"cases": [c.id for c in grid.cases()], "rounds": grid.rounds,
                       "warmup": grid.warmup, "turn_s": args.turn_ms / 1e3}}
    sections = {
        "epochs": lambda: run_epochs(grid, systems, standin, args.turn_ms / 1e3),
        "compile": lambda: run_compile(grid, standin) if "fastbp" in systems else None,
        "memory": lambda: run_memory(grid, systems, standin),
        "accuracy": lambda: run_accuracy(grid, systems, standin) if "fastbp" in systems else None,
    }
    for name, run in sections.items():
        if name in args.skip:
            continue
        try:
            result = run()
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
            log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
            result = {"skipped": f"FAILED: {_err(exc)}"}
        if result is not None:
            report[name] = result
    report["elapsed_s"] = time.perf_counter() - t0
    report["environment"]["loadavg_end"] = _loadavg()

    text = render(report)
    print(text)
    base = save_report(args.out / f"report-{grid.mode}-{stamp}", report, text)
    log(f"saved {base}.json and .md ({report['elapsed_s']:.0f} s)")
    if isinstance(report.get("epochs"), list) and not measured_cases(report["epochs"]):
        # helper-153: a run whose every case failed or was skipped exited 0.
        log("no epoch case was measured")
        return 1
    return 0


def measured_cases(rows: list[dict]) -> int:
    """How many epoch cases timed at least one system."""
    return sum(1 for r in rows if r.get("systems"))


def save_report(base, report, text):
    """Write ``report`` to ``base``.json and its markdown ``text`` to
    ``base``.md (creating the directory); return ``base``."""
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    base.with_suffix(".md").write_text(text)
    return base


if __name__ == "__main__":
    sys.exit(main())
