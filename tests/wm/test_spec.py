from pathlib import Path

import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.wm.spec import expand, load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wm"


def _write(tmp_path, text):
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    return p


BASE = """name: t
grid:
  g: [1.5]
  pg: [0.9]
  fb: [10]
  n: [20]
"""


def test_paper_grid_has_672_networks_with_stable_ids():
    spec = load_spec(EXAMPLES / "paper-grid.yaml")
    jobs = expand(spec)
    assert len(jobs) == 7 * 4 * 6 * 4 == 672
    assert [j.network_id for j in jobs] == list(range(672))
    assert {j.spec.n for j in jobs} == {1000} and spec.force.n_trials == 3500
    assert len({(j.spec.g, j.spec.pg, j.spec.fb, j.spec.seed) for j in jobs}) == 672


def test_small_grid_loads():
    spec = load_spec(EXAMPLES / "paper-grid-small.yaml")
    assert 0 < len(expand(spec)) <= 100


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("pg: [0.9]", "pg: [-0.2]", "grid"),
        ("fb: [10]", "fb: [0]", "grid"),
        ("n: [20]", "n: [0]", "grid"),
        ("g: [1.5]", "g: [1.5]\n  colour: [red]", "grid.colour"),
        ("name: t", "name: t\nforce:\n  n_trials: 0", "force.n_trials"),
    ],
)
def test_bad_spec_errors_name_file_line_and_field(tmp_path, old, new, key):
    path = _write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    msg = str(exc.value)
    assert str(path) in msg and key in msg
    field = new.split(":")[0].strip().split()[-1]
    assert field in msg


def test_invalid_grid_value_message_says_why(tmp_path):
    with pytest.raises(ConfigError, match=r"fb.*\[0\.0\].*must be > 0"):
        load_spec(_write(tmp_path, BASE.replace("fb: [10]", "fb: [0]")))


def test_random_search_needs_count_and_draws_within_ranges(tmp_path):
    with pytest.raises(ConfigError, match="n_random"):
        load_spec(_write(tmp_path, BASE + "search: random\n"))
    text = BASE.replace("g: [1.5]", "g: [0.8, 1.5]") + "search: random\nn_random: 25\n"
    jobs = expand(load_spec(_write(tmp_path, text)))
    assert len(jobs) == 25 and all(0.8 <= j.spec.g <= 1.5 for j in jobs)
    assert len({j.spec.g for j in jobs}) == 25


def test_every_bad_grid_value_is_reported_with_its_line(tmp_path):
    text = BASE.replace("pg: [0.9]", "pg: [-0.4]").replace("fb: [10]", "fb: [0]")
    path = _write(tmp_path, text.replace("n: [20]", "n: [0]"))
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    msg = str(exc.value)
    assert f"{path}:4: grid.pg" in msg and f"{path}:5: grid.fb" in msg
    assert f"{path}:6: grid.n" in msg and "density" in msg
