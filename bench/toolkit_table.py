"""Demonstrate fastbp's training toolkit on real MNIST, in three small tables.

    python bench/toolkit_table.py [--data-dir D] [--quick]

1. Depth: a 10-hidden-layer logistic network (64 units each, default
   glorot_uniform init) barely trains: ``history_['grad_norm']`` shows the
   first layer's gradient orders of magnitude below the last's. The same
   depth with (a) relu + he_uniform, (b) normalization='batch',
   (c) residual=True does train.
2. Dropout: a wide (512, 512) network overfits a small training subset; the
   test accuracy with dropout 0 / 0.3 / 0.5, over several seeds.
3. Batch norm: a (256,)*4 relu network at a solver's usual learning rate and
   at 10x (and 100x for Adam) that rate, with and without
   normalization='batch'. A fit that raises fastbp's "non-finite parameter
   weights" ValueError, or whose loss is not finite, is reported as diverged.

MNIST is read from ``--data-dir`` or, if not given, the ``FASTBP_DATA_DIR``
environment variable (see :func:`fastbp.datasets.load_mnist`). Pixels are
scaled to [0, 1], float32. Training subsets are stratified and drawn with a
fixed seed; every estimator has a fixed ``random_state`` and trains for a
fixed number of epochs (``n_iter_no_change`` set to the epoch budget), so
runs are reproducible up to floating-point summation order.

Each row is printed as soon as its fits finish. The rows, settings and
per-epoch histories are saved as JSON to ``bench/results/toolkit_table.json``
(``toolkit_table_quick.json`` with ``--quick``, ``_<name>`` added for each
``--only``), and the printed markdown to the same name with ``.md``. ``--quick`` uses smaller subsets and fewer epochs
(well under a minute on an idle 2-core machine); its numbers only show that
the script works, not the effects.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

# Run as a script, sys.path[0] is bench/ itself, whose modules (threads.py,
# memory.py, ...) must not shadow anything: put the repository root there.
if __package__ in (None, ""):
    _here = Path(__file__).resolve().parent
    _root = str(_here.parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    if _root not in sys.path:
        sys.path.insert(0, _root)

import numba
import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import fastbp
from fastbp.datasets import DATA_DIR_ENV, DatasetNotFoundError, load_mnist
from fastbp.machine import cpu_model

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MNIST_CREDIT = ("MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0 "
                "(http://yann.lecun.com/exdb/mnist/).")

# Sizes. The full run is meant to take a few minutes on an idle 2-core
# machine (about 10 at most); --quick well under a minute.
SETTINGS = {
    "full": {
        "n_test": None,  # the whole 10,000-image test set
        "depth": {"n_train": 5000, "epochs": 10, "hidden": (64,) * 10},
        "dropout": {"n_train": 2000, "epochs": 30, "hidden": (512, 512),
                    "rates": (0.0, 0.3, 0.5), "seeds": (0, 1, 2)},
        "batchnorm": {"n_train": 5000, "epochs": 8, "hidden": (256,) * 4},
    },
    "quick": {
        "n_test": 2000,
        "depth": {"n_train": 1000, "epochs": 4, "hidden": (64,) * 10},
        "dropout": {"n_train": 500, "epochs": 12, "hidden": (512, 512),
                    "rates": (0.0, 0.5), "seeds": (0,)},
        "batchnorm": {"n_train": 1000, "epochs": 3, "hidden": (256,) * 4},
    },
}

# Demonstration 1: (label, estimator parameters). All use Adam at its default
# learning rate (1e-3) unless they say otherwise; the second row is the same
# logistic network under SGD with Nesterov momentum, to show that the failure
# is not Adam's.
DEPTH_CASES = [
    ("logistic, glorot_uniform (baseline)", {"activation": "logistic"}),
    ("logistic, glorot_uniform, sgd lr=0.01 (baseline)",
     {"activation": "logistic", "solver": "sgd", "learning_rate_init": 0.01}),
    ("(a) relu + he_uniform", {"activation": "relu", "init": "he_uniform"}),
    ("(b) logistic + normalization='batch'",
     {"activation": "logistic", "normalization": "batch"}),
    ("(c) logistic + residual=True", {"activation": "logistic", "residual": True}),
    ("(c) relu + residual=True (glorot_uniform)", {"activation": "relu", "residual": True}),
]

# Demonstration 3: (solver, learning rate, what the rate is).
BN_RATES = [
    ("adam", 1e-3, "default"),
    ("adam", 1e-2, "10x default"),
    ("adam", 1e-1, "100x default"),
    ("sgd", 0.1, "usual for momentum sgd"),
    ("sgd", 1.0, "10x that"),
]


def log(msg=""):
    print(msg, flush=True)


def git_revision():
    """``<commit>`` of the checkout, with ``+dirty`` if fastbp/ has local edits."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True, check=False,
                             capture_output=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "fastbp"], cwd=root,
                               text=True, check=False, capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("+dirty" if dirty else "")) or None


