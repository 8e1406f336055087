"""One-shot check of fastbp's CUDA backend on a GPU machine: parity and speed.

Run from the repository root::

    python bench/gpu_check.py                 # full run, about 2-4 minutes on an H200
    python bench/gpu_check.py --no-cpu        # skip the (slow) fastbp CPU epochs
    python bench/gpu_check.py --no-torch      # skip the PyTorch baselines
    python bench/gpu_check.py --epochs 5      # more timed epochs per case
    python bench/gpu_check.py --only steps,kernels --tiles 64,64,16,4,4 \
        --tiles 64,64,16,4,4,0 --tiles 32,32,32,2,2   # per-kernel times per tile
                                                      # shape (,0: no split-K)

    # Without a GPU: the CUDA simulator, tiny shapes (slow: minutes)
    NUMBA_ENABLE_CUDASIM=1 python bench/gpu_check.py --smoke --no-torch

``FASTBP_DATA_DIR`` names the MNIST directory (see
:func:`fastbp.datasets.load_mnist`); without it, random data of MNIST's shape
(60000 x 784, 10 classes) is used instead, which times the same but says
nothing about accuracy.

What it prints, section by section:

1. **Versions**: the git commit, the CPU, versions of Python, NumPy,
   Numba, numba-cuda, PyTorch, fastbp, and the GPU (name, compute
   capability, driver and runtime versions).
2. **Parity** of ``device="cuda"`` with ``device="cpu"``: one epoch of sgd and
   of adam from the same initial weights (same ``random_state``), in float32
   and float64; the largest difference of ``coefs_``/``intercepts_`` relative
   to their largest magnitude, PASS/FAIL against 1e-5 (float32) and 1e-10
   (float64). Then ``predict_proba`` of a GPU-trained model on both devices.
3. **Per-step time** at MNIST shapes (784-256-128-10, float32, adam) at batch
   32, 200 and 1024, calling the GPU driver's ``train_epoch`` directly: the
   host's time to launch an epoch's kernels, and the epoch's time until the
   device has finished (CUDA events and wall clock), each divided by steps;
   with launches marshalled once (fastbp's path) and plain.
   3b. **Device time per kernel** of a step (forward, loss, weight gradient,
   delta and optimizer kernels, per layer), from CUDA events around each
   launch over the first 200 steps of an epoch: where the device's time
   goes.
4. **Per-epoch time** on MNIST-sized data at the same batch sizes: fastbp on
   the GPU and on the CPU, and PyTorch on the GPU (eager with fused Adam, and
   the same step captured in a CUDA graph), as a markdown table.
5. **Summary** of the performance goals, each MET or MISSED.

Every section runs in its own ``try``: one failure prints a short traceback
and the rest still runs. The script itself writes no files (fastbp's Numba
kernels may fill their on-disk cache, as in any run).
"""

import argparse
import contextlib
import importlib
import importlib.metadata
import inspect
import math
import os
import platform
import sys
import time
import traceback
import warnings
from unittest import mock

import numpy as np
from numba.core.errors import NumbaPerformanceWarning
from sklearn.exceptions import ConvergenceWarning

# Random labels and one-epoch fits never converge; the warning is noise here.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
# Small problems launch small grids by design. Numba's other performance
# warnings (a host array passed to a kernel: a copy per launch) stay visible.
# (numba-cuda's message starts with an ANSI bold code.)
warnings.filterwarnings("ignore", message=".*Grid size", category=NumbaPerformanceWarning)

#: Section names of ``--only``.
SECTIONS = {"parity", "steps", "kernels", "epochs"}

#: Relative tolerance of the parity checks, per dtype.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}

#: Shapes of the full run and of ``--smoke`` (the CUDA simulator runs about a
#: kernel launch per second at the smoke shapes, so everything shrinks).
FULL = dict(
    parity_rows=512, parity_features=64, parity_classes=10, parity_hidden=(32, 16),
    parity_batch=64, wide_parity=True,
    n_samples=60000, n_features=784, n_classes=10, hidden=(256, 128),
    batches=(32, 200, 1024), tiles=None, threads=None, epochs=3,
)
SMOKE = dict(
    parity_rows=64, parity_features=12, parity_classes=3, parity_hidden=(8,),
    parity_batch=16, wide_parity=False,
    n_samples=64, n_features=12, n_classes=3, hidden=(8,),
    batches=(16, 32, 64), tiles=(4, 4, 4, 2, 2), threads=8, epochs=1,
)

#: Goals of the summary: fastbp CUDA vs fastbp CPU at the largest batch,
#: per-step time at the smallest batch, and throughput vs PyTorch eager.
GOAL_CPU_SPEEDUP = 30.0
GOAL_STEP_US = 100.0
GOAL_TORCH_SMALL = 2.0
GOAL_TORCH_LARGE = 1.0

ADAM = dict(solver="adam", learning_rate_init=1e-3, alpha=1e-4, beta_1=0.9, beta_2=0.999,
            epsilon=1e-8)


# --------------------------------------------------------------------- helpers

class Skip(Exception):
    """A section that cannot run here (no GPU, no data): said, not traced."""


def header(title):
    """Print a section header."""
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)


