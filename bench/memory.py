"""Peak RSS of a fit, measured in a fresh subprocess.

The parent writes the workload's ``X`` and ``y`` to ``.npy`` files; the
child (``python -m bench.memory DIR``):

1. imports the system and runs one tiny warm-up epoch (Numba compilation
   and library initialisation, whose memory is not the fit's);
2. resets the RSS high-water mark (``/proc/self/clear_refs``) and records
   the current RSS as the baseline;
3. loads ``X``/``y`` (exactly their bytes) and trains ``epochs`` epochs;
4. reports the fit's peak RSS (``VmHWM`` since the reset) and the whole
   process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (import and
   warm-up included).

``fit = peak - baseline`` is compared with the ideal footprint: ``X + y +
parameters + one batch of activations`` (``batch x sum(layer widths)``).

Two Linux details: ``ru_maxrss`` of a process started straight from a big
parent inherits the parent's RSS (``vfork``/``exec`` keeps the signal
struct's maxrss), so the child is started through ``/bin/sh``, which forks
it from a small process; and the reset does not clear ``ru_maxrss`` once a
thread has exited, hence ``VmHWM`` for the fit peak. Without ``/proc``
(``hwm_reset`` false) the fit peak falls back to ``ru_maxrss``.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import peers, subject, workloads
from .compile_time import REPO_ROOT
from .flops import layer_sizes
from .workloads import FitSetting


def current_rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the high-water mark
        return peak_rss()


def peak_rss() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # bytes on macOS, KiB on Linux


def fit_peak_rss() -> int:
    """RSS high-water mark since the last :func:`reset_peak` (``VmHWM``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss()


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def ideal_bytes(n_samples: int, sizes: list[int], batch: int, itemsize: int, y_bytes: int) -> dict:
    x = n_samples * sizes[0] * itemsize
    params = sum(fi * fo + fo for fi, fo in zip(sizes[:-1], sizes[1:])) * itemsize
    acts = min(batch, n_samples) * sum(sizes) * itemsize
    return {"X": x, "y": y_bytes, "params": params, "batch_activations": acts,
            "total": x + y_bytes + params + acts}


def measure(system: str, setting: FitSetting, standin: bool | None = None,
            timeout: float = 600) -> dict:
    standin = subject.standin_requested() if standin is None else standin
    data = workloads.load(setting.workload, setting.dtype)
    X, y = data.X_train, data.y_train
    sizes = layer_sizes(data.n_features, setting.workload.hidden, data.n_classes)
    with tempfile.TemporaryDirectory(prefix="fastbp-bench-mem-") as d:
        np.save(os.path.join(d, "X.npy"), X)
        np.save(os.path.join(d, "y.npy"), y)
        meta = {"system": system, "hidden": list(setting.workload.hidden),
                "batch_size": setting.batch_size, "epochs": setting.epochs,
                "threads": setting.threads, "classes": data.classes.tolist(),
                "standin": bool(standin)}
        with open(os.path.join(d, "meta.json"), "w") as fh:
            json.dump(meta, fh)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "bench.memory", d]
        if os.path.exists("/bin/sh"):  # fork from a small process: clean ru_maxrss
            cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
        proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memory child failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1][len("BENCH_JSON "):])
    ideal = ideal_bytes(X.shape[0], sizes, setting.batch_size, X.dtype.itemsize, y.nbytes)
    out.update({"system": system, "workload": setting.workload.label, "n_samples": int(X.shape[0]),
                "dtype": setting.dtype, "batch_size": setting.batch_size, "epochs": setting.epochs,
                "ideal_bytes": ideal,
                "fit_over_ideal": out["fit_bytes"] / ideal["total"]})
    return out


def _child(directory: str) -> None:
    with open(os.path.join(directory, "meta.json")) as fh:
        meta = json.load(fh)
    from .threads import limit_threads

    system, classes = meta["system"], np.asarray(meta["classes"])
    spec = peers.TrainSpec(tuple(meta["hidden"]), meta["batch_size"])
    X_head = np.load(os.path.join(directory, "X.npy"), mmap_mode="r")
    n_features, dtype = X_head.shape[1], X_head.dtype
    del X_head
    rss_imported = current_rss()
    with limit_threads(meta["threads"], torch=system.startswith("torch")):
        rng = np.random.RandomState(0)
        Xw = rng.standard_normal((64, n_features)).astype(dtype)
        yw = classes[np.arange(64) % len(classes)]
        warm = peers.make_runner(system, peers.TrainSpec(spec.hidden, 32), meta["standin"])
        warm.prepare(Xw, yw, classes).epoch()
        del warm, Xw, yw
        gc.collect()
        peak_with_warmup = peak_rss()
        hwm_reset = reset_peak()
        base = current_rss()
        X = np.load(os.path.join(directory, "X.npy"))
        y = np.load(os.path.join(directory, "y.npy"))
        loaded = current_rss()
        runner = peers.make_runner(system, spec, meta["standin"]).prepare(X, y, classes)
        t0 = time.perf_counter()
        for _ in range(meta["epochs"]):
            runner.epoch()
        fit_s = time.perf_counter() - t0
        peak = fit_peak_rss() if hwm_reset else peak_rss()
    print("BENCH_JSON " + json.dumps({
        "rss_imported_bytes": rss_imported, "peak_with_warmup_bytes": peak_with_warmup,
        "hwm_reset": hwm_reset, "baseline_bytes": base, "loaded_bytes": loaded,
        "peak_bytes": peak, "fit_bytes": peak - base, "ru_maxrss_bytes": peak_rss(),
        "fit_s": fit_s, "label": runner.label}))


def main(argv=None) -> int:
    """The child's entry point: ``python -m bench.memory DIR``."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description="The child process of bench.memory.measure(): trains the system "
                    "described in DIR/meta.json on DIR/X.npy and DIR/y.npy and prints its "
                    "peak RSS as a BENCH_JSON line. measure() writes DIR; for the memory "
                    "table run `python -m bench.report --skip epochs,compile,accuracy`.")
    ap.add_argument("directory", help="directory written by bench.memory.measure()")
    args = ap.parse_args(argv)
    missing = [f for f in ("meta.json", "X.npy", "y.npy")
               if not os.path.isfile(os.path.join(args.directory, f))]
    if missing:
        ap.error(f"{args.directory!r} lacks {', '.join(missing)}: it must be a directory "
                 "written by bench.memory.measure()")
    _child(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
