"""Summaries of a sweep's results: success fraction per (g, pg, fb) and, once analysed, the
memory mechanisms, their robustness and the paper's claims, as tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from gigalearn.common.errors import DataError
from gigalearn.wm.training.evaluate import THRESHOLDS


def success_columns(rows: pd.DataFrame) -> list[str]:
    """The `success_*` flag columns present, in threshold order."""
    cols = [c for c in rows.columns if c.startswith("success_")]
    return sorted(cols, key=lambda c: float(threshold_of(c)))


def threshold_of(column: str) -> str:
    """The threshold a success column stands for, e.g. 'success_0p005' → '0.005'."""
    return column.removeprefix("success_").replace("p", ".")


def success_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (g, pg, fb): networks, fraction succeeding at each threshold, median test RMSE."""
    flags = success_columns(rows)
    grouped = rows.groupby(["g", "pg", "fb"], sort=True)
    out = grouped[flags].mean()
    out.insert(0, "networks", grouped.size())
    out["median_test_rmse"] = grouped["test_rmse"].median()
    return out.reset_index()


def render(table: pd.DataFrame, title: str = "fraction of networks with test RMSE ≤ ε") -> Table:
    """A rich table of `success_table` output."""
    t = Table(title=title)
    short = {"networks": "nets", "median_test_rmse": "median RMSE"}
    for col in table.columns:
        label = short.get(col, col)
        if col.startswith("success_"):
            label = "≤" + threshold_of(col)
        t.add_column(label, justify="right")
    for rec in table.itertuples(index=False):
        cells = []
        for col, v in zip(table.columns, rec, strict=True):
            if col.startswith("success_"):
                cells.append(f"{v:.2f}")
            elif col == "median_test_rmse":
                cells.append(f"{v:.4f}")
            else:
                cells.append(f"{v:g}")
        t.add_row(*cells)
    return t


def overall(rows: pd.DataFrame) -> dict[str, float]:
    """Fraction of all networks succeeding at each threshold."""
    return {c: float(rows[c].mean()) for c in success_columns(rows)}


# --- analysed sweeps: mechanism shares, robustness per mechanism, the paper's claims ---------

MECHANISM_ORDER = ("fixed_point", "slow_manifold", "limit_cycle", "mixed")


def analysed(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the rows `wm analyze` filled in."""
    if "analyzed" not in rows.columns:
        raise DataError("no analysis columns: run `gigalearn wm analyze RUN_DIR` first")
    return rows[rows["analyzed"].astype(bool)]


def per_mechanism(rows: pd.DataFrame) -> pd.DataFrame:
    """Per mechanism: networks, share, forgetting, noise, silencing, fixed points, activity."""
    a = analysed(rows)
    forgets = a["forget_kind"] != "none"
    g = a.assign(
        forgets=forgets,
        asymptotic=a["forget_kind"] == "asymptotic",
        first_delay=a["forget_first_delay"],
    ).groupby("mechanism")
    out = pd.DataFrame(
        {
            "networks": g.size(),
            "share": g.size() / max(len(a), 1),
            "frac_forget": g["forgets"].mean(),
            "frac_asymptotic": g["asymptotic"].mean(),
            "median_forget_delay": g["first_delay"].median(),
            "noise_fail": g["noise_fail_frac"].mean(),
            "silence_fail": g["silence_fail_frac"].mean(),
            "fp_stable_per_class": g["fp_stable_per_class"].mean(),
            "frac_phasic": g["frac_phasic"].mean(),
            "frac_persistent": g["frac_persistent"].mean(),
            "frac_saturated": g["frac_saturated"].mean(),
        }
    )
    order = [m for m in MECHANISM_ORDER if m in out.index]
    return out.loc[order + [m for m in out.index if m not in order]]


def claims(rows: pd.DataFrame) -> list[tuple[str, str, bool | None]]:
    """The abstract's four claims checked on the analysed networks: (claim, numbers, holds?);
    None where a needed mechanism has no networks."""
    a = analysed(rows)
    t = per_mechanism(rows)
    n = len(a)
    has = {m: m in t.index for m in ("fixed_point", "slow_manifold")}
    shares = ", ".join(f"{m} {int(t.loc[m, 'networks'])}/{n}" for m in t.index)
    out: list[tuple[str, str, bool | None]] = [
        (
            "slow-manifold is the most common mechanism",
            shares,
            bool(has["slow_manifold"] and t["networks"].idxmax() == "slow_manifold") if n else None,
        )
    ]
    if not (has["fixed_point"] and has["slow_manifold"]):
        why = "needs both fixed-point and slow-manifold networks; found " + (shares or "none")
        return out + [(c, why, None) for c in _PAIRWISE]
    sm, fp = t.loc["slow_manifold"], t.loc["fixed_point"]
    sizes = f" [n = {int(sm.networks)} slow-manifold, {int(fp.networks)} fixed-point"
    sizes += "; too few fixed-point networks to conclude]" if fp.networks < 5 else "]"
    out.append(
        (
            _PAIRWISE[0],
            f"forget: slow-manifold {sm.frac_forget:.2f} (asymptotic {sm.frac_asymptotic:.2f}), "
            f"fixed-point {fp.frac_forget:.2f}" + sizes,
            bool(sm.frac_forget > fp.frac_forget and sm.frac_asymptotic >= 0.5 * sm.frac_forget),
        )
    )
    out.append(
        (
            _PAIRWISE[1],
            f"mean failure rate over σ: slow-manifold {sm.noise_fail:.3f}, "
            f"fixed-point {fp.noise_fail:.3f}" + sizes,
            bool(sm.noise_fail < fp.noise_fail),
        )
    )
    out.append(
        (
            _PAIRWISE[2],
            f"mean stable fixed points per output class: slow-manifold "
            f"{sm.fp_stable_per_class:.2f}, fixed-point {fp.fp_stable_per_class:.2f}" + sizes,
            bool(sm.fp_stable_per_class < fp.fp_stable_per_class),
        )
    )
    return out


_PAIRWISE = (
    "slow-manifold networks forget (mostly asymptotically), fixed-point networks do not",
    "slow-manifold networks fail less under stimulus noise",
    "slow-manifold networks use fewer stable fixed points per output class",
)


def render_mechanisms(results: Path | pd.DataFrame) -> Table:
    """A compact rich table of `per_mechanism` for an analysed results file or frame."""
    rows = pd.read_parquet(results) if isinstance(results, Path) else results
    table = per_mechanism(rows)
    short = {
        "networks": "nets",
        "share": "share",
        "frac_forget": "forget",
        "frac_asymptotic": "asym",
        "median_forget_delay": "d",
        "noise_fail": "noise",
        "fp_stable_per_class": "FP/cls",
        "frac_phasic": "phasic",
    }
    t = Table(title=f"memory mechanisms of {len(analysed(rows))} analysed networks")
    t.add_column("mechanism", no_wrap=True)
    for label in short.values():
        t.add_column(label, justify="right")
    for name, rec in table.iterrows():
        cells = [f"{rec[c]:g}" if c == "networks" else f"{rec[c]:.2f}" for c in short]
        t.add_row(str(name), *cells)
    return t


__all__ = [
    "THRESHOLDS",
    "analysed",
    "claims",
    "overall",
    "per_mechanism",
    "render",
    "render_mechanisms",
    "success_columns",
    "success_table",
]