@contextlib.contextmanager
def section(title, results, key):
    """Run a section, timing it and printing a short traceback on failure.

    Parameters
    ----------
    title : str
    results : dict
        Shared results; ``results["errors"][key]`` gets the error's text.
    key : str
    """
    header(title)
    start = time.perf_counter()
    try:
        yield
    except Skip as exc:
        print(f"skipped: {exc}")
    except Exception as exc:  # one section's failure must not stop the others
        results["errors"][key] = f"{type(exc).__name__}: {exc}"
        print(f"\n!! section failed: {type(exc).__name__}: {exc}")
        print("".join(traceback.format_exception(exc, limit=-6)).rstrip())
    print(f"[section took {time.perf_counter() - start:.1f} s; "
          f"{time.perf_counter() - results['t0']:.1f} s since start]", flush=True)


def short_error(exc):
    """One line naming ``exc`` (for a table cell or a status line)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:160]


def fmt(value, digits=2, unit=""):
    """``value`` formatted for a table, or ``n/a``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def median(values):
    """Median of ``values``, or None when empty."""
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def rel_diff(a_list, b_list):
    """``max|a - b| / max|b|`` over matching arrays of two lists.

    One scale for the whole list, so that a near-zero element does not turn a
    rounding difference into a large relative one.
    """
    num = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
              for a, b in zip(a_list, b_list))
    den = max(float(np.max(np.abs(np.asarray(b, np.float64)))) for b in b_list)
    return num / den if den > 0 else num


def package_version(name):
    """Installed version of distribution ``name``, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def import_torch():
    """The ``torch`` module, or the exception that importing it raised."""
    try:
        return importlib.import_module("torch")
    except Exception as exc:  # absent, or a broken install
        return exc


def cuda_problem():
    """Why fastbp cannot run on the GPU here, or None."""
    from fastbp.kernels.cuda import device_status

    return device_status()


# --------------------------------------------------------------- 1. versions

def bench_report():
    """:mod:`bench.report`, for its commit and CPU helpers, also when this
    file runs as ``python bench/gpu_check.py`` (which puts ``bench/``, not
    the repository's root, on ``sys.path``)."""
    try:
        return importlib.import_module("bench.report")
    except ImportError:
        sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        return importlib.import_module("bench.report")


def report_versions(args, results):
    """Print library versions and what the GPU is."""
    import fastbp
    import numba
    import sklearn

    report = bench_report()
    print(f"git           {report._git_head()}")
    print(f"python        {sys.version.split()[0]} ({platform.platform()})")
    print(f"cpu           {report.cpu_model()} ({os.cpu_count()} cores)")
    print(f"numpy         {np.__version__}")
    print(f"scikit-learn  {sklearn.__version__}")
    print(f"numba         {numba.__version__} (NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS})")
    print(f"numba-cuda    {package_version('numba-cuda') or 'not installed'}")
    simulator = bool(numba.config.ENABLE_CUDASIM)
    results["simulator"] = simulator
    try:
        from numba import cuda

        print(f"numba.cuda    implementation={getattr(cuda, 'implementation', '?')}"
              f"{'  [CUDA SIMULATOR: timings are meaningless]' if simulator else ''}")
    except Exception as exc:
        print(f"numba.cuda    failed to import: {short_error(exc)}")
    try:
        import cupy

        print(f"cupy          {cupy.__version__}")
    except Exception as exc:
        print(f"cupy          not usable ({short_error(exc)})")
    torch = import_torch()
    if isinstance(torch, Exception):
        print(f"torch         not importable ({short_error(torch)})")
    else:
        cuda_ok = torch.cuda.is_available()
        print(f"torch         {torch.__version__} (built for CUDA {torch.version.cuda}; "
              f"cuda available: {cuda_ok}; float32 matmul precision: "
              f"{torch.get_float32_matmul_precision()})")
        if cuda_ok:
            print(f"torch device  {torch.cuda.get_device_name(0)}")
    print(f"fastbp        {fastbp.__version__} ({os.path.dirname(fastbp.__file__)})")

    problem = cuda_problem()
    results["cuda_problem"] = problem
    print(f"fastbp cuda   {'usable' if problem is None else 'NOT usable: ' + problem}")
    if problem is not None:
        return
    from numba import cuda

    from fastbp.kernels.cuda import network

    print(f"fastbp tiles  TILES={network.TILES} THREADS={network.THREADS}"
          f"{'  (--smoke)' if args.smoke else ''}")
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "simulated device" if simulator else "?")
    if isinstance(name, bytes):
        name = name.decode()
    print(f"gpu           {name}, compute capability {dev.compute_capability}")
    for label, get in [
        ("multiprocs", lambda: dev.MULTIPROCESSOR_COUNT),
        ("memory", lambda: "%.1f GiB free of %.1f GiB" % tuple(
            m / 2**30 for m in cuda.current_context().get_memory_info())),
        ("driver", lambda: cuda.cudadrv.driver.driver.get_version()),
        ("nvrtc", lambda: cuda.runtime.get_version()),  # numba-cuda reports NVRTC's
    ]:
        try:
            print(f"{label:<13} {get()}")
        except Exception as exc:  # the simulator and some versions lack these
            print(f"{label:<13} n/a ({short_error(exc)})")


# ---------------------------------------------------------------- 2. parity

def fit(X, y, device, **params):
    """A fastbp classifier fitted on ``device`` (random_state 0: the same
    initial weights and epoch orders on both devices)."""
    import fastbp

    return fastbp.MLPClassifier(device=device, random_state=0, **params).fit(X, y)


