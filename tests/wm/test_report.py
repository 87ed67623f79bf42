import pandas as pd
from rich.console import Console

from gigalearn.wm.report import overall, render, success_columns, success_table, threshold_of


def _rows():
    return pd.DataFrame(
        {
            "g": [1.5, 1.5, 1.5, 0.9],
            "pg": [0.9, 0.9, 0.9, 0.9],
            "fb": [10.0, 10.0, 10.0, 10.0],
            "test_rmse": [0.004, 0.2, 0.08, 1.0],
            "success_0p1": [True, False, True, False],
            "success_0p005": [True, False, False, False],
        }
    )


def test_success_fraction_per_hyperparameters():
    rows = _rows()
    assert success_columns(rows) == ["success_0p005", "success_0p1"]
    assert threshold_of("success_0p005") == "0.005"
    table = success_table(rows).set_index("g")
    assert table.loc[1.5, "networks"] == 3
    assert table.loc[1.5, "success_0p1"] == 2 / 3 and table.loc[1.5, "success_0p005"] == 1 / 3
    assert table.loc[0.9, "median_test_rmse"] == 1.0
    assert overall(rows) == {"success_0p005": 0.25, "success_0p1": 0.5}


def test_rendered_table_shows_thresholds_and_fractions():
    console = Console(width=120, record=True)
    console.print(render(success_table(_rows())))
    text = console.export_text()
    assert "≤0.005" in text and "≤0.1" in text and "0.67" in text
