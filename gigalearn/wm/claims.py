"""The paper's four claims on analysed networks, with sample sizes and tests, as report sections.

Samples: all analysed networks, and (when fb varies) each fb value with both fixed-point and
slow-manifold networks, so the pairwise claims can be read at matched feedback strength. Tests
(`scipy.stats`): Fisher's exact test (two-sided) on the share of networks that forget; a
two-sided Mann–Whitney U test on per-network values (noise failure, stable fixed points).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from gigalearn.wm import pool, report

SM, FP = "slow_manifold", "fixed_point"
VERDICT = {True: "holds", False: "does not hold", None: "not testable"}


@dataclass(frozen=True)
class Forgetting:
    """Claim 2 in one sample: networks that forget at some tested delay, and asymptotically."""

    sample: str
    sm_n: int
    sm_forget: int
    sm_asymptotic: int
    fp_n: int
    fp_forget: int
    fisher_p: float


@dataclass(frozen=True)
class Comparison:
    """A per-network value of slow-manifold vs fixed-point networks in one sample."""

    sample: str
    sm_n: int
    sm_mean: float
    sm_median: float
    fp_n: int
    fp_mean: float
    fp_median: float
    u: float
    p: float


@dataclass(frozen=True)
class Evidence:
    """Everything the claims section reports; the tables count networks or average values."""

    n: int
    counts: pd.DataFrame
    """Claim 1: networks per mechanism (columns), all analysed and per run folder (rows)."""
    by_fb: pd.DataFrame
    """Networks per fb (rows) and mechanism."""
    forgetting: list[Forgetting]
    sm_forgetting_by_fb: pd.DataFrame
    """Slow-manifold networks per fb: count, forget, asymptotic, median first failing delay."""
    noise: list[Comparison]
    noise_by_fb: pd.DataFrame
    """Mean noise failure rate per fb (rows) and mechanism, and over all networks."""
    fp_per_class: list[Comparison]
    fp_counts: pd.DataFrame
    """Networks per mechanism (rows) by their number of stable fixed points (columns)."""


def samples(a: pd.DataFrame, label: str = "all") -> list[tuple[str, pd.DataFrame]]:
    """The analysed rows `a` under `label`, then each fb stratum with both mechanisms to compare."""
    out = [(label, a)]
    if a["fb"].nunique() > 1:
        for fb, s in a.groupby("fb", sort=True):
            if (s["mechanism"] == SM).any() and (s["mechanism"] == FP).any():
                out.append((f"fb = {fb:g} only", s))
    return out


def forgetting(label: str, a: pd.DataFrame) -> Forgetting:
    """Forgetting counts of slow-manifold and fixed-point networks in `a`, with Fisher's p."""
    sm, fp = a[a["mechanism"] == SM], a[a["mechanism"] == FP]
    smf, fpf = int((sm["forget_kind"] != "none").sum()), int((fp["forget_kind"] != "none").sum())
    table = [[smf, len(sm) - smf], [fpf, len(fp) - fpf]]
    p = float(stats.fisher_exact(table).pvalue) if len(sm) and len(fp) else float("nan")
    asym = int((sm["forget_kind"] == "asymptotic").sum())
    return Forgetting(label, len(sm), smf, asym, len(fp), fpf, p)


def compare(label: str, a: pd.DataFrame, column: str) -> Comparison:
    """`column` of slow-manifold vs fixed-point networks in `a`: means, medians, Mann–Whitney U."""
    sm = a.loc[a["mechanism"] == SM, column].dropna().to_numpy(float)
    fp = a.loc[a["mechanism"] == FP, column].dropna().to_numpy(float)
    u, p = float("nan"), float("nan")
    if len(sm) and len(fp):
        r = stats.mannwhitneyu(sm, fp, alternative="two-sided")
        u, p = float(r.statistic), float(r.pvalue)
    return Comparison(label, len(sm), *_mm(sm), len(fp), *_mm(fp), u, p)


def _mm(v: np.ndarray) -> tuple[float, float]:
    return (float(v.mean()), float(np.median(v))) if len(v) else (float("nan"), float("nan"))


