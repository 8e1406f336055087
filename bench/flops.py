"""Exact GEMM FLOPs of one training epoch, and the GEMM shapes behind them.

For an MLP with layer widths ``sizes = [n_features, *hidden, n_out]`` trained
on ``n`` samples (any batch size), one epoch performs, per layer ``l`` with
fan-in ``fi`` and fan-out ``fo``:

* forward            ``Z = A @ W``            2 * n * fi * fo
* weight gradient    ``G = A.T @ D``          2 * n * fi * fo
* input gradient     ``D_prev = D @ W.T``     2 * n * fi * fo, every layer but
  the first (nobody needs the gradient with respect to X).

Activations, softmax, loss, bias and optimizer work are O(n * width) or
O(n_params) and are not counted: GFLOP/s figures are GEMM FLOPs per second.
"""

from __future__ import annotations

from dataclasses import dataclass


def layer_sizes(n_features: int, hidden: tuple[int, ...], n_classes: int) -> list[int]:
    """Layer widths as scikit-learn builds them (one output unit for 2 classes)."""
    n_out = 1 if n_classes == 2 else n_classes
    return [int(n_features), *map(int, hidden), n_out]


def epoch_flops(n_samples: int, sizes: list[int]) -> dict[str, int]:
    """GEMM FLOPs of one epoch over ``n_samples`` rows, by kind and in total."""
    fwd = wgrad = igrad = 0
    for layer, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        f = 2 * n_samples * fi * fo
        fwd += f
        wgrad += f
        if layer > 0:
            igrad += f
    return {"forward": fwd, "weight_grad": wgrad, "input_grad": igrad,
            "total": fwd + wgrad + igrad}


@dataclass(frozen=True)
class GemmShape:
    """``C (m x n) = A (m x k) @ B (k x n)`` as it occurs in backprop.

    ``a_transposed``/``b_transposed`` say whether the operand is a transposed
    view of a C-contiguous array (as ``A.T`` and ``W.T`` are in backprop), so
    the measured GEMM sees the same memory layout as the training step.
    """

    kind: str  # "forward", "weight_grad" or "input_grad"
    layer: int
    m: int
    k: int
    n: int
    a_transposed: bool = False
    b_transposed: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n

    @property
    def label(self) -> str:
        a = "A.T" if self.a_transposed else "A"
        b = "B.T" if self.b_transposed else "B"
        return f"{self.kind}[{self.layer}] {a}({self.m}x{self.k}) @ {b}({self.k}x{self.n})"


def gemm_shapes(batch: int, sizes: list[int]) -> list[GemmShape]:
    """The GEMMs of one mini-batch step of ``batch`` rows."""
    shapes = []
    for layer, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes.append(GemmShape("forward", layer, batch, fi, fo))
        shapes.append(GemmShape("weight_grad", layer, fi, batch, fo, a_transposed=True))
        if layer > 0:
            shapes.append(GemmShape("input_grad", layer, batch, fo, fi, b_transposed=True))
    return shapes


def check_consistency(n_samples: int, batch: int, sizes: list[int]) -> bool:
    """Shapes x number of batches reproduce :func:`epoch_flops` exactly."""
    full, rem = divmod(n_samples, batch)
    total = full * sum(s.flops for s in gemm_shapes(batch, sizes))
    if rem:
        total += sum(s.flops for s in gemm_shapes(rem, sizes))
    return total == epoch_flops(n_samples, sizes)["total"]