def check_parity(cfg, results):
    """One epoch on each device from the same start; compare the weights."""
    rng = np.random.RandomState(0)
    X0 = rng.rand(cfg["parity_rows"], cfg["parity_features"])
    y0 = rng.randint(0, cfg["parity_classes"], cfg["parity_rows"])
    small = dict(hidden_layer_sizes=cfg["parity_hidden"], batch_size=cfg["parity_batch"],
                 max_iter=1, shuffle=True)
    # Learning rates large enough that one epoch moves the weights well
    # away from their (shared) initial values, so that the differences
    # measure the updates rather than the common start.
    solvers = [("sgd", dict(solver="sgd", learning_rate_init=0.1)),
               ("adam", dict(solver="adam", learning_rate_init=0.01))]
    # (label, dtype, X, y, params, keep the model for predict_proba)
    cases = [(f"{dtype.__name__} {name}", dtype, X0, y0, dict(small, **extra), name == "adam")
             for dtype in (np.float32, np.float64) for name, extra in solvers]
    if cfg["wide_parity"]:
        # MNIST's widths: every product spans several tiles in every dimension.
        wide = np.random.RandomState(1)
        Xw, yw = wide.rand(2048, 784), wide.randint(0, 10, 2048)
        for dtype in (np.float32, np.float64):
            cases.append((f"{dtype.__name__} adam 2048x784 (256,128) b200", dtype, Xw, yw,
                          dict(hidden_layer_sizes=(256, 128), batch_size=200, max_iter=1,
                               shuffle=True, solver="adam"), False))
    print(f"Data: random {cfg['parity_rows']}x{cfg['parity_features']}, "
          f"{cfg['parity_classes']} classes, hidden {cfg['parity_hidden']}, batch "
          f"{cfg['parity_batch']}, 1 epoch, shuffle (unless the label says otherwise)")
    print("rel = max|cuda - cpu| / max|cpu| over all layers; verdict on coefs_ and "
          "intercepts_")
    print("f64 ref (float32 cases): the same fit in float64 on the CPU (same float32-rounded "
          "data),\n  and each float32 model's rel from it, cuda | cpu. Adam divides each "
          "update by sqrt(v):\n  where a gradient is near 0, float32 rounding alone moves "
          "the weight by up to the\n  learning rate, so a float32 model is compared with its "
          "dtype's own floor: PASS(f64) =\n  cuda no further from float64 than 2x the CPU's "
          "float32 model")
    print("(fit s: seconds of each fit, cuda/cpu; the first of each dtype compiles)\n")
    print(f"{'case':<40} {'coefs_ rel':>11} {'intercepts_':>11} {'loss_ rel':>10} "
          f"{'tol':>7}  {'verdict':<9} {'fit s':>11}  {'f64 ref: cuda | cpu':>21}")
    verdicts = results["parity"] = {}
    models = {}
    for label, dtype, X, y, params, keep in cases:
        tol = TOLERANCE[np.dtype(dtype)]
        try:
            Xc = X.astype(dtype)
            t0 = time.perf_counter()
            gpu = fit(Xc, y, "cuda", **params)
            t1 = time.perf_counter()
            cpu = fit(Xc, y, "cpu", **params)
            seconds = f"{t1 - t0:.1f}/{time.perf_counter() - t1:.1f}"
            rc = rel_diff(gpu.coefs_, cpu.coefs_)
            ri = rel_diff(gpu.intercepts_, cpu.intercepts_)
            rl = abs(gpu.loss_ - cpu.loss_) / max(abs(cpu.loss_), 1e-300)
            ok = max(rc, ri) <= tol
            verdict = "PASS" if ok else "FAIL"
            ref = ""
            if np.dtype(dtype) == np.float32:
                # The same float32-rounded data, so that only the arithmetic differs.
                exact = fit(Xc.astype(np.float64), y, "cpu", **params)
                g64 = max(rel_diff(gpu.coefs_, exact.coefs_),
                          rel_diff(gpu.intercepts_, exact.intercepts_))
                c64 = max(rel_diff(cpu.coefs_, exact.coefs_),
                          rel_diff(cpu.intercepts_, exact.intercepts_))
                ref = f"{g64:.2e} | {c64:.2e}"
                if not ok and g64 <= max(2 * c64, tol):
                    ok, verdict = True, "PASS(f64)"
            types_ok = all(isinstance(c, np.ndarray) and c.dtype == np.dtype(dtype)
                           for c in gpu.coefs_ + gpu.intercepts_)
            note = "" if types_ok else "  (fitted attributes are not NumPy arrays of the dtype!)"
            verdicts[label] = ok and types_ok
            print(f"{label:<40} {rc:>11.2e} {ri:>11.2e} {rl:>10.2e} {tol:>7.0e}  "
                  f"{verdict:<9} {seconds:>11}  {ref:>21}{note}", flush=True)
            if keep:
                models[np.dtype(dtype)] = (gpu, Xc)
        except Exception as exc:
            verdicts[label] = False
            print(f"{label:<40} ERROR {short_error(exc)}", flush=True)
            traceback.print_exc(limit=-3)

    print("\npredict_proba of the GPU-trained adam model, predicted on cuda vs cpu")
    print(f"{'dtype':<10} {'rel':>10} {'tol':>7}  verdict")
    for dtype, (model, Xc) in models.items():
        try:
            p_gpu = model.predict_proba(Xc)
            model.set_params(device="cpu")
            p_cpu = model.predict_proba(Xc)
            r = rel_diff([p_gpu], [p_cpu])
            tol = TOLERANCE[dtype]
            verdicts[f"predict_proba {dtype.name}"] = r <= tol
            print(f"{dtype.name:<10} {r:>10.2e} {tol:>7.0e}  {'PASS' if r <= tol else 'FAIL'}")
        except Exception as exc:
            verdicts[f"predict_proba {dtype.name}"] = False
            print(f"{dtype.name:<10} ERROR {short_error(exc)}")
            traceback.print_exc(limit=-3)