def evidence(
    rows: pd.DataFrame, per_run: Mapping[str, pd.DataFrame] | None = None, label: str = "all"
) -> Evidence:
    """The claims' statistics on the analysed rows of `rows` (distinct networks); `per_run`:
    each run folder's own rows, counted separately for claim 1 when several are pooled."""
    a = report.analysed(rows)
    runs = per_run if per_run is not None and len(per_run) > 1 else {}
    parts = {label: a} | {k: report.analysed(v) for k, v in runs.items()}
    seen = set().union(*(set(v["mechanism"]) for v in parts.values()))
    mechs = [m for m in report.MECHANISM_ORDER if m in seen] + sorted(
        seen - set(report.MECHANISM_ORDER)
    )
    counts = pd.DataFrame(
        {k: v["mechanism"].value_counts() for k, v in parts.items()}, index=mechs
    ).T
    counts = counts.fillna(0).astype(int)
    counts.insert(0, "networks", [len(v) for v in parts.values()])
    by_fb = pd.crosstab(a["fb"], a["mechanism"]).reindex(columns=mechs, fill_value=0)
    sm = a[a["mechanism"] == SM]
    g = sm.assign(
        forgets=sm["forget_kind"] != "none", asym=sm["forget_kind"] == "asymptotic"
    ).groupby("fb")
    sm_by_fb = pd.DataFrame(
        {
            "networks": g.size(),
            "forget": g["forgets"].sum(),
            "asymptotic": g["asym"].sum(),
            "median_first_delay": g["forget_first_delay"].median(),
        }
    )
    noise_by_fb = a.pivot_table(index="fb", columns="mechanism", values="noise_fail_frac")
    noise_by_fb = noise_by_fb.reindex(columns=mechs)
    noise_by_fb["all"] = a.groupby("fb")["noise_fail_frac"].mean()
    fp_counts = pd.crosstab(a["mechanism"], a["fp_stable"]).reindex(index=mechs)
    fp_counts.columns = [f"{c:g}" for c in fp_counts.columns]
    pair = (
        samples(a, label) if (a["mechanism"] == SM).any() and (a["mechanism"] == FP).any() else []
    )
    return Evidence(
        n=len(a),
        counts=counts,
        by_fb=by_fb,
        forgetting=[forgetting(k, s) for k, s in pair],
        sm_forgetting_by_fb=sm_by_fb,
        noise=[compare(k, s, "noise_fail_frac") for k, s in pair],
        noise_by_fb=noise_by_fb,
        fp_per_class=[compare(k, s, "fp_stable_per_class") for k, s in pair],
        fp_counts=fp_counts,
    )


# --- Markdown --------------------------------------------------------------------------------


