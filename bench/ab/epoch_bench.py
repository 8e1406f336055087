"""Steady-state epoch time of fastbp at two commits, interleaved.

One persistent worker process per commit (epoch_worker.py, cwd = worktree,
all thread pools at 1 thread from process start), like the project's
bench/worker.py: the parent asks one worker at a time for one fit, the other
sits in a blocking read. Before each request the parent waits until both
workers are quiet (bench.worker.wait_quiet logic, /proc schedstat).
Per fit: median of history_["epoch_time"][1:] (epochs after the first).
Order: for each case, before then after in even repeats, after then before
in odd ones. The end prints each case's medians and the median paired
after/before ratio; OUT.json keeps every record.

usage: python epoch_bench.py REPS OUT.json [case,case,...]
"""

import glob
import json
import os
import statistics
import subprocess
import sys
import time

from ab_stats import order, summary

ROOT = os.environ.get("AB_ROOT", "/tmp/bench_cpu")
COMMITS = {"before": f"{ROOT}/before", "after": f"{ROOT}/after"}
PY = sys.executable
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                             "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS",
                             "NUMEXPR_NUM_THREADS")}
CASES = ["tabular_b32", "tabular_b200", "mnist_b200", "mnist_b1024"]


def cpu_ns(pid):
    tot = 0
    for p in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            tot += int(open(p).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return tot


def wait_quiet(pids, window=0.01, windows=2, share=0.1, max_wait=1.0):
    t0 = time.perf_counter()
    last, quiet = sum(cpu_ns(p) for p in pids), 0
    while quiet < windows and time.perf_counter() - t0 < max_wait:
        time.sleep(window)
        now = sum(cpu_ns(p) for p in pids)
        quiet = quiet + 1 if now - last < share * window * 1e9 else 0
        last = now
    return time.perf_counter() - t0


class Worker:
    def __init__(self, commit):
        wt = COMMITS[commit]
        env = dict(os.environ, **THREADS)  # FASTBP_DATA_DIR from the caller, for MNIST
        env.pop("PYTHONPATH", None)
        worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "epoch_worker.py")
        self.p = subprocess.Popen([PY, worker], cwd=wt, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(f"{ROOT}/worker_{commit}.err", "w"), text=True)
        self.commit, self.wt = commit, wt

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.commit} died, see worker_{self.commit}.err")
        return json.loads(line)

    def ask(self, case):
        self.p.stdin.write(json.dumps({"case": case}) + "\n")
        self.p.stdin.flush()
        return self.read()

    def close(self):
        try:
            self.p.stdin.write('{"quit": true}\n')
            self.p.stdin.flush()
            self.p.wait(10)
        except Exception:
            self.p.kill()


def main(argv=None, make_worker=None):
    argv = sys.argv[1:] if argv is None else argv
    reps, out_path = int(argv[0]), argv[1]
    cases = argv[2].split(",") if len(argv) > 2 else CASES
    workers = {c: (make_worker or Worker)(c) for c in ("before", "after")}
    info = {}
    try:
        for c, w in workers.items():  # started together, warm-ups run concurrently (untimed)
            pass
        for c, w in workers.items():
            info[c] = w.read()
            assert info[c]["file"].startswith(w.wt + "/"), info[c]
            print(c, info[c], flush=True)
        pids = [w.p.pid for w in workers.values()]
        results = []
        for rep in range(reps):
            for case in cases:
                for c in order(rep):
                    settle = wait_quiet(pids)
                    load = os.getloadavg()[0]
                    r = workers[c].ask(case)
                    et = r["epoch_time"]
                    r.update(rep=rep, commit=c, settle_s=settle, load1=load,
                             median_after_first=statistics.median(et[1:]))
                    results.append(r)
                    print(f"rep{rep} {case:13s} {c:6s} epochs " +
                          " ".join(f"{t*1e3:.1f}" for t in et) +
                          f" ms | median(after 1st) {r['median_after_first']*1e3:.1f} ms"
                          f" | load {load:.2f}", flush=True)
                    with open(out_path, "w") as fh:
                        json.dump({"workers": info, "results": results}, fh, indent=1)
    finally:
        for w in workers.values():
            w.close()
    print("median epoch after the first:")
    for line in summary(results, lambda r: r["case"], lambda r: r["median_after_first"]):
        print("  " + line)
    return results


if __name__ == "__main__":
    main()
