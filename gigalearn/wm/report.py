"""Summaries of a sweep's results: success fraction per (g, pg, fb), printed as a table."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

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


__all__ = ["THRESHOLDS", "overall", "render", "success_columns", "success_table"]
