"""Benchmark: FORCE training throughput of a batched population vs one-network numpy float64.

Run as a script (never a timed unit test):  python benchmarks/bench_wm_training.py [--quick]

Prints, for N=200 and N=1000: input sizes, median wall times over repeats, network-trials/s for
the batched torch trainer (P networks at once) and for the authors' way (numpy float64, one
network at a time), their ratio, bytes/s beside this machine's measured memory bandwidth, peak
memory, the check that both give the same trained readouts, and projections of the paper's
672-network N=1000 sweep on this machine and on one GPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np
import torch

from gigalearn.wm.network import NetworkSpec, Population
from gigalearn.wm.tasks import SequentialSum
from gigalearn.wm.training.force import ForceConfig, train_force
from gigalearn.wm.training.reference import reference_force

PAPER_NETWORKS, PAPER_TRIALS = 672, 3500
GPU_BANDWIDTH = 2.0e12  # bytes/s, an A100's HBM (≈1.6-2.0 TB/s); assumption, not measured


def memory_bandwidth(gib: float = 1.0, repeats: int = 5) -> float:
    """Bytes/s of a large numpy copy (counts the read and the write)."""
    src = np.ones(int(gib * 2**30) // 8)
    dst = np.empty_like(src)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t)
    return 2 * src.nbytes / statistics.median(times)


def bytes_per_network_trial(task: SequentialSum, n: int, item: int, every: int = 2) -> float:
    """Minimum memory traffic of one network-trial: J read each step; each RLS update reads P
    twice (P·r and the rank-1 update) and writes it once."""
    b = task.batch(task.test_conditions()[:1], np.random.default_rng(0))
    updates = 0
    for cols in (task.readout_cols(r.name) for r in task.readouts):
        active = b.masks[:, 0, cols].all(-1)
        updates += int(active[::every].sum())
    return (task.n_steps + 3 * updates) * n * n * item


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of `fn()` over repeats, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def specs_for(n: int, p: int) -> list[NetworkSpec]:
    """P networks spread over the paper's hyper-parameters."""
    gs, pgs, fbs = (0.8, 1.2, 1.5), (0.4, 0.9), (40, 10, 1)
    return [NetworkSpec(n=n, g=gs[i % 3], pg=pgs[i % 2], fb=fbs[i % 3], seed=i) for i in range(p)]


