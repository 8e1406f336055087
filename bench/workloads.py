"""Workloads (data + network shape) and the benchmark grids.

Two workloads, from the project issue:

* ``tabular``: :func:`fastbp.datasets.make_tabular` (10000 x 20, 4 classes),
  one hidden layer of 64 units;
* ``mnist``: real MNIST via :func:`fastbp.datasets.load_mnist` (read from the
  directory named by ``FASTBP_DATA_DIR``), hidden layers (256, 128).

Three modes pick the grid of (workload, batch size, dtype, threads):

* ``smoke`` -- the default for pytest (``--benchmark-disable`` in addopts, or
  ``FASTBP_BENCH_FULL`` unset): small data, short grid, every benchmark runs
  once so CI exercises all code paths in well under two minutes;
* ``quick`` -- the default of ``python -m bench.report``: real sizes for
  tabular, a 10000-image MNIST subset, float32 only;
* ``full`` -- the README's tables: full MNIST, batch sizes 32/200/1024,
  float32 and float64, 1 and 2 threads.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODES = ("smoke", "quick", "full")

#: Environment variable that switches pytest benches to the full grid
#: (only together with ``--benchmark-enable``).
FULL_ENV = "FASTBP_BENCH_FULL"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def pytest_mode(benchmark_disabled: bool) -> str:
    """Mode of a pytest run: full only with FASTBP_BENCH_FULL and timing on."""
    return "full" if (env_flag(FULL_ENV) and not benchmark_disabled) else "smoke"


# ---------------------------------------------------------------------------
# workloads and data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A data set (possibly a leading subset of it) and a hidden-layer shape."""

    name: str  # "tabular" or "mnist"
    hidden: tuple[int, ...]
    n_features: int
    n_classes: int
    n_train: int | None = None  # None: every training row
    n_test: int | None = None  # None: every test row (mnist only)

    @property
    def label(self) -> str:
        return self.name if self.n_train is None else f"{self.name}{self.n_train}"

    @property
    def sizes(self) -> list[int]:
        """Layer widths, input first (see :func:`bench.flops.layer_sizes`)."""
        from .flops import layer_sizes

        return layer_sizes(self.n_features, self.hidden, self.n_classes)


def tabular(n_samples: int = 10000) -> Workload:
    return Workload("tabular", (64,), n_features=20, n_classes=4, n_train=n_samples)


def mnist(n_train: int | None = None, n_test: int | None = None) -> Workload:
    return Workload("mnist", (256, 128), n_features=784, n_classes=10, n_train=n_train,
                    n_test=n_test)


@dataclass
class Dataset:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: np.ndarray = field(init=False)

    def __post_init__(self):
        self.classes = np.unique(self.y_train)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def datasets_module(standalone: bool = False):
    """``fastbp.datasets``.

    With ``standalone`` and fastbp not imported yet, the module is loaded on
    its own from its file, without the package's ``__init__`` (Numba, the
    estimators): it needs only NumPy, and this saves a peer's worker process
    (``bench.worker``) ~1.5 s of start-up. Same code, same data. Falls back
    to the package import when that fails.
    """
    if standalone and "fastbp" not in sys.modules:
        name = "_bench_standalone_fastbp_datasets"
        if name in sys.modules:
            return sys.modules[name]
        try:
            pkg = importlib.util.find_spec("fastbp")
            path = Path(next(iter(pkg.submodule_search_locations))) / "datasets.py"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        except Exception:  # noqa: BLE001 - e.g. it grew a package import: the usual way
            sys.modules.pop(name, None)
    from fastbp import datasets

    return datasets


@functools.lru_cache(maxsize=8)
def load(workload: Workload, dtype: str) -> Dataset:
    """Load a workload's data in ``dtype`` (cached per process).

    Raises ImportError when ``fastbp.datasets`` cannot be imported and
    FileNotFoundError/ValueError when MNIST is not available or is corrupt;
    :func:`unavailable_reason` turns these into skip reasons.
    """
    return load_uncached(workload, dtype)


