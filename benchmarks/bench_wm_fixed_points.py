"""Benchmark: batched fixed-point search vs scipy L-BFGS on q, one start at a time.

Run as a script (never a timed unit test):
    python benchmarks/bench_wm_fixed_points.py [--quick] [--trained]

Networks, by default: random W_eff = g J + (c/N) m mᵀ with g = 1.5 (J Gaussian, variance 1/N)
and a rank-2 term of strength c, the structure FORCE feedback adds (W_fb W_out is low rank). This
has stable attractors along m and many unstable fixed points and slow points, so the search has
real work to do.
With --trained: FORCE-trained networks on the sequential sum task, trained once by the sweep
machinery (`run_sweep`, 1 thread) and cached under ~/.cache/gigalearn/bench/wm-fp/: one N=1000
network (--train-trials, 3,500 as in the paper) and 64 of N=--pop-n (--pop-train-trials, 2,500
as examples/wm/paper-grid-small.yaml); W_eff = g J + W_fb W_out by `effective_weights`, as
`wm analyze` builds it. Starts: the trial-end states plus states along the autonomous trajectory.

Cases: one N=1000 network, and a population of 64 networks (N = --pop-n, 200 by default so the
one-at-a-time baseline finishes in minutes). Starts are states sampled along each network's
autonomous trajectory (plus jitter). Both methods start from exactly the same states.

Ours: `find_fixed_points` with its default method (compiled L-BFGS, one network at a time with
its starts batched, Levenberg–Marquardt with geodesic acceleration for crawling starts;
`--method lbfgs_torch`, `gauss_newton` or `adam` for the others), then Newton polish and
deduplication; timed without eigenvalues, after one untimed warm-up call (numba loads its
compiled code from the on-disk cache; a first-ever run compiles for ~30 s). Baseline: scipy
L-BFGS-B on q with its analytic
gradient, one start at a time, the same iteration cap; its end points are then deduplicated and
Newton-polished by the same code with no extra search (that part is *not* timed, in the
baseline's favour; ours includes its Newton runs from midpoints of pairs of roots, `bridges`).
Each side runs --repeats times (default 3), alternating; reported: median
wall and CPU times (the cores are shared, so CPU time is the steadier measure), speed ratios,
distinct fixed points found by each, by both and by one side only, peak RSS, load averages.
"""

from __future__ import annotations

import os

# one BLAS thread for numpy/scipy too (set before numpy loads): on shared, busy cores two-thread
# BLAS calls stall waiting for a descheduled thread, and both methods must run under equal terms
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.optimize  # noqa: E402
import torch  # noqa: E402

from gigalearn.wm import store  # noqa: E402
from gigalearn.wm.analysis import (  # noqa: E402
    FixedPointOptions,
    FixedPoints,
    effective_weights,
    find_fixed_points,
    trajectory_starts,
)
from gigalearn.wm.analysis.levenberg import levenberg_marquardt  # noqa: E402
from gigalearn.wm.analysis.trials import trial_end_states  # noqa: E402
from gigalearn.wm.analyze import trained_readouts  # noqa: E402
from gigalearn.wm.network import Population  # noqa: E402
from gigalearn.wm.spec import ForceSpec, GridSpec, SweepSpec, expand  # noqa: E402
from gigalearn.wm.sweep import run_sweep  # noqa: E402

CACHE = Path.home() / ".cache" / "gigalearn" / "bench" / "wm-fp"


def make_weights(p: int, n: int, seed: int, g: float = 1.5, c: float = 2.5) -> torch.Tensor:
    """`[P,N,N]` W_eff = g J + (c/N) m mᵀ, m `[N,2]` Gaussian."""
    rng = np.random.default_rng(seed)
    w = np.empty((p, n, n))
    for i in range(p):
        m = rng.standard_normal((n, 2))
        w[i] = g * rng.standard_normal((n, n)) / np.sqrt(n) + c / n * m @ m.T
    return torch.from_numpy(w)