def run_size(n: int, p: int, trials: int, ref_trials: int, repeats: int, bw: float) -> dict:
    """Measure one network size with both backends; print a block of figures and return them."""
    task = SequentialSum()
    specs = specs_for(n, p)

    def batched(backend: str, k: int, dtype=torch.float32, nets=specs):
        pop = Population(nets, task.n_in, task.n_out, dtype=dtype)
        t = time.perf_counter()  # time training only, not drawing weights
        train_force(pop, task, ForceConfig(n_trials=k, backend=backend))
        return time.perf_counter() - t, pop

    def baseline():
        t = time.perf_counter()
        w = reference_force(specs[0], task, ref_trials)
        return time.perf_counter() - t, w

    batched("compiled", 1, nets=specs[:2])  # compile the kernel outside the timings
    k_torch = max(1, trials // 4)
    runs: dict[str, list[float]] = {"c": [], "t": [], "r": []}
    for _ in range(repeats):  # interleaved, so a noisy neighbour hits all three alike
        runs["c"].append(batched("compiled", trials)[0])
        runs["t"].append(batched("torch", k_torch)[0])
        runs["r"].append(baseline()[0])
    t_c, t_t, t_r = (statistics.median(runs[k]) for k in "ctr")
    thr_c, thr_t, thr_r = p * trials / t_c, p * k_torch / t_t, ref_trials / t_r
    per_trial = bytes_per_network_trial(task, n, 4)
    print(
        f"\n== N={n}: P={p} networks, float32, {torch.get_num_threads()} threads, "
        f"{task.n_steps} steps/trial, median of {repeats} interleaved runs "
        f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    rows = [
        (f"compiled kernel ({trials} trials)", t_c, thr_c),
        (f"torch batched ({k_torch} trials)", t_t, thr_t),
        (f"numpy float64, 1 network ({ref_trials} trials)", t_r, thr_r),
    ]
    for name, t, thr in rows:
        print(f"  {name:<42}: {t:7.2f} s -> {thr:8.2f} network-trials/s")
    print(
        f"  speed-up vs numpy baseline  : compiled {thr_c / thr_r:.1f}x, torch {thr_t / thr_r:.1f}x"
    )
    for name, thr in (("compiled", thr_c), ("torch", thr_t)):
        rate = per_trial * thr
        print(
            f"  {name:<8} traffic: {rate / 1e9:7.2f} GB/s = {rate / bw:6.1%} of measured"
            f" DRAM copy bandwidth ({per_trial / 1e6:.0f} MB per network-trial)"
        )

    # same seed, same trials: float64 runs equal the numpy reference; float32 within rounding
    k = 2
    ref = reference_force(specs[1], task, k)
    diffs = []
    for backend in ("compiled", "torch"):
        for dt in (torch.float64, torch.float32):
            _, pop = batched(backend, k, dt, specs[:2])
            d = float(np.abs(pop.w_out[1].double().numpy() - ref).max())
            diffs.append(f"{backend}/{str(dt)[6:]} {d:.1e}")
    print(
        f"  readouts vs numpy reference after {k} trials, max |dW_out| "
        f"(max |W_out| = {np.abs(ref).max():.3f}): " + ", ".join(diffs)
    )
    return {"thr_c": thr_c, "thr_t": thr_t, "thr_r": thr_r, "bytes": per_trial}


def main() -> None:
    """Run both sizes and the projections."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer trials (smoke run)")
    args = ap.parse_args()
    limiter = None
    try:  # give numpy's BLAS the same threads as torch and numba: a like-for-like comparison
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        print("threadpoolctl not installed: numpy's BLAS uses its default thread count")
    torch.set_num_threads(args.threads)
    bw = memory_bandwidth()
    print(f"memory bandwidth (numpy copy of 1 GiB, read+write): {bw / 1e9:.2f} GB/s")
    q = args.quick
    small = run_size(200, 64, 4 if q else 20, 4 if q else 20, args.repeats, bw)
    big = run_size(1000, 8, 2 if q else 4, 1 if q else 2, args.repeats, bw)
    total = PAPER_NETWORKS * PAPER_TRIALS
    best = max(big["thr_c"], big["thr_t"])
    frac_t = big["bytes"] * big["thr_t"] / bw
    gpu_ideal = total * big["bytes"] / GPU_BANDWIDTH
    print(
        f"\n== projection: paper sweep = {PAPER_NETWORKS} networks x {PAPER_TRIALS} trials, "
        f"N=1000, float32 ({big['bytes'] / 1e9:.2f} GB of traffic per network-trial)"
    )
    print(f"  this machine, best backend : {total / best / 3600:7.1f} h")
    print(f"  this machine, numpy way    : {total / big['thr_r'] / 3600:7.1f} h")
    print(
        f"  one GPU (torch backend)    : {gpu_ideal / 3600:7.1f} h at 100% and "
        f"{2 * gpu_ideal / 3600:.1f} h at 50% of {GPU_BANDWIDTH / 1e12:.1f} TB/s (assumed A100 HBM "
        "bandwidth; the step is bandwidth-bound once P networks per chunk hide launch overhead)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak memory (ru_maxrss): {peak:.2f} GiB")
    print(
        f"targets: N=200 >=10x -> {small['thr_c'] / small['thr_r']:.1f}x; N=1000 >=2x -> "
        f"{big['thr_c'] / big['thr_r']:.1f}x; >=50% of bandwidth at N=1000 -> compiled "
        f"{big['bytes'] * big['thr_c'] / bw:.0%} (cache-resident: can exceed DRAM), "
        f"torch {frac_t:.0%}"
    )
    del limiter


if __name__ == "__main__":
    main()