# ------------------------------------------------------------------ data

def load_data(cfg, results):
    """MNIST's training set (float32), or random data of its shape.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64
    """
    n, d, k = cfg["n_samples"], cfg["n_features"], cfg["n_classes"]
    if n == 60000 and d == 784:
        try:
            from fastbp.datasets import load_mnist

            X, y = load_mnist(dtype=np.float32)[:2]
            results["data"] = "MNIST (real)"
            print(f"Data: real MNIST training set, {X.shape[0]}x{X.shape[1]}, 10 classes")
            return X, y
        except Exception as exc:
            print(f"Data: MNIST not available ({short_error(exc)})")
    rng = np.random.default_rng(0)
    X = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, k, n).astype(np.int64)
    results["data"] = f"random {n}x{d}, {k} classes"
    print(f"Data: RANDOM data of shape {n}x{d}, {k} classes (timings as MNIST's, "
          "no accuracy meaning)")
    return X, y


# ---------------------------------------------------------------- 3. per step

@contextlib.contextmanager
def capture_train_epoch():
    """Record the arguments of every ``train_epoch`` call of the CUDA driver.

    A fit builds the device records exactly as the trainer does
    (``fastbp.training.stochastic``); replaying its arguments then times the
    driver alone, without re-deriving the records here.

    Yields
    ------
    calls : list of inspect.BoundArguments
    """
    from fastbp.kernels.cuda import network

    original = network.train_epoch
    signature = inspect.signature(original)
    calls = []

    def spy(*args, **kwargs):
        calls.append(signature.bind(*args, **kwargs))
        return original(*args, **kwargs)

    with mock.patch.object(network, "train_epoch", spy):
        yield calls


def driver_call(X, y, hidden, batch):
    """A one-epoch fit's last ``train_epoch`` call, to replay.

    Returns
    -------
    call : inspect.BoundArguments
        The epoch's last slice (the fit calls the driver about every 0.1 s).
    t : int
        The update count where the fit ended: the slice's own count plus
        its steps.
    """
    with capture_train_epoch() as calls:
        fit(X, y, "cuda", hidden_layer_sizes=hidden, batch_size=batch, max_iter=1,
            shuffle=True, **ADAM)
    if not calls:
        raise RuntimeError("the fit did not call the CUDA driver's train_epoch")
    call = calls[-1]
    return call, int(call.arguments["t"]) + math.ceil(len(call.arguments["perm"]) / batch)


@contextlib.contextmanager
def blocking_copy_clock():
    """Note when each device-to-host copy starts.

    ``train_epoch`` launches every kernel of the epoch, then copies the step
    record back, which waits for the device: the last copy's start is where
    the host's launch loop ends.

    Yields
    ------
    starts : list of float
        ``time.perf_counter()`` at the start of each ``copy_to_host``.
    """
    from numba import cuda

    cls = type(cuda.device_array(1))
    owner = next(k for k in cls.__mro__ if "copy_to_host" in vars(k))
    original = vars(owner)["copy_to_host"]
    starts = []

    def timed(self, *args, **kwargs):
        starts.append(time.perf_counter())
        return original(self, *args, **kwargs)

    with mock.patch.object(owner, "copy_to_host", timed):
        yield starts


def time_driver_epoch(call, t, perm):
    """Run one epoch through the driver and time it.

    Parameters
    ----------
    call : inspect.BoundArguments
        Arguments of a captured ``train_epoch`` call (the fit calls the
        driver once per slice of about 0.1 s of an epoch).
    t : int
        Update count to continue from.
    perm : ndarray of int64
        The epoch's row order: every training row, so that one call runs a
        whole epoch.

    Returns
    -------
    host, events, wall : float or None
        Seconds: the launch loop (until the final blocking copy), the
        device's span between CUDA events around the call, and the wall time
        of the call including the final synchronisation.
    t : int
        The update count after the epoch.
    """
    from numba import cuda

    from fastbp.kernels.cuda import network

    args = dict(call.arguments)
    # Fresh host accumulators: the driver adds into them.
    args["layer_sq"] = np.zeros_like(args["layer_sq"])
    args["first_sq"] = np.array(args["first_sq"], copy=True)
    args["t"] = t
    args["perm"] = perm
    start_event, end_event = cuda.event(), cuda.event()
    cuda.synchronize()
    with blocking_copy_clock() as copies:
        t0 = time.perf_counter()
        start_event.record()
        _, t = network.train_epoch(**args)
        end_event.record()
        end_event.synchronize()
        cuda.synchronize()
        t1 = time.perf_counter()
    host = (copies[-1] - t0) if copies else None
    try:
        events = start_event.elapsed_time(end_event) / 1e3
    except Exception:
        events = None
    if events is not None and events <= 0:  # the simulator records no time
        events = None
    return host, events, t1 - t0, t


