"""`wm report`: PNG figures (matplotlib, Agg) and a Markdown report of an analysed sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from gigalearn.common.atomic import atomic_write, atomic_write_text
from gigalearn.common.errors import DataError
from gigalearn.wm import analyze, claims, pool, report
from gigalearn.wm.analysis.fixed_points import FixedPoints
from gigalearn.wm.analysis.trials import as_tensor, step, trial_end_states
from gigalearn.wm.network import Population
from gigalearn.wm.spec import Job
from gigalearn.wm.tasks import Task

COLORS = {"fixed_point": "C0", "slow_manifold": "C1", "limit_cycle": "C2", "mixed": "C3"}


def write_report(run_dirs: Path | Sequence[Path], out: Path) -> Path:
    """Write out/report.md and its PNG figures for one analysed run folder, or several pooled
    (networks listed by more than one folder counted once); return the Markdown file's path."""
    dirs = [Path(run_dirs)] if isinstance(run_dirs, str | Path) else [Path(r) for r in run_dirs]
    pooled = pool.load_runs(dirs)
    rows = pooled.rows
    a = report.analysed(rows).reset_index(drop=True)
    if a.empty:
        where = ", ".join(str(pool.results_path(r)) for r in dirs)
        raise DataError(f"{where}: no analysed networks (none met the success threshold?)")
    curves = _pooled_curves(dirs, a)
    figs = {
        "mechanisms.png": _mechanism_maps(rows),
        "forgetting.png": _curves_by_mechanism(
            a, curves, "delays", "forget_rate", "extra delay d (τ)", "forgetting"
        ),
        "noise.png": _curves_by_mechanism(
            a, curves, "sigmas", "noise_rate", "stimulus noise σ", "stimulus noise"
        ),
        "speed.png": _speed(a, curves),
        "state_space.png": _state_space(a, len(dirs) > 1),
        "activity.png": _activity(a, curves, len(dirs) > 1),
        "fixed_points.png": _fixed_points(a),
    }
    out = Path(out)
    for name, fig in figs.items():
        try:
            atomic_write(out / name, lambda p, fig=fig: fig.savefig(p, format="png", **_SAVE))
        finally:
            plt.close(fig)
    path = out / "report.md"
    atomic_write_text(path, _markdown(pooled, list(figs)))
    return path


_SAVE = {"dpi": 110, "bbox_inches": "tight"}


