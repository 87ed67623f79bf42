"""The claims statistics of `wm report` on a hand-built analysed table with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gigalearn.wm import claims, report

SM, FP, LC = "slow_manifold", "fixed_point", "limit_cycle"


def _rows() -> pd.DataFrame:
    """fb = 1: 4 slow-manifold, 4 fixed-point; fb = 10: 3 slow-manifold, 2 limit-cycle; plus 2
    unanalysed rows that must not count."""
    mech = [SM] * 4 + [FP] * 4 + [SM] * 3 + [LC] * 2
    rows = pd.DataFrame(
        {
            "network_id": range(13),
            "fb": [1.0] * 8 + [10.0] * 5,
            "analyzed": True,
            "mechanism": mech,
            "forget_kind": ["asymptotic", "fixed_time", "none", "none"]
            + ["none"] * 4
            + ["asymptotic"] * 5,
            "forget_first_delay": [
                3.0,
                9.0,
                np.nan,
                np.nan,
                *[np.nan] * 4,
                1.0,
                3.0,
                5.0,
                1.0,
                1.0,
            ],
            "noise_fail_frac": [0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.95, 0.96, 0.97, 0.5, 0.5],
            "fp_stable": [2, 2, 3, 3, 4, 5, 5, 6, 2, 2, 2, 0, 0],
            "fp_stable_per_class": [0.5, 0.6, 0.7, 0.8, 1.2, 1.3, 1.4, 1.5, 0.9, 1.0, 1.1, 0, 0],
            "silence_fail_frac": 0.1,
            "frac_phasic": 0.0,
            "frac_persistent": 1.0,
            "frac_saturated": 0.0,
        }
    )
    junk = rows.iloc[:2].assign(analyzed=False, mechanism=None, fb=1.0, network_id=[13, 14])
    return pd.concat([rows, junk], ignore_index=True)


def test_mechanism_counts_pooled_per_run_and_per_fb():
    rows = _rows()
    per_run = {"A": rows.iloc[:8], "B": rows.iloc[4:]}  # overlapping, as pooled folders can be
    ev = claims.evidence(rows, per_run, "pooled")
    assert ev.n == 13
    assert ev.counts.loc["pooled"].to_dict() == {"networks": 13, FP: 4, SM: 7, LC: 2}
    assert ev.counts.loc["A"].to_dict() == {"networks": 8, FP: 4, SM: 4, LC: 0}
    assert ev.counts.loc["B"].to_dict() == {"networks": 9, FP: 4, SM: 3, LC: 2}
    assert ev.by_fb.loc[1.0].to_dict() == {FP: 4, SM: 4, LC: 0}
    assert ev.by_fb.loc[10.0].to_dict() == {FP: 0, SM: 3, LC: 2}
    assert ev.fp_counts.loc[SM].to_dict() == {"0": 0, "2": 5, "3": 2, "4": 0, "5": 0, "6": 0}
    assert ev.fp_counts.loc[FP].to_dict() == {"0": 0, "2": 0, "3": 0, "4": 1, "5": 2, "6": 1}


def test_forgetting_shares_and_fisher_p_match_hand_computed_values():
    ev = claims.evidence(_rows(), label="pooled")
    # only fb = 1 has both mechanisms: fb = 10 is no stratum
    assert [f.sample for f in ev.forgetting] == ["pooled", "fb = 1 only"]
    pooled, fb1 = ev.forgetting
    assert (pooled.sm_n, pooled.sm_forget, pooled.sm_asymptotic) == (7, 5, 4)
    assert (pooled.fp_n, pooled.fp_forget) == (4, 0)
    # [[5, 2], [0, 4]]: hypergeometric P(X=k) ∝ 7, 84, 210, 140, 21 for k = 1..5
    assert pooled.fisher_p == pytest.approx(28 / 462)
    assert (fb1.sm_n, fb1.sm_forget, fb1.sm_asymptotic, fb1.fp_forget) == (4, 2, 1, 0)
    assert fb1.fisher_p == pytest.approx(12 / 28)  # [[2, 2], [0, 4]]: ∝ 6, 16, 6
    sm = ev.sm_forgetting_by_fb
    assert sm.loc[10.0].to_dict() == {
        "networks": 3,
        "forget": 3,
        "asymptotic": 3,
        "median_first_delay": 3.0,
    }


def test_mann_whitney_on_noise_and_fixed_points_is_exact_for_small_samples():
    ev = claims.evidence(_rows(), label="pooled")
    noise, noise1 = ev.noise
    # every slow-manifold value above every fixed-point one: U = n1 n2, p = 2 / C(n1 + n2, n1)
    assert (noise.sm_n, noise.fp_n, noise.u) == (7, 4, 28)
    assert noise.p == pytest.approx(2 / 330) and noise1.p == pytest.approx(2 / 70)
    assert noise.fp_mean == pytest.approx(0.25) and noise1.sm_median == pytest.approx(0.75)
    fpc, fpc1 = ev.fp_per_class
    assert (fpc.u, fpc1.u) == (0, 0)
    assert fpc.p == pytest.approx(2 / 330) and fpc1.p == pytest.approx(2 / 70)
    assert (fpc.sm_mean, fpc.sm_median) == pytest.approx((0.8, 0.8))
    assert (fpc.fp_mean, fpc.fp_median) == pytest.approx((1.35, 1.35))
    assert ev.noise_by_fb.loc[10.0, "all"] == pytest.approx((0.95 + 0.96 + 0.97 + 1.0) / 5)


def test_markdown_shows_verdicts_sizes_and_p_values():
    rows = _rows()
    md = claims.markdown(claims.evidence(rows, label="pooled"), report.claims(rows), 199.5)
    assert "### Claim 1: slow-manifold is the most common mechanism — holds" in md
    assert "fail less under stimulus noise — does not hold" in md
    assert "| pooled | 5 of 7 (0.71) | 4 of 7 (0.57) | 0.80 | 0 of 4 (0.00) | 0.061 |" in md
    assert "some d ≤ 199.5 τ" in md and "fb = 10 only" not in md
    assert "| pooled | 7 | 0.80 (0.80) | 4 | 1.35 (1.35) | 0 | 0.0061 |" in md
    table = claims.mechanism_table(rows, 199.5)
    assert "| slow manifold | 7 | 0.54 |" in table and "forget at some d ≤ 199.5 τ" in table


def test_without_fixed_point_networks_pairwise_claims_are_not_testable():
    rows = _rows()
    rows = rows[rows["mechanism"] != FP]
    ev = claims.evidence(rows)
    assert ev.forgetting == [] and ev.noise == [] and ev.fp_per_class == []
    md = claims.markdown(ev, report.claims(rows))
    assert md.count("— not testable") == 3 and "needs both fixed-point" in md
