"""Why the kernels flush subnormals: Adam's update over MNIST's 235,146
parameters, with a tenth of them near zero (weights of inputs that are
always zero, which Adam on the L2 term alone drives down through the
subnormal range together with their moments) or none, in the caller's
floating-point mode and under ``fpenv.flush_denormals``.

``python -m bench.subnormals`` prints microseconds per update
(``optimizer_step``, the kernel the epoch calls). Nothing here asserts.
"""

import argparse
import timeit

import numba
import numpy as np


def measure(fraction=0.1, dtype=np.float32, number=10):
    """``{(state, mode): seconds}`` for one Adam update."""
    from fastbp._config import python_twin
    from fastbp.kernels import codes, fpenv, lean

    step = python_twin(lean.optimizer_step)

    @numba.njit
    def flushed_step(params, grads, s1, s2, units, w_off, n_weights, code, alpha, l1, scale,
                     clip, lr, lr_t, momentum, nesterov, beta_1, beta_2, beta_1c, beta_2c, eps,
                     layer_sq):
        old = fpenv.flush_denormals()
        step(params, grads, s1, s2, units, w_off, n_weights, code, alpha, l1, scale, clip, lr,
             lr_t, momentum, nesterov, beta_1, beta_2, beta_1c, beta_2c, eps, layer_sq)
        fpenv.restore_denormals(old)

    rng = np.random.default_rng(0)
    units = np.array([784, 256, 128, 10], np.int64)
    w_off = np.array([0, 784 * 256, 784 * 256 + 256 * 128], np.int64)
    n_weights = int(w_off[-1] + 128 * 10)
    n = n_weights + 256 + 128 + 10
    f = dtype
    params = (rng.standard_normal(n) * 0.05).astype(f)
    grads = (rng.standard_normal(n) * 1e-4).astype(f)
    out = {}
    for state in ("normal", f"{fraction:.0%} near zero"):
        p = params.copy()
        g = grads.copy()
        s1_init = (rng.standard_normal(n) * 1e-3).astype(f)
        s2_init = np.full(n, 1e-6, f)
        if state != "normal":
            # Weights of inputs that are always zero (MNIST's border pixels):
            # no data gradient, so Adam on the L2 term alone drives them and
            # their moments down through the subnormal range.
            sub = rng.random(n) < fraction
            k = int(sub.sum())
            g[sub] = 0
            p[sub] = (10.0 ** rng.uniform(-44, -30, k)).astype(f)
            s1_init[sub] = (10.0 ** rng.uniform(-44, -34, k)).astype(f)
            s2_init[sub] = (10.0 ** rng.uniform(-44, -38, k)).astype(f)
        s1 = s1_init.copy()
        s2 = s2_init.copy()
        for mode, fn in (("caller's mode", step), ("flush-to-zero", flushed_step)):
            p_init = p.copy()

            def run(fn=fn, p=p, g=g, s1=s1, s2=s2, s1_init=s1_init, s2_init=s2_init,
                    p_init=p_init):
                # The update moves, decays or flushes them: start afresh.
                np.copyto(p, p_init)
                np.copyto(s1, s1_init)
                np.copyto(s2, s2_init)
                fn(p, g, s1, s2, units, w_off, n_weights, codes.ADAM, f(1e-4), f(0),
                   f(1 / 32), f(1), f(1e-3), f(1e-3), f(0.9), False, f(0.9), f(0.999),
                   f(1 - 0.9), f(1 - 0.999), f(1e-8), np.zeros(3, f))
            run()
            out[state, mode] = min(timeit.repeat(run, number=number, repeat=5)) / number
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.subnormals",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--number", type=int, default=10)
    args = ap.parse_args(argv)
    from bench.report import environment_header, script_environment

    # The figures the README quotes must be placeable: machine, versions, commit.
    print(environment_header(script_environment()), flush=True)
    for (state, mode), seconds in measure(args.fraction, number=args.number).items():
        print(f"Adam update, parameters {state:12s} {mode:14s} {seconds * 1e6:7.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