def _pooled_curves(run_dirs: list[Path], a: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each analysed row's curves, in the rows' order, from its own run folder (grids: the
    first folder's; the folders share one analysis config)."""
    per = {str(r): analyze.load_curves(r) for r in run_dirs if (a["run_dir"] == str(r)).any()}
    first = next(iter(per.values()))
    grids = ("delays", "sigmas", "silence_levels", "speed_at")
    out = {k: first[k] for k in grids}
    pos = {r: {int(n): i for i, n in enumerate(c["network_id"])} for r, c in per.items()}
    where = [(r, pos[r][int(n)]) for r, n in zip(a["run_dir"], a["network_id"], strict=True)]
    for k in first.keys() - set(grids) - {"network_id"}:
        if any(k not in c for c in per.values()) or len({c[k].shape[1:] for c in per.values()}) > 1:
            continue  # e.g. unit rates of networks of different N
        out[k] = np.stack([per[r][k][i] for r, i in where])
    return out


def _mechanism_maps(rows: pd.DataFrame) -> plt.Figure:
    """Heat maps of each mechanism's share of the analysed networks over (g, fb) and (g, pg)."""
    a = report.analysed(rows)
    mechs = [m for m in report.MECHANISM_ORDER if (a["mechanism"] == m).any()]
    fig, axes = plt.subplots(2, len(mechs), figsize=(3.6 * len(mechs), 6.4), squeeze=False)
    for col, mech in enumerate(mechs):
        for row, other in enumerate(("fb", "pg")):
            ax = axes[row, col]
            tab = a.assign(hit=a["mechanism"] == mech).pivot_table(
                index=other, columns="g", values="hit", aggfunc=["mean", "size"]
            )
            share, count = tab["mean"], tab["size"]
            im = ax.imshow(share.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
            ax.set_xticks(range(share.shape[1]), [f"{v:g}" for v in share.columns])
            ax.set_yticks(range(share.shape[0]), [f"{v:g}" for v in share.index])
            for (i, j), v in np.ndenumerate(share.to_numpy(float)):
                if not np.isnan(v):
                    n = int(count.iloc[i, j])
                    ax.text(
                        j, i, f"{round(v * n)}/{n}", ha="center", va="center", color="w", fontsize=8
                    )
            ax.set_xlabel("g")
            if col == 0:  # shared rows: one label, or it runs into the neighbouring panel
                ax.set_ylabel(other)
            if row == 0:
                ax.set_title(mech.replace("_", " "))
    fig.colorbar(im, ax=axes, shrink=0.6, label="share of analysed networks")
    fig.suptitle("memory mechanism by hyper-parameters (cell: networks with it / analysed)")
    return fig


def _curves_by_mechanism(
    a: pd.DataFrame,
    curves: dict[str, np.ndarray],
    x_key: str,
    y_key: str,
    xlabel: str,
    title: str,
) -> plt.Figure:
    """Failure rate curves: one thin line per network, the mean per mechanism in bold."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    x, y = curves[x_key], curves[y_key]
    for mech, color in COLORS.items():
        sel = (a["mechanism"] == mech).to_numpy()
        if not sel.any():
            continue
        ax.plot(x, y[sel].T, color=color, alpha=0.15, lw=0.8)
        ax.plot(x, y[sel].mean(0), color=color, lw=2.2, label=f"{mech} (n={sel.sum()})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of trials failing")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title}: failure rate per mechanism")
    ax.legend(frameon=False)
    return fig


def _speed(a: pd.DataFrame, curves: dict[str, np.ndarray]) -> plt.Figure:
    """Median speed ‖dx/dt‖ of the long autonomous runs over time, per mechanism."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    t, v = curves["speed_at"], curves["speed"]
    for mech, color in COLORS.items():
        sel = (a["mechanism"] == mech).to_numpy()
        if sel.any():
            ax.plot(t, np.maximum(v[sel], 1e-12).T, color=color, alpha=0.3, lw=0.8)
            ax.plot([], [], color=color, label=mech)
    ax.set_yscale("log")
    ax.set_xlabel("time with inputs off (trial lengths)")
    ax.set_ylabel("median ‖dx/dt‖ over runs")
    ax.set_title("speed along the classifier's runs")
    ax.legend(frameon=False)
    return fig


def _examples(a: pd.DataFrame, k: int = 4) -> pd.DataFrame:
    """The best-trained network of each mechanism (up to k)."""
    best = a.sort_values("test_rmse").groupby("mechanism", sort=False).head(1)
    return best.head(k)


def _state_space(a: pd.DataFrame, pooled: bool = False) -> plt.Figure:
    """Each example network's 4 trial types projected on their first 2 PCs, with its fixed
    points (filled: stable, open: unstable or slow); `pooled`: titles name the run folder."""
    ex = _examples(a)
    runs = {r: _RunData.load(Path(r)) for r in ex["run_dir"].unique()}
    fig, axes = plt.subplots(1, len(ex), figsize=(4.2 * len(ex), 4), squeeze=False)
    for ax, (_, row) in zip(axes[0], ex.iterrows(), strict=False):
        nid, run_dir = int(row["network_id"]), Path(row["run_dir"])
        task, trained, jobs, points = runs[row["run_dir"]]
        pop = Population([jobs[nid].spec], task.n_in, task.n_out, dtype=torch.float64)
        pop.w_out.copy_(torch.from_numpy(trained[nid][0][None]))
        x = trial_end_states(pop, task, torch.from_numpy(trained[nid][1][None]).double())
        types = task.test_conditions()
        batch = task.batch(types, np.random.default_rng(0))
        xs = []
        with torch.no_grad():
            for u in as_tensor(batch.inputs, pop).unbind(0):
                x = step(pop, x, u)
                xs.append(x[0])
        traj = torch.stack(xs).numpy()  # [T,C,N]
        flat = traj.reshape(-1, traj.shape[-1])
        mean = flat.mean(0)
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
        proj = (traj - mean) @ vt[:2].T
        for c in range(len(types)):
            ax.plot(
                proj[:, c, 0],
                proj[:, c, 1],
                lw=1,
                label="trial " + ",".join(str(int(v)) for v in types[c]),
            )
            ax.plot(*proj[-1, c], "k.", ms=4)
        fp = points.get(nid)
        if fp is not None and len(fp):
            p2 = (fp.points - mean) @ vt[:2].T
            stable = fp.is_fixed & (fp.stable if fp.stable is not None else True)
            ax.scatter(*p2[stable].T, c="k", s=40, marker="o", label="stable fixed point", zorder=3)
            ax.scatter(
                *p2[~stable].T, facecolors="none", edgecolors="r", s=40, label="unstable/slow"
            )
        where = f"{run_dir.name} " if pooled else ""
        ax.set_title(
            f"{where}net {nid}: {row['mechanism']}\n"
            f"g={row['g']:g} pg={row['pg']:g} fb={row['fb']:g}"
        )
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle("state space (PCA of one trial of each type) with fixed and slow points", y=1.06)
    return fig


class _RunData(NamedTuple):
    """What the state-space panels need from one run folder."""

    task: Task
    trained: dict[int, tuple[np.ndarray, np.ndarray]]
    jobs: dict[int, Job]
    points: dict[int, FixedPoints]

    @classmethod
    def load(cls, run_dir: Path) -> _RunData:
        spec, _ = analyze.load_sweep(run_dir)
        jobs = {j.network_id: j for j in analyze.expand(spec)}
        return cls(spec.task.build(), analyze.trained_readouts(run_dir), jobs, _points(run_dir))


def _points(run_dir: Path) -> dict[int, FixedPoints]:
    out = {}
    for d in analyze.store.chunk_dirs(analyze.analysis_dir(run_dir)):
        fp = FixedPoints.load(d / analyze.POINTS)
        for nid in np.unique(fp.network):
            out[int(nid)] = fp[fp.network == nid]
    return out


def _activity(a: pd.DataFrame, curves: dict[str, np.ndarray], pooled: bool = False) -> plt.Figure:
    """Left: unit |r| through the memory window for example networks (units sorted by how much
    they keep; `pooled`: titles name the run folder). Right: persistent / phasic / saturated
    unit fractions per mechanism."""
    ex = _examples(a, 3)
    fig, axes = plt.subplots(
        1, len(ex) + 1, figsize=(5.2 * (len(ex) + 1), 4.2), squeeze=False, layout="constrained"
    )
    for ax, (i, row) in zip(axes[0], ex.iterrows(), strict=False):
        if "window_rates" not in curves:
            break
        r = curves["window_rates"][i]  # [T,N]; curves are in the rows' order
        keep = r[-max(1, len(r) // 5) :].mean(0) / np.maximum(
            r[: max(1, len(r) // 5)].mean(0), 1e-9
        )
        rel = r / np.maximum(r[:1], 1e-9)  # each unit relative to its level at window start
        im = ax.imshow(rel[:, np.argsort(keep)].T, aspect="auto", cmap="magma", vmin=0, vmax=1.5)
        fig.colorbar(im, ax=ax, label="|r| relative to window start")
        where = f"{Path(row['run_dir']).name} " if pooled else ""
        ax.set_title(f"{where}net {int(row['network_id'])}: {row['mechanism']}")
        ax.set_xlabel("step in memory window")
        ax.set_ylabel("unit (sorted by late/early |r|)")
    ax = axes[0, -1]
    t = report.per_mechanism(a.assign(analyzed=True))
    cols = ["frac_persistent", "frac_phasic", "frac_saturated"]
    xs = np.arange(len(t))
    for i, c in enumerate(cols):
        ax.bar(xs + (i - 1) * 0.27, t[c], width=0.27, label=c.removeprefix("frac_"))
    ax.set_xticks(xs, [m.replace("_", "\n") for m in t.index])
    ax.set_ylabel("fraction of units")
    ax.set_title("unit activity in the memory window")
    ax.legend(frameon=False, loc="center right")
    return fig


def _fixed_points(a: pd.DataFrame) -> plt.Figure:
    """Stable fixed points per output class and forgetting delays, per network by mechanism."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    mechs = [m for m in report.MECHANISM_ORDER if (a["mechanism"] == m).any()]
    rng = np.random.default_rng(0)
    for ax, col, label in (
        (axes[0], "fp_stable_per_class", "stable fixed points per output class"),
        (axes[1], "forget_first_delay", "first failing extra delay (τ; none: not shown)"),
    ):
        for i, m in enumerate(mechs):
            v = a.loc[a["mechanism"] == m, col].to_numpy(float)
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, color=COLORS.get(m, "k"), s=18)
            if np.isfinite(v).any():
                ax.hlines(np.nanmean(v), i - 0.3, i + 0.3, color="k")
        ax.set_xticks(range(len(mechs)), [m.replace("_", "\n") for m in mechs])
        ax.set_ylabel(label)
    fig.suptitle("efficiency and forgetting per network (bar: mean)")
    return fig


def _markdown(pooled: pool.Pooled, figs: list[str]) -> str:
    rows = pooled.rows
    a = report.analysed(rows)
    if len(pooled.run_dirs) == 1:
        head = [f"# Working-memory analysis of `{pooled.run_dirs[0]}`", ""]
    else:
        per = pooled.all_rows.groupby("run_dir", sort=False)
        runs = pd.DataFrame(
            {
                "run folder": [f"`{r}`" for r in per.groups],
                "networks": [str(len(g)) for _, g in per],
                "analysed": [str(int(g["analyzed"].sum())) for _, g in per],
                "already in an earlier folder (dropped)": [
                    f"{int(g['duplicate'].sum())} ({int((g['duplicate'] & g['analyzed']).sum())}"
                    " analysed)"
                    for _, g in per
                ],
            }
        )
        head = [
            f"# Working-memory analysis of {len(pooled.run_dirs)} run folders, pooled",
            "",
            claims.md_table(runs),
            "",
            f"A network listed by several folders (same {', '.join(pool.KEY)}) is counted once, "
            "from the first folder listing it.",
            "",
        ]
    lines = [
        *head,
        f"{len(rows)} distinct networks, {len(a)} analysed (test RMSE within the analysis "
        'threshold). Definitions: docs/wm.md ("Analysis").',
        "",
        "## Mechanisms and robustness",
        "",
        claims.mechanism_table(rows, pooled.d_max),
        "",
        claims.section(pooled),
        "## Figures",
        "",
        *(f"![{f}]({f})\n" for f in figs),
        "## Success per hyper-parameters",
        "",
        claims.md_table(report.success_table(rows)),
        "",
    ]
    return "\n".join(lines)