def environment(argv):
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        load = None
    return {
        "command": shlex.join(["python", *argv]),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": cores,
        "load_average_at_start": load,
        "python": platform.python_version(),
        "fastbp": fastbp.__version__,
        "git": git_revision(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "sklearn": sklearn.__version__,
    }


def fit_one(params, X, y, X_test, y_test):
    """Fit one MLPClassifier; never raise for divergence.

    Returns a dict with the test/train accuracy (None if the fit diverged),
    whether it diverged and why, the GradientWarning message (or None), the
    per-epoch history and the wall/CPU time of the fit.
    """
    model = fastbp.MLPClassifier(**params)
    error = None
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X, y)
        except ValueError as exc:  # "Solver produced non-finite parameter weights"
            error = str(exc)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    grad_warnings = [str(w.message) for w in caught if issubclass(w.category, fastbp.GradientWarning)]
    other = [f"{w.category.__name__}: {w.message}" for w in caught
             if not issubclass(w.category, fastbp.GradientWarning)]

    # A failed fit is transactional: the estimator keeps no history_.
    history = getattr(model, "history_", None) if error is None else None
    loss = None if history is None else np.asarray(history["loss"], dtype=float)
    diverged = error is not None or (loss is not None and not np.isfinite(loss).all())
    test_acc = train_acc = None
    if not diverged:
        with np.errstate(all="ignore"):
            test_acc = float(model.score(X_test, y_test))
            train_acc = float(model.score(X, y))
    out = {
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "diverged": bool(diverged),
        "error": error,
        "gradient_warning": grad_warnings[0] if grad_warnings else None,
        "other_warnings": other,
        "n_iter": None if history is None else int(model.n_iter_),
        "fit_wall_s": round(wall, 3),
        "fit_cpu_s": round(cpu, 3),
        "history": None if history is None else {
            k: np.asarray(v, dtype=float).tolist() for k, v in history.items()},
    }
    if not diverged:
        out["first_layer_weight_norm"] = float(np.linalg.norm(model.coefs_[0]))
    return out


def fmt_acc(a):
    return "–" if a is None else f"{a:.4f}"


def fmt_sci(v):
    return "–" if v is None or not np.isfinite(v) else f"{v:.2e}"


def warning_kind(msg):
    if msg is None:
        return "no"
    if "vanished" in msg:
        return "yes (vanishing)"
    if "non-finite" in msg:
        return "yes (non-finite)"
    if "exploding" in msg:
        return "yes (exploding)"
    return "yes"


class Table:
    """A markdown table printed row by row and kept for the .md file."""

    def __init__(self, title, note, columns, lines):
        self.columns = columns
        self.lines = lines
        for text in (f"### {title}", "", note, "",
                     "| " + " | ".join(columns) + " |",
                     "|" + "|".join("---" for _ in columns) + "|"):
            self._emit(text)

    def _emit(self, text):
        self.lines.append(text)
        log(text)

    def row(self, cells):
        assert len(cells) == len(self.columns)
        self._emit("| " + " | ".join(str(c) for c in cells) + " |")

    def end(self):
        self._emit("")


def subset(X, y, n, seed=0):
    if n >= len(y):
        return X, y
    Xs, _, ys, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=seed)
    return np.ascontiguousarray(Xs), ys