def md_table(df: pd.DataFrame) -> str:
    """A Markdown table of `df` (index dropped; floats with 3 significant digits)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    fmt = [
        " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r)
        for r in df.itertuples(index=False)
    ]
    return "\n".join([head, sep, *(f"| {r} |" for r in fmt)])


def _name(m: str) -> str:
    return m.replace("_", " ")


def _frac(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.2f})" if n else "0 of 0"


def _p(p: float) -> str:
    return "–" if np.isnan(p) else f"{p:.2g}"


def _cmp_table(rows: list[Comparison], digits: int) -> str:
    f = f".{digits}f"
    return md_table(
        pd.DataFrame(
            {
                "sample": [c.sample for c in rows],
                "slow-manifold n": [str(c.sm_n) for c in rows],
                "slow-manifold mean (median)": [
                    f"{c.sm_mean:{f}} ({c.sm_median:{f}})" for c in rows
                ],
                "fixed-point n": [str(c.fp_n) for c in rows],
                "fixed-point mean (median)": [f"{c.fp_mean:{f}} ({c.fp_median:{f}})" for c in rows],
                "Mann–Whitney U": [f"{c.u:g}" for c in rows],
                "p": [_p(c.p) for c in rows],
            }
        )
    )


def _grid(df: pd.DataFrame, first: str, fmt: str = "{:.0f}") -> str:
    """A Markdown table of a numeric frame, its index as the first column."""
    out = df.map(lambda v: "–" if pd.isna(v) else fmt.format(v))
    out.columns = [_name(str(c)) for c in out.columns]
    out.insert(0, first, [f"{v:g}" if isinstance(v, float) else str(v) for v in df.index])
    return md_table(out)


def markdown(
    ev: Evidence, verdicts: list[tuple[str, str, bool | None]], d_max: float | None = None
) -> str:
    """The claims section of report.md: one subsection per claim with its tables and tests."""
    up_to = f" ≤ {d_max:g} τ" if d_max is not None else ""
    heads = [f"### Claim {i + 1}: {c} — {VERDICT[ok]}" for i, (c, _, ok) in enumerate(verdicts)]
    lines = [
        "## The paper's claims",
        "",
        f"{ev.n} distinct analysed networks. Fisher's exact test (two-sided) compares the share "
        "of networks that forget; a two-sided Mann–Whitney U test compares per-network values. "
        "Each fb value with both fixed-point and slow-manifold networks is also compared alone "
        "(matched feedback strength).",
        "",
        heads[0],
        "",
        _grid(ev.counts, "sample"),
        "",
        "Networks per fb and mechanism:",
        "",
        _grid(ev.by_fb, "fb"),
        "",
    ]
    if not ev.forgetting:
        why = verdicts[1][1] if len(verdicts) > 1 else ""
        return "\n".join([*lines, *(f"{h}\n\n{why}\n" for h in heads[1:])])
    lines += [heads[1], "", md_table(_forget_frame(ev.forgetting, up_to)), ""]
    lines += [f"Slow-manifold networks by fb (forget at some extra delay{up_to}):", ""]
    sm = ev.sm_forgetting_by_fb.rename(columns={"median_first_delay": "median first failing d (τ)"})
    lines += [_grid(sm, "fb", "{:g}"), ""]
    lines += [heads[2], "", "Failure rate under stimulus noise, mean over σ levels:", ""]
    lines += [_cmp_table(ev.noise, 3), "", "Mean failure rate per fb and mechanism:", ""]
    lines += [_grid(ev.noise_by_fb, "fb", "{:.2f}"), ""]
    lines += [heads[3], "", "Stable fixed points per output class:", ""]
    lines += [_cmp_table(ev.fp_per_class, 2), ""]
    lines += ["Networks by number of stable fixed points found:", ""]
    lines += [_grid(ev.fp_counts.rename(index=_name), "mechanism"), ""]
    return "\n".join(lines)


def _forget_frame(rows: list[Forgetting], up_to: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample": [f.sample for f in rows],
            f"slow-manifold networks that forget (some d{up_to})": [
                _frac(f.sm_forget, f.sm_n) for f in rows
            ],
            "asymptotically (share of all slow-manifold)": [
                _frac(f.sm_asymptotic, f.sm_n) for f in rows
            ],
            "asymptotic share of those that forget": [
                f"{f.sm_asymptotic / f.sm_forget:.2f}" if f.sm_forget else "–" for f in rows
            ],
            "fixed-point networks that forget": [_frac(f.fp_forget, f.fp_n) for f in rows],
            "Fisher p": [_p(f.fisher_p) for f in rows],
        }
    )


def mechanism_table(rows: pd.DataFrame, d_max: float | None = None) -> str:
    """The per-mechanism robustness table of `report.per_mechanism` as Markdown."""
    t = report.per_mechanism(rows)
    up_to = f" ≤ {d_max:g} τ" if d_max is not None else ""
    cols = {
        "networks": ("networks", "{:.0f}"),
        "share": ("share", "{:.2f}"),
        "frac_forget": (f"forget at some d{up_to}", "{:.2f}"),
        "frac_asymptotic": ("forget asymptotically", "{:.2f}"),
        "median_forget_delay": ("median first failing d (τ)", "{:g}"),
        "noise_fail": ("noise failure (mean over σ)", "{:.3f}"),
        "silence_fail": ("silencing failure", "{:.3f}"),
        "fp_stable_per_class": ("stable FPs per output class", "{:.2f}"),
        "frac_phasic": ("phasic units", "{:.3f}"),
        "frac_persistent": ("persistent units", "{:.2f}"),
        "frac_saturated": ("saturated units", "{:.2f}"),
    }
    out = pd.DataFrame(
        {
            label: [("–" if pd.isna(v) else fmt.format(v)) for v in t[c]]
            for c, (label, fmt) in cols.items()
        }
    )
    out.insert(0, "mechanism", [_name(m) for m in t.index])
    return md_table(out)


def section(pooled: pool.Pooled) -> str:
    """The claims section (Markdown) of the report of one run folder or several pooled."""
    label = "pooled" if len(pooled.run_dirs) > 1 else "all"
    ev = evidence(pooled.rows, pooled.per_run(), label)
    return markdown(ev, report.claims(pooled.rows), pooled.d_max)