def measure_steps(X, y, cfg, args, results):
    """Per-step host and device times of the GPU driver at each batch size,
    for each launch path of :mod:`fastbp.kernels.cuda.launch`."""
    from fastbp.kernels.cuda import launch

    hidden = cfg["hidden"]
    n_layers = len(hidden) + 1
    # From fastbp/kernels/cuda/network.py: L forward products, one loss
    # kernel, L weight-gradient products, L - 1 delta products and one
    # optimizer kernel per step (dense input, no normalisation or clipping).
    launches = 3 * n_layers + 1
    repeats = max(1, args.epochs)
    print(f"Network {X.shape[1]}-{'-'.join(map(str, hidden))}-{cfg['n_classes']}, float32, "
          f"adam; {launches} kernel launches per step; one driver call per epoch (all "
          f"{X.shape[0]} rows); median of {repeats} epoch(s) after a warm-up fit")
    print("host = launch loop until the final blocking copy; events = CUDA events "
          "around the epoch; wall = until synchronised")
    print("launches: marshalled = fastbp's Launch (arguments marshalled once per driver "
          "call);\n  plain = kernel[grid, block](*args), numba-cuda marshalling every launch\n")
    print("| batch | launches | steps | host us/step | events us/step | wall us/step "
          "| host us/launch |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    per_step = results["per_step"] = {}
    rng = np.random.default_rng(0)
    for b in cfg["batches"]:
        steps = math.ceil(X.shape[0] / b)
        try:
            call, t = driver_call(X, y, hidden, b)
            # The fit keeps its launches between driver calls, and a kept
            # launch serves a later call whatever launch.MODE says: without
            # dropping them, every row would replay the fit's own path.
            kept = call.arguments["tables"].launches
            previous = launch.MODE
            for mode in ("marshalled", "plain"):
                launch.MODE = mode
                kept.clear()
                try:
                    hosts, events, walls = [], [], []
                    h, e, w, t = time_driver_epoch(call, t, rng.permutation(X.shape[0]))
                    for _ in range(repeats):
                        h, e, w, t = time_driver_epoch(call, t, rng.permutation(X.shape[0]))
                        hosts.append(h)
                        events.append(e)
                        walls.append(w)
                finally:
                    launch.MODE = previous
                # Seconds per epoch -> microseconds per step.
                h, e, w = (None if v is None else v / steps * 1e6
                           for v in (median(hosts), median(events), median(walls)))
                per_step.setdefault(b, {})[mode] = dict(host=h, events=e, wall=w)
                # The paths of the launches the timed epochs ran (a path
                # that failed to bind falls back to the next).
                took = took_paths(kept)
                print(f"| {b} | {mode}{'' if took == mode else ' (took ' + took + ')'} | "
                      f"{steps} | {fmt(h, 1)} | {fmt(e, 1)} | {fmt(w, 1)} | "
                      f"{fmt(None if h is None else h / launches, 2)} |", flush=True)
            del call  # release the device records
        except Exception as exc:
            print(f"| {b} | | {steps} | ERROR {short_error(exc)} | | | |", flush=True)
            traceback.print_exc(limit=-3)


def took_paths(kept):
    """The paths (``"marshalled"``, ``"plain"``) of a driver call's kept
    launches, comma-separated: what the launches built for a row ran.

    Parameters
    ----------
    kept : dict
        ``tables.launches`` of the call's device tables (see
        :mod:`fastbp.kernels.cuda.network`).

    Returns
    -------
    str
        Empty when no launch was kept.
    """
    return ",".join(sorted({k.path for k in kept.values()}))


@contextlib.contextmanager
def kernel_clock():
    """CUDA events around every launch of :class:`fastbp.kernels.cuda.launch.Launch`.

    Yields
    ------
    marks : list of (str, event, event)
        The kernel's name (with its layer for the per-layer kernels) and the
        events recorded just before and just after its launch.
    """
    from numba import cuda

    from fastbp.kernels.cuda import launch

    original = launch.Launch.__call__
    marks = []

    def timed(self, *values):
        name = self.dispatcher.py_func.__name__
        if name in LAYERED:
            name = f"{name} {self.args[0]}"
        start, end = cuda.event(), cuda.event()
        start.record()
        original(self, *values)
        end.record()
        marks.append((name, start, end))

    with mock.patch.object(launch.Launch, "__call__", timed):
        yield marks


#: Kernels whose first argument is the layer they work on.
LAYERED = {"forward", "weight_grad", "delta", "batch_norm_forward", "batch_norm_backward",
           "layer_norm_forward", "layer_norm_backward", "layer_norm_param_grads"}


def measure_kernels(X, y, cfg, args, results):
    """Device time of each kernel of a step, from CUDA events around each
    launch over the first steps of an epoch (at most 200): one table for the
    configured tiles, or one per ``--tiles``."""
    from fastbp.kernels.cuda import network

    if not args.tiles:
        kernel_table(X, y, cfg, results.setdefault("per_kernel", {}))
        return
    configured = network.TILES, network.SPLIT_BLOCKS
    try:
        for spec in args.tiles:
            values = tuple(int(v) for v in spec.split(","))
            if len(values) not in (5, 6):
                raise ValueError(f"--tiles {spec}: give TM,TN,TK,RM,RN[,SPLIT]")
            tiles, split = values[:5], (values[5] if len(values) > 5 else configured[1])
            network.configure(tiles=tiles, split_blocks=split)
            print(f"\nTiles (tile_m, tile_n, tile_k, reg_m, reg_n) = {tiles}, split-K "
                  f"towards {network._split_target()} blocks")
            kernel_table(X, y, cfg,
                         results.setdefault("per_kernel", {}).setdefault(values, {}))
    finally:
        network.configure(tiles=configured[0], split_blocks=configured[1])


def kernel_table(X, y, cfg, rows):
    """Print and fill ``rows[batch][kernel]``: microseconds per step."""
    from numba import cuda

    hidden = cfg["hidden"]
    print(f"Network {X.shape[1]}-{'-'.join(map(str, hidden))}-{cfg['n_classes']}, float32, "
          "adam; CUDA events around each launch (an event pair adds about a microsecond "
          "of device time); microseconds per step, median over the steps timed\n")
    rng = np.random.default_rng(1)
    for b in cfg["batches"]:
        try:
            call, t = driver_call(X, y, hidden, b)
            steps = min(200, math.ceil(X.shape[0] / b))
            perm = rng.permutation(X.shape[0])[:steps * b]
            # Once unclocked: a driver call's first launch of each kernel
            # marshals its arguments on the host, which the events would count.
            t = time_driver_epoch(call, t, perm)[-1]
            cuda.synchronize()
            with kernel_clock() as marks:
                time_driver_epoch(call, t, perm)
            cuda.synchronize()
            times = {}
            for name, start, end in marks:
                try:
                    seconds = cuda.event_elapsed_time(start, end) / 1e3
                except Exception:  # the simulator records no time
                    seconds = float("nan")
                times.setdefault(name, []).append(seconds)
            # Medians: a host pause between an event and its launch (a
            # garbage collection) counts as device time in that one step.
            rows[b] = {name: float(np.median(ts)) * 1e6 for name, ts in times.items()}
            del call
        except Exception as exc:
            print(f"  batch {b}: ERROR {short_error(exc)}", flush=True)
            traceback.print_exc(limit=-3)
    names = sorted({n for r in rows.values() for n in r},
                   key=lambda n: (n.split()[0], n))
    batches = [b for b in cfg["batches"] if b in rows]
    print("| kernel | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|" + "---:|" * len(batches))
    for name in names:
        print(f"| {name} | " + " | ".join(fmt(rows[b].get(name), 1) for b in batches) + " |")
    print("| **sum of medians** | " + " | ".join(fmt(sum(rows[b].values()), 1) for b in batches) + " |")


# --------------------------------------------------------------- 4. per epoch

def fastbp_epochs(X, y, hidden, device, batch, epochs, warmup):
    """Median seconds per epoch of a fastbp fit, from ``history_['epoch_time']``.

    Parameters
    ----------
    X, y : ndarray
    hidden : tuple of int
    device : {"cpu", "cuda"}
    batch : int
    epochs : int
        Epochs timed.
    warmup : int
        Leading epochs left out of the median (the first launches of a batch
        size allocate scratch buffers).

    Returns
    -------
    float
    """
    model = fit(X, y, device, hidden_layer_sizes=hidden, batch_size=batch,
                max_iter=warmup + epochs, shuffle=True, n_iter_no_change=10**9, **ADAM)
    times = np.asarray(model.history_["epoch_time"])[warmup:]
    return float(np.median(times))


def torch_epochs(torch, X, y, hidden, batch, epochs, graph, device="cuda"):
    """Median seconds per epoch of the same network in PyTorch.

    Linear-ReLU-...-Linear with cross-entropy (mean over the batch), Adam
    with ``fused=True`` and ``weight_decay=alpha``, float32, data resident on
    the GPU and reshuffled on the GPU every epoch.

    Parameters
    ----------
    torch : module
    X, y : ndarray
    hidden : tuple of int
    batch : int
    epochs : int
        Epochs timed, after one warm-up epoch.
    graph : bool
        Capture one full step (gather, forward, backward, Adam) in a CUDA
        graph and replay it; the last, partial batch runs eagerly.
    device : str
        ``"cuda"``; ``"cpu"`` (eager only) checks this code without a GPU.

    Returns
    -------
    float
    """
    import torch.nn.functional as F

    dev = torch.device(device)
    on_gpu = dev.type == "cuda"

    def sync():
        # The timers must wait for the GPU's queue to drain.
        if on_gpu:
            torch.cuda.synchronize()

    torch.manual_seed(0)
    sizes = [X.shape[1], *hidden, int(y.max()) + 1]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM["learning_rate_init"],
                           betas=(ADAM["beta_1"], ADAM["beta_2"]), eps=ADAM["epsilon"],
                           weight_decay=ADAM["alpha"], fused=True, capturable=graph)
    Xt = torch.from_numpy(X).to(dev)
    yt = torch.from_numpy(y.astype(np.int64)).to(dev)
    n = Xt.shape[0]

    def step(idx):
        loss = F.cross_entropy(model(Xt.index_select(0, idx)), yt.index_select(0, idx))
        loss.backward()
        opt.step()

    def eager_epoch():
        perm = torch.randperm(n, device=dev)
        for s in range(0, n, batch):
            opt.zero_grad(set_to_none=True)
            step(perm[s:s + batch])

    run_epoch = eager_epoch
    if graph:
        n_full = n // batch
        static_idx = torch.arange(batch, device=dev)
        # Warm up on a side stream before capture, as PyTorch's CUDA-graph
        # recipe requires (lazy initialisation must not be captured).
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                step(static_idx)
        torch.cuda.current_stream().wait_stream(side)
        opt.zero_grad(set_to_none=True)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step(static_idx)

        def graph_epoch():
            perm = torch.randperm(n, device=dev)
            for i in range(n_full):
                static_idx.copy_(perm[i * batch:(i + 1) * batch])
                g.replay()
            if n_full * batch < n:
                # The graph's gradients are static tensors: zero them in place.
                opt.zero_grad(set_to_none=False)
                step(perm[n_full * batch:])

        run_epoch = graph_epoch

    times = []
    for i in range(1 + epochs):
        sync()
        t0 = time.perf_counter()
        run_epoch()
        sync()
        if i:  # the first epoch warms up cuBLAS and the fused kernels
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure_epochs(X, y, cfg, args, results):
    """Per-epoch times of fastbp (GPU, CPU) and PyTorch (eager, graph)."""
    hidden = cfg["hidden"]
    epochs = max(1, args.epochs)
    print(f"Network {X.shape[1]}-{'-'.join(map(str, hidden))}-{cfg['n_classes']}, float32, "
          f"adam, {X.shape[0]} samples; medians of {epochs} epoch(s) after 1 warm-up epoch, "
          "every column")
    rows = results["per_epoch"] = {}
    for b in cfg["batches"]:
        rows[b] = dict(cuda=None, cpu=None, eager=None, graph=None)

    if results.get("cuda_problem") is None:
        for b in cfg["batches"]:
            try:
                rows[b]["cuda"] = fastbp_epochs(X, y, hidden, "cuda", b, epochs, 1) * 1e3
                print(f"  fastbp cuda  batch {b:>5}: {rows[b]['cuda']:.2f} ms/epoch", flush=True)
            except Exception as exc:
                print(f"  fastbp cuda  batch {b:>5}: ERROR {short_error(exc)}", flush=True)
                traceback.print_exc(limit=-3)
    else:
        print("  fastbp cuda: skipped (CUDA not usable)")

    if args.no_cpu:
        print("  fastbp cpu: skipped (--no-cpu)")
    else:
        try:
            # Compile the CPU kernels outside the timed epoch.
            fit(X[:256], y[:256], "cpu", hidden_layer_sizes=hidden, batch_size=32,
                max_iter=1, **ADAM)
            for b in cfg["batches"]:
                # helper-77: timed as the GPU and PyTorch columns are (it was
                # one first epoch, against their medians after a warm-up).
                rows[b]["cpu"] = fastbp_epochs(X, y, hidden, "cpu", b, epochs, 1) * 1e3
                print(f"  fastbp cpu   batch {b:>5}: {rows[b]['cpu']:.2f} ms/epoch", flush=True)
        except Exception as exc:
            print(f"  fastbp cpu: ERROR {short_error(exc)}", flush=True)
            traceback.print_exc(limit=-3)

    torch = None if args.no_torch else import_torch()
    if args.no_torch:
        print("  torch: skipped (--no-torch)")
    elif isinstance(torch, Exception):
        print(f"  torch: n/a (not importable: {short_error(torch)})")
    elif not torch.cuda.is_available():
        print("  torch: n/a (torch.cuda.is_available() is False)")
    else:
        for b in cfg["batches"]:
            for kind in ("eager", "graph"):
                try:
                    rows[b][kind] = torch_epochs(torch, X, y, hidden, b, epochs,
                                                 graph=kind == "graph") * 1e3
                    print(f"  torch {kind:<6} batch {b:>5}: {rows[b][kind]:.2f} ms/epoch",
                          flush=True)
                except Exception as exc:
                    print(f"  torch {kind:<6} batch {b:>5}: n/a ({short_error(exc)})",
                          flush=True)

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    print("\n| batch | fastbp cuda ms/epoch | fastbp cpu ms/epoch | torch eager ms/epoch "
          "| torch graph ms/epoch | cpu/cuda | torch_eager/fastbp_cuda "
          "| torch_graph/fastbp_cuda |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in cfg["batches"]:
        r = rows[b]
        print(f"| {b} | {fmt(r['cuda'])} | {fmt(r['cpu'])} | {fmt(r['eager'])} | "
              f"{fmt(r['graph'])} | {fmt(ratio(r['cpu'], r['cuda']), 1, 'x')} | "
              f"{fmt(ratio(r['eager'], r['cuda']), 2, 'x')} | "
              f"{fmt(ratio(r['graph'], r['cuda']), 2, 'x')} |")


# ----------------------------------------------------------------- 5. summary

def summarise(cfg, args, results):
    """Each goal with its measurement and MET / MISSED / n/a."""
    small, mid, large = cfg["batches"]
    epoch = results.get("per_epoch", {})
    step = results.get("per_step", {})

    def get(table, b, key):
        return table.get(b, {}).get(key)

    step = {b: modes.get("marshalled", {}) for b, modes in step.items()}

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    goals = [
        (f">= {GOAL_CPU_SPEEDUP:.0f}x fastbp CPU epoch at batch {large} (cpu/cuda)",
         ratio(get(epoch, large, "cpu"), get(epoch, large, "cuda")), GOAL_CPU_SPEEDUP, "x",
         "ge"),
        (f"per-step <= {GOAL_STEP_US:.0f} us at batch {small}, no CUDA graph (wall, synced; "
         f"host launch loop alone: {fmt(get(step, small, 'host'), 1, ' us')})",
         get(step, small, "wall"), GOAL_STEP_US, " us", "le"),
        (f">= {GOAL_TORCH_SMALL:.0f}x torch eager fused-Adam throughput at batch {small}",
         ratio(get(epoch, small, "eager"), get(epoch, small, "cuda")), GOAL_TORCH_SMALL, "x",
         "ge"),
        (f">= {GOAL_TORCH_SMALL:.0f}x torch eager fused-Adam throughput at batch {mid}",
         ratio(get(epoch, mid, "eager"), get(epoch, mid, "cuda")), GOAL_TORCH_SMALL, "x",
         "ge"),
        (f">= {GOAL_TORCH_LARGE:.0f}x torch eager fused-Adam throughput at batch {large}",
         ratio(get(epoch, large, "eager"), get(epoch, large, "cuda")), GOAL_TORCH_LARGE, "x",
         "ge"),
    ]
    if args.smoke or results.get("simulator"):
        print("NOTE: smoke shapes and/or the CUDA simulator: the verdicts below are "
              "meaningless, they only show the bookkeeping works.\n")
    print(f"data: {results.get('data', '?')}\n")
    for text, value, target, unit, sense in goals:
        if value is None:
            verdict = "n/a"
        else:
            met = value >= target if sense == "ge" else value <= target
            verdict = "MET" if met else "MISSED"
        shown = "n/a" if value is None else f"{value:.2f}{unit}"
        print(f"  [{verdict:<6}] {text}: {shown}")

    parity = results.get("parity", {})
    if parity:
        failed = [k for k, ok in parity.items() if not ok]
        print(f"\n  parity: {len(parity) - len(failed)}/{len(parity)} PASS"
              + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if results["errors"]:
        print("\n  sections that failed:")
        for key, err in results["errors"].items():
            print(f"    {key}: {err}")


# --------------------------------------------------------------------- main

def parse_args(argv=None):
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="tiny shapes and tiles (for the CUDA simulator): checks the script")
    p.add_argument("--no-cpu", action="store_true", help="skip the fastbp CPU epochs")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    p.add_argument("--epochs", type=int, default=None,
                   help="timed epochs per case (default 3; 1 with --smoke); in section 4, "
                        "after one warm-up epoch, for every column")
    p.add_argument("--only", default=None,
                   help="comma-separated sections to run, of: parity, steps, kernels, epochs "
                        "(default: all)")
    p.add_argument("--tiles", action="append", default=None, metavar="TM,TN,TK,RM,RN[,SPLIT]",
                   help="product tiles for section 3b, repeatable: one per-kernel table "
                        "for each (default: the configured tiles); SPLIT sets the blocks "
                        "split-K aims for (0: no split)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.epochs is None:
        args.epochs = cfg["epochs"]
    results = {"errors": {}, "t0": time.perf_counter()}
    print(f"fastbp GPU check{' (SMOKE: tiny shapes, timings meaningless)' if args.smoke else ''}"
          f"  --  {time.strftime('%Y-%m-%d %H:%M:%S')}")

    if cfg["tiles"] is not None and cuda_problem() is None:
        from fastbp.kernels.cuda import network

        network.configure(tiles=cfg["tiles"], threads=cfg["threads"])

    with section("1. Versions", results, "versions"):
        report_versions(args, results)
    results.setdefault("cuda_problem", cuda_problem())
    cuda_ok = results["cuda_problem"] is None

    def require(cuda=True, data=True):
        """Skip the section without a usable GPU (``cuda``) or data."""
        if cuda and not cuda_ok:
            raise Skip(f"CUDA not usable: {results['cuda_problem']}")
        if data and X is None:
            raise Skip("no data")

    X = y = None
    only = None if args.only is None else set(args.only.split(","))
    if only is not None and not only <= SECTIONS:
        raise SystemExit(f"--only: unknown section(s) {sorted(only - SECTIONS)}; "
                         f"choose from {sorted(SECTIONS)}")

    def wanted(name):
        if only is not None and name not in only:
            raise Skip("not in --only")

    with section("2. Parity: device='cuda' vs device='cpu'", results, "parity"):
        wanted("parity")
        require(data=False)
        check_parity(cfg, results)

    with section("Data", results, "data"):
        X, y = load_data(cfg, results)

    with section("3. Per-step time of the GPU driver (train_epoch)", results, "per_step"):
        wanted("steps")
        require()
        measure_steps(X, y, cfg, args, results)

    with section("3b. Device time per kernel", results, "per_kernel"):
        wanted("kernels")
        require()
        measure_kernels(X, y, cfg, args, results)

    with section("4. Per-epoch time", results, "per_epoch"):
        wanted("epochs")
        require(cuda=False)
        measure_epochs(X, y, cfg, args, results)

    with section("5. Summary", results, "summary"):
        summarise(cfg, args, results)
    print(f"\nTotal: {time.perf_counter() - results['t0']:.1f} s")


if __name__ == "__main__":
    main()