def demo_depth(cfg, data, lines):
    X, y = subset(data["X_train"], data["y_train"], cfg["n_train"])
    X_test, y_test = data["X_test"], data["y_test"]
    epochs, hidden = cfg["epochs"], cfg["hidden"]
    table = Table(
        f"1. Depth: {len(hidden)} hidden layers of {hidden[0]}, {len(y)} training images, "
        f"{epochs} epochs",
        "Adam (lr 1e-3) unless stated, alpha 1e-4, batch 200. Gradient norms are "
        "`history_['grad_norm']` of the last epoch (RMS over its steps) for the first "
        "and last weight layers; ‖W₁‖ is the first layer's weight norm at the end "
        "(GradientWarning's vanishing test is grad < 1e-7 ‖W‖ for 3 epochs).",
        ["configuration", "test acc", "‖∇W₁‖", "‖∇W_last‖", "first/last", "‖W₁‖",
         "GradientWarning", "fit s"], lines)
    rows = []
    for label, extra in DEPTH_CASES:
        params = {"hidden_layer_sizes": hidden, "solver": "adam", "max_iter": epochs,
                  "n_iter_no_change": epochs, "random_state": 0, **extra}
        r = fit_one(params, X, y, X_test, y_test)
        r["label"] = label
        g_first = g_last = ratio = None
        if r["history"] is not None:
            g = np.asarray(r["history"]["grad_norm"])
            g_first, g_last = float(g[-1, 0]), float(g[-1, -1])
            ratio = g_first / g_last if g_last > 0 else float("nan")
        r.update(grad_norm_first=g_first, grad_norm_last=g_last, grad_ratio=ratio)
        table.row([label, fmt_acc(r["test_accuracy"]) + (" (diverged)" if r["diverged"] else ""),
                   fmt_sci(g_first), fmt_sci(g_last), fmt_sci(ratio),
                   fmt_sci(r.get("first_layer_weight_norm")),
                   warning_kind(r["gradient_warning"]), f"{r['fit_wall_s']:.1f}"])
        rows.append(r)
    table.end()
    return rows


def demo_dropout(cfg, data, lines):
    X, y = subset(data["X_train"], data["y_train"], cfg["n_train"])
    X_test, y_test = data["X_test"], data["y_test"]
    epochs, hidden, seeds = cfg["epochs"], cfg["hidden"], cfg["seeds"]
    table = Table(
        f"2. Dropout: {hidden} relu, {len(y)} training images, {epochs} epochs, "
        f"seeds {', '.join(map(str, seeds))}",
        "Adam (lr 1e-3), alpha 1e-4, batch 200; the seed (`random_state`) changes "
        "the initial weights, the shuffling and the dropout masks, not the training "
        "subset. mean ± std over seeds (population std); Δ is against dropout 0.",
        ["dropout", "test acc per seed", "test acc mean ± std", "Δ mean", "train acc (mean)",
         "final train loss (mean)", "fit s (total)"], lines)
    rows, base = [], None
    for rate in cfg["rates"]:
        fits = []
        for seed in seeds:
            params = {"hidden_layer_sizes": hidden, "solver": "adam", "dropout": rate,
                      "max_iter": epochs, "n_iter_no_change": epochs, "random_state": seed}
            fits.append(fit_one(params, X, y, X_test, y_test))
        accs = [f["test_accuracy"] for f in fits]
        ok = [a for a in accs if a is not None]
        mean = float(np.mean(ok)) if ok else None
        std = float(np.std(ok)) if ok else None
        if base is None:
            base = mean
        train = [f["train_accuracy"] for f in fits if f["train_accuracy"] is not None]
        losses = [f["history"]["loss"][-1] for f in fits if f["history"] is not None]
        row = {"label": f"dropout={rate}", "dropout": rate, "seeds": list(seeds),
               "test_accuracy_per_seed": accs, "test_accuracy_mean": mean,
               "test_accuracy_std": std, "train_accuracy_mean": float(np.mean(train)) if train else None,
               "final_loss_mean": float(np.mean(losses)) if losses else None,
               "fit_wall_s": round(sum(f["fit_wall_s"] for f in fits), 3), "fits": fits}
        delta = None if mean is None or base is None else mean - base
        table.row([f"{rate:g}", " / ".join(fmt_acc(a) for a in accs),
                   "–" if mean is None else f"{mean:.4f} ± {std:.4f}",
                   "–" if delta is None else f"{delta * 100:+.2f} pp",
                   fmt_acc(row["train_accuracy_mean"]),
                   "–" if row["final_loss_mean"] is None else f"{row['final_loss_mean']:.4f}",
                   f"{row['fit_wall_s']:.1f}"])
        rows.append(row)
    table.end()
    return rows