def random_case(p: int, n: int, n_starts: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random W_eff `[P,N,N]` and starts along each autonomous trajectory (0.3 jitter)."""
    w = make_weights(p, n, seed)
    x0 = torch.from_numpy(np.random.default_rng(seed + 1).standard_normal((p, n)))
    return w, trajectory_starts(w, x0, n_starts, n_steps=400, noise_std=0.3, seed=seed)


def trained_case(
    spec: SweepSpec, n_starts: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, pd.DataFrame]:
    """FORCE-train `spec`'s networks with the sweep machinery (once: cached under CACHE/name),
    then W_eff = g J + W_fb W_out via `effective_weights` as `wm analyze` builds it, and starts:
    the C trial-end states (the analysis's extra starts) plus S - C states along the autonomous
    trajectory from the first of them, jittered by σ = 0.5 (the classifier's perturbation)."""
    run_dir = CACHE / spec.name
    t = time.perf_counter()
    done = run_sweep(spec, run_dir)
    print(
        f"sweep {spec.name}: {done.trained} networks trained now ({time.perf_counter() - t:.0f}"
        f" s), {done.skipped} cached in {run_dir}"
    )
    rows, jobs = store.load_results([run_dir]), expand(spec)
    trained, task = trained_readouts(run_dir), spec.task.build()  # the analysis's own loader
    pop = Population([j.spec for j in jobs], task.n_in, task.n_out, dtype=torch.float64)
    pop.w_out.copy_(torch.from_numpy(np.stack([trained[j.network_id][0] for j in jobs])))
    x_end = torch.from_numpy(np.stack([trained[j.network_id][1] for j in jobs])).double()
    w = effective_weights(pop).double()
    ends = trial_end_states(pop, task, x_end)  # [P,C,N]
    extra = n_starts - ends.shape[1]
    along = trajectory_starts(w, ends[:, 0], extra, n_steps=400, noise_std=0.5, seed=seed)
    return w, torch.cat([ends, along], dim=1)[:, :n_starts], rows


def lbfgs_one_at_a_time(w: torch.Tensor, starts: torch.Tensor, opt: FixedPointOptions) -> tuple:
    """scipy L-BFGS-B on q = ½‖−x + W tanh x‖² with gradient Jᵀ F, each start alone; returns
    end points, wall and CPU seconds, q evaluations."""
    w_np, out = w.numpy(), np.empty(starts.shape)
    evals = 0
    t, c = time.perf_counter(), time.process_time()
    for p in range(starts.shape[0]):
        wp = w_np[p]

        def fun(x: np.ndarray, wp: np.ndarray = wp) -> tuple[float, np.ndarray]:
            r = np.tanh(x)
            f = wp @ r - x
            return 0.5 * f @ f, (1 - r * r) * (f @ wp) - f

        for s in range(starts.shape[1]):
            res = scipy.optimize.minimize(
                fun,
                starts[p, s].numpy(),
                jac=True,
                method="L-BFGS-B",
                # stop at the same q tolerance as ours (ftol is relative, gtol per coordinate)
                options={"maxiter": opt.iters, "ftol": 0.0, "gtol": 1e-12},
                callback=None,
            )
            out[p, s], evals = res.x, evals + res.nfev
    return torch.from_numpy(out), time.perf_counter() - t, time.process_time() - c, evals


def classify(w: torch.Tensor, ends: torch.Tensor, opt: FixedPointOptions) -> FixedPoints:
    """Deduplicate and classify end points with no further search (Newton polish kept, so both
    methods' points are compared at the same precision; no runs between roots, which are part
    of our search)."""
    return find_fixed_points(w, ends, options=replace(opt, max_iters=0, bridge_pairs=0))


def coincide(a: FixedPoints, b: FixedPoints, tol: float) -> int:
    """Fixed points of a that have a fixed point of b (same network) within RMS distance tol."""
    hits = 0
    for i in range(len(a)):
        pts = b.points[(b.network == a.network[i]) & b.is_fixed]
        d = np.sqrt(((pts - a.points[i]) ** 2).mean(-1)) if len(pts) else np.array([np.inf])
        hits += bool(a.is_fixed[i] and d.min() < tol)
    return hits


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def run_case(
    name: str, w: torch.Tensor, starts: torch.Tensor, opt: FixedPointOptions, repeats: int
) -> None:
    p, n_starts, n = starts.shape
    print(f"\n== {name}: P={p} networks, N={n}, S={n_starts} starts each ({p * n_starts} total)")
    print(f"load average before: {load()}")
    # warm-up: load every compiled function once (not timed; numba's on-disk cache)
    find_fixed_points(w[:1], starts[:1, :2], options=replace(opt, max_iters=300))
    levenberg_marquardt(2.0 * np.eye(2), np.ones(2), 1.0, 5, 1e-20, True)

    walls, cpus, base_walls, base_cpus = [], [], [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        ours = find_fixed_points(w, starts, options=opt)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        mem_ours = peak_mb()
        ends, t_base, c_base, evals = lbfgs_one_at_a_time(w, starts, opt)
        base_walls.append(t_base)
        base_cpus.append(c_base)
    t_ours, c_ours = statistics.median(walls), statistics.median(cpus)
    t_base, c_base = statistics.median(base_walls), statistics.median(base_cpus)
    t = time.perf_counter()
    with_eigs = replace(opt, compute_eigs=True, max_iters=0)
    ours_eig = (
        find_fixed_points(w, torch.from_numpy(ours.points).view(1, -1, n), options=with_eigs)
        if p == 1
        else None
    )
    t_eig = time.perf_counter() - t
    base = classify(w, ends, opt)
    mem_all = peak_mb()

    nf_ours, nf_base = int(ours.is_fixed.sum()), int(base.is_fixed.sum())
    both = coincide(base, ours, 1e-6)

    def times(ws: list[float], cs: list[float]) -> str:
        wall, cpu = (" ".join(f"{v:.2f}" for v in vs) for vs in (ws, cs))
        return f"wall {wall} s, CPU {cpu} s"

    print(f"ours    : {times(walls, cpus)}")
    print(f"L-BFGS  : {times(base_walls, base_cpus)}")
    print(
        f"ours    : median {t_ours:7.2f} s wall, {c_ours:7.2f} s CPU  {nf_ours:4d} distinct "
        f"fixed points, {int(ours.is_slow.sum())} slow points   (peak RSS {mem_ours:.0f} MB)"
    )
    print(
        f"L-BFGS  : median {t_base:7.2f} s wall, {c_base:7.2f} s CPU  {nf_base:4d} distinct "
        f"fixed points, {int(base.is_slow.sum())} slow points   ({evals} q evaluations; "
        f"peak RSS {mem_all:.0f} MB)"
    )
    print(
        f"speed-up: {t_base / t_ours:.1f}x wall, {c_base / c_ours:.1f}x CPU;  fixed points found "
        f"by both {both}, only by ours {nf_ours - coincide(ours, base, 1e-6)}, only by L-BFGS "
        f"{nf_base - both};  load average after: {load()}"
    )
    if ours_eig is not None:
        print(
            f"eigenvalues of the {len(ours_eig)} points (not in the timings above): {t_eig:.2f} s; "
            f"{int(ours_eig.stable[ours_eig.is_fixed].sum())} fixed points stable"
        )
    print(ours.summary())


def trained_specs(args: argparse.Namespace) -> tuple[SweepSpec, SweepSpec]:
    """The sweeps --trained uses: one N=1000 network (g=1.2, pg=0.9, fb=10: the small grid's
    best corner) and 64 of N=--pop-n (g 0.9/1.2 × pg 0.4/0.9 × fb 40/10 × seeds 0-7), 1 thread."""
    n1, n_pop = (200, 50) if args.quick else (1000, args.pop_n)
    seeds = list(range(2 if args.quick else 8))

    def spec(name: str, grid: GridSpec, trials: int) -> SweepSpec:
        force = ForceSpec(n_trials=50 if args.quick else trials)
        return SweepSpec(
            name=f"{name}-{'quick' if args.quick else 'full'}", grid=grid, force=force, threads=1
        )

    one = GridSpec(g=[1.2], pg=[0.9], fb=[10], n=[n1], seeds=[args.seed])
    tag = f"-seed{args.seed}" if args.seed else ""
    pop = GridSpec(g=[0.9, 1.2], pg=[0.4, 0.9], fb=[40, 10], n=[n_pop], seeds=seeds)
    return (
        spec(f"one-n{n1}{tag}", one, args.train_trials),
        spec(f"pop-n{n_pop}", pop, args.pop_train_trials),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--pop-n", type=int, default=200, help="N of the 64-network population")
    ap.add_argument("--starts", type=int, default=32, help="starts for the N=1000 network")
    ap.add_argument("--pop-starts", type=int, default=8, help="starts per population network")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (BLAS: OMP_NUM_THREADS)")
    ap.add_argument(
        "--method", default="lbfgs", choices=["lbfgs", "lbfgs_torch", "gauss_newton", "adam"]
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each side (median)")
    ap.add_argument("--seed", type=int, default=0, help="offset of the weight and start seeds")
    ap.add_argument("--trained", action="store_true", help="FORCE-trained networks (cached)")
    ap.add_argument("--train-trials", type=int, default=3500, help="FORCE trials, N=1000 net")
    ap.add_argument("--pop-train-trials", type=int, default=2500, help="FORCE trials, population")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    opt = FixedPointOptions(method=args.method, compute_eigs=False, keep_jacobians=False)
    print(
        f"torch {torch.__version__}, {args.threads} threads, float64; options: tol_q="
        f"{opt.tol_q:g}, slow_q={opt.slow_q:g}, method={opt.method}, max_iters={opt.iters}"
    )
    if args.trained:
        one, pop = trained_specs(args)
        for name, spec, s, seed in (
            ("one network", one, args.starts, args.seed),
            ("population", pop, args.pop_starts, 10 + args.seed),
        ):
            w, starts, rows = trained_case(spec, s, seed)
            ok = rows["test_rmse"] <= 0.1
            print(
                f"{name}: {int(ok.sum())} of {len(rows)} trained networks reach test RMSE <= 0.1"
                f" (median {rows['test_rmse'].median():.3f})"
            )
            run_case(f"{name}, FORCE-trained", w, starts, opt, 1 if args.quick else args.repeats)
        return
    if args.quick:
        run_case("one network", *random_case(1, 200, 8, 0), opt, 1)
        run_case("population", *random_case(8, 50, 4, 10), opt, 1)
        return
    run_case("one network", *random_case(1, 1000, args.starts, args.seed), opt, args.repeats)
    case = random_case(64, args.pop_n, args.pop_starts, 10 + args.seed)
    run_case("population", *case, opt, args.repeats)


if __name__ == "__main__":
    main()
