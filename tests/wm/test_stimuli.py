import numpy as np
import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.wm.stimuli import DigitsPCA, GaussianClouds


def test_gaussian_samples_are_fresh_per_step_and_centred_on_class_means():
    src = GaussianClouds(std=0.5)
    classes = np.array([0, 1] * 500)
    s = src.sample(classes, 20, np.random.default_rng(0))
    assert s.shape == (20, 1000, 2) and s.dtype == np.float32
    assert not np.allclose(s[0], s[1])  # a new draw every step
    for c in (0, 1):
        np.testing.assert_allclose(s[:, classes == c].mean((0, 1)), src.means()[c], atol=0.02)
        assert (s[:, classes == c] - src.means()[c]).std() == pytest.approx(0.5, rel=0.05)


def test_gaussian_is_reproducible_from_seed():
    src = GaussianClouds()
    a = src.sample(np.array([0, 1]), 5, np.random.default_rng(3))
    b = src.sample(np.array([0, 1]), 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_digits_latent_separates_zero_and_one():
    src = DigitsPCA()
    means = src.means()
    assert means.shape == (2, 2)
    assert np.linalg.norm(means[0] - means[1]) > 1.0  # digits 0 and 1 are far apart in PCA
    s = src.sample(np.array([0] * 300 + [1] * 300), 4, np.random.default_rng(0))
    np.testing.assert_allclose(s[:, :300].mean((0, 1)), means[0], atol=0.15)


def test_bad_stimulus_settings_raise_config_error():
    with pytest.raises(ConfigError):
        GaussianClouds(std=-1)
    with pytest.raises(ConfigError):
        DigitsPCA(digits=(0, 0))