def load_uncached(workload: Workload, dtype: str, standalone: bool = False) -> Dataset:
    """:func:`load` without the cache (``standalone``: see :func:`datasets_module`)."""
    datasets = datasets_module(standalone)

    dt = np.dtype(dtype)
    if workload.name == "tabular":
        X, y = datasets.make_tabular(
            n_samples=workload.n_train or 10000, n_features=workload.n_features,
            n_classes=workload.n_classes,
            random_state=0, dtype=dt,
        )
        return Dataset(X, y, None, None)
    if workload.name == "mnist":
        # load_mnist(data_dir=None) reads FASTBP_DATA_DIR.
        Xtr, ytr, Xte, yte = datasets.load_mnist(dtype=dt)
        if workload.n_train is not None:
            Xtr, ytr = Xtr[: workload.n_train].copy(), ytr[: workload.n_train].copy()
        if workload.n_test is not None:
            Xte, yte = Xte[: workload.n_test].copy(), yte[: workload.n_test].copy()
        return Dataset(Xtr, ytr, Xte, yte)
    raise ValueError(f"unknown workload {workload.name!r}")


def unavailable_reason(workload: Workload) -> str | None:
    """Why ``workload`` cannot be loaded, or None when it can."""
    try:
        load(workload, "float32")
    except ImportError as exc:
        return f"fastbp.datasets not importable: {exc}"
    except (OSError, ValueError) as exc:  # DatasetNotFoundError, DatasetError
        msg = str(exc)
        return f"{workload.name} data unavailable (set FASTBP_DATA_DIR): {msg[:160]}"
    return None


# ---------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochCase:
    """One cell of the per-epoch timing grid."""

    workload: Workload
    batch_size: int
    dtype: str
    threads: int

    @property
    def id(self) -> str:
        return f"{self.workload.label}-b{self.batch_size}-{self.dtype}-t{self.threads}"


@dataclass(frozen=True)
class FitSetting:
    """A workload trained for a number of epochs (memory and accuracy rows)."""

    workload: Workload
    batch_size: int
    epochs: int
    dtype: str = "float32"
    threads: int = 1


@dataclass(frozen=True)
class Grid:
    mode: str
    workloads: tuple[Workload, ...]
    batch_sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    threads: tuple[int, ...]
    rounds: int  # timed epochs per system
    warmup: int  # untimed epochs per system first (compilation, caches)
    compile_dtypes: tuple[str, ...]
    memory: FitSetting
    accuracy: FitSetting

    def cases(self) -> list[EpochCase]:
        return [
            EpochCase(w, b, dt, t)
            for w in self.workloads
            for b in self.batch_sizes
            for dt in self.dtypes
            for t in self.threads
        ]


def grid_for(mode: str) -> Grid:
    if mode == "smoke":
        small_mnist = mnist(n_train=2000, n_test=1000)
        return Grid(
            mode=mode,
            workloads=(tabular(2000), small_mnist),
            batch_sizes=(200,),
            dtypes=("float32", "float64"),
            threads=(1, 2),
            rounds=1,
            warmup=1,
            compile_dtypes=("float64",),  # a cold compile costs ~15 s per dtype
            memory=FitSetting(small_mnist, batch_size=200, epochs=1),
            accuracy=FitSetting(small_mnist, batch_size=200, epochs=2),
        )
    if mode == "quick":
        return Grid(
            mode=mode,
            workloads=(tabular(10000), mnist(n_train=10000)),
            batch_sizes=(32, 200, 1024),
            dtypes=("float32",),
            threads=(1, 2),
            rounds=3,
            warmup=1,
            compile_dtypes=("float32", "float64"),
            memory=FitSetting(mnist(), batch_size=200, epochs=1),
            accuracy=FitSetting(mnist(n_train=10000), batch_size=200, epochs=5),
        )
    if mode == "full":
        return Grid(
            mode=mode,
            workloads=(tabular(10000), mnist()),
            batch_sizes=(32, 200, 1024),
            dtypes=("float32", "float64"),
            threads=(1, 2),
            rounds=5,
            warmup=1,
            compile_dtypes=("float32", "float64"),
            memory=FitSetting(mnist(), batch_size=200, epochs=2),
            accuracy=FitSetting(mnist(), batch_size=200, epochs=10),
        )
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
