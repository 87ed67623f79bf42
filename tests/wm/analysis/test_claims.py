"""The per-mechanism table and the paper's claims, on hand-written analysis rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gigalearn.common.errors import DataError
from gigalearn.wm.report import claims, per_mechanism


def _rows(slow_noise: float = 0.2, fp_noise: float = 0.6) -> pd.DataFrame:
    mech = ["slow_manifold"] * 3 + ["fixed_point"] * 2 + ["limit_cycle"]
    return pd.DataFrame(
        {
            "network_id": range(7),
            "analyzed": [True] * 6 + [False],
            "mechanism": [*mech, np.nan],
            "forget_kind": ["asymptotic", "asymptotic", "fixed_time", "none", "none", "none", None],
            "forget_first_delay": [3.0, 5.0, 9.0, np.nan, np.nan, np.nan, np.nan],
            "noise_fail_frac": [slow_noise] * 3 + [fp_noise] * 2 + [0.5, np.nan],
            "silence_fail_frac": [0.1] * 7,
            "fp_stable_per_class": [0.67, 0.67, 0.33, 2.0, 2.33, 0.0, np.nan],
            "frac_phasic": [0.1] * 7,
            "frac_persistent": [0.9] * 7,
            "frac_saturated": [0.0] * 7,
        }
    )


def test_per_mechanism_counts_only_analysed_rows():
    t = per_mechanism(_rows())
    assert t.index.tolist() == ["fixed_point", "slow_manifold", "limit_cycle"]
    assert t.loc["slow_manifold", "networks"] == 3 and t.loc["slow_manifold", "share"] == 0.5
    assert t.loc["slow_manifold", "frac_forget"] == 1.0
    assert t.loc["slow_manifold", "frac_asymptotic"] == pytest.approx(2 / 3)
    assert t.loc["fixed_point", "frac_forget"] == 0.0


def test_claims_hold_and_fail_on_the_numbers():
    verdicts = [ok for _, _, ok in claims(_rows())]
    assert verdicts == [True, True, True, True]
    verdicts = [ok for _, _, ok in claims(_rows(slow_noise=0.7))]
    assert verdicts == [True, True, False, True]


def test_claims_without_fixed_point_networks_are_not_testable():
    rows = _rows()
    rows = rows[rows["mechanism"] != "fixed_point"]
    out = claims(rows)
    assert out[0][2] is True and [ok for _, _, ok in out[1:]] == [None, None, None]
    assert "limit_cycle" in out[1][1]


def test_unanalysed_results_are_a_clear_error():
    with pytest.raises(DataError, match="wm analyze"):
        per_mechanism(pd.DataFrame({"network_id": [0]}))