def demo_batchnorm(cfg, data, lines):
    X, y = subset(data["X_train"], data["y_train"], cfg["n_train"])
    X_test, y_test = data["X_test"], data["y_test"]
    epochs, hidden = cfg["epochs"], cfg["hidden"]
    table = Table(
        f"3. Batch norm and the learning rate: {hidden} relu, {len(y)} training images, "
        f"{epochs} epochs",
        "Default glorot_uniform init, alpha 1e-4, batch 200; sgd has Nesterov momentum "
        "0.9. 'diverged' = the fit raised fastbp's non-finite-weights ValueError or its "
        "loss became non-finite. Dead = share of relu units zero for every sample in "
        "the last epoch.",
        ["solver", "lr", "normalization", "test acc", "final train loss", "dead relu",
         "GradientWarning", "fit s"], lines)
    rows = []
    for solver, lr, what in BN_RATES:
        for norm in (None, "batch"):
            params = {"hidden_layer_sizes": hidden, "solver": solver, "learning_rate_init": lr,
                      "normalization": norm, "max_iter": epochs, "n_iter_no_change": epochs,
                      "random_state": 0}
            r = fit_one(params, X, y, X_test, y_test)
            r["label"] = f"{solver} lr={lr:g} ({what}), normalization={norm}"
            h = r["history"]
            loss = None if h is None else h["loss"][-1]
            dead = None if h is None else h["dead_fraction"][-1]
            acc = "diverged" if r["diverged"] else fmt_acc(r["test_accuracy"])
            table.row([solver, f"{lr:g} ({what})", str(norm), acc,
                       "–" if loss is None or not np.isfinite(loss) else f"{loss:.4f}",
                       "–" if dead is None or not np.isfinite(dead) else f"{dead:.0%}",
                       warning_kind(r["gradient_warning"]), f"{r['fit_wall_s']:.1f}"])
            rows.append(r)
    table.end()
    return rows


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None,
                    help=f"directory with the four MNIST IDX files (default: ${DATA_DIR_ENV})")
    ap.add_argument("--quick", action="store_true",
                    help="smaller subsets and fewer epochs (< 60 s); checks the script only")
    ap.add_argument("--only", choices=("depth", "dropout", "batchnorm"), action="append",
                    help="run only this demonstration (repeatable)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON output path (default: bench/results/toolkit_table[_quick][_<only>].json)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = SETTINGS[mode]
    env = environment(sys.argv if argv is None else [sys.argv[0], *argv])

    try:
        X_train, y_train, X_test, y_test = load_mnist(args.data_dir)
    except DatasetNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings["n_test"] is not None:
        X_test, y_test = X_test[:settings["n_test"]], y_test[:settings["n_test"]]
    data = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}

    lines = []
    for text in (
            f"# fastbp toolkit table ({mode})", "",
            f"- command: `{env['command']}`",
            f"- date: {env['date']}",
            (f"- CPU: {env['cpu']} ({env['cores']} cores available; load average at start "
             f"{env['load_average_at_start']})"),
            (f"- versions: fastbp {env['fastbp']} (git {env['git']}), numpy {env['numpy']}, "
             f"numba {env['numba']}, scikit-learn {env['sklearn']}, Python {env['python']}"),
            f"- data: {MNIST_CREDIT} Pixels / 255, float32; test set: {len(y_test)} images.",
            ""):
        lines.append(text)
        log(text)

    start = time.perf_counter()
    results = {"mode": mode, "environment": env, "mnist_credit": MNIST_CREDIT,
               "settings": {k: v for k, v in settings.items()}, "sections": {}}
    demos = {"depth": demo_depth, "dropout": demo_dropout, "batchnorm": demo_batchnorm}
    for name, demo in demos.items():
        if args.only and name not in args.only:
            continue
        results["sections"][name] = demo(settings[name], data, lines)

    total = time.perf_counter() - start
    results["total_wall_s"] = round(total, 1)
    try:
        results["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        pass
    tail = (f"Total training/evaluation time: {total:.0f} s (load average at end "
            f"{results.get('load_average_at_end')}).")
    lines.append(tail)
    log(tail)

    # Partial or quick runs never overwrite the full table's files.
    stem = "toolkit_table" + ("_quick" if args.quick else "") + "".join(
        f"_{name}" for name in (args.only or ()))
    out = args.out or RESULTS_DIR / f"{stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        json.dump(_finite(results), fh, indent=1, default=_json_default, allow_nan=False)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    log(f"Saved {out} and {out.with_suffix('.md')}.")
    return 0


def _finite(obj):
    """Strict JSON: non-finite floats (NaN dead fraction without relu, a
    diverged loss) become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


if __name__ == "__main__":
    sys.exit(main())
