"""Sources of 2-D stimulus samples per class: seeded Gaussian clouds, or a PCA latent of digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

import numpy as np

from gigalearn.common.errors import ConfigError


class StimulusSource(Protocol):
    """Draws fresh 2-D samples of a class at every time step; knows each class's mean."""

    n_classes: int
    dim: int

    def sample(self, classes: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n_steps, len(classes), dim]` float32 samples, each row from its class."""
        ...

    def means(self) -> np.ndarray:
        """Return the `[n_classes, dim]` class means (the memory readout's targets)."""
        ...


@dataclass(frozen=True)
class GaussianClouds:
    """One isotropic Gaussian cloud per class; `std` sets how much samples of a class overlap.

    The default centres are ~1.1 apart with std 0.5 (single samples are noisy, as with real digit
    latents) and deliberately not mirror images: the network has no bias and tanh is odd, so
    stimuli u and −u would force mirror-image outputs and no same-sign sum code could be learned.
    """

    centres: tuple[tuple[float, float], ...] = ((1.0, 0.2), (0.2, 1.0))
    std: float = 0.5
    n_classes: int = field(init=False)
    dim: int = 2

    def __post_init__(self) -> None:
        if self.std < 0:
            raise ConfigError(f"stimulus std must be >= 0, got {self.std}")
        if any(len(c) != 2 for c in self.centres):
            raise ConfigError("each stimulus class centre must be a 2-D point")
        object.__setattr__(self, "n_classes", len(self.centres))

    def sample(self, classes: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n_steps, B, 2]` samples drawn afresh each step around each trial's class."""
        mu = self.means()[np.asarray(classes)]  # [B, 2]
        noise = rng.standard_normal((n_steps, len(mu), 2))
        return (mu[None] + self.std * noise).astype(np.float32)

    def means(self) -> np.ndarray:
        """Return the `[n_classes, 2]` cloud centres."""
        return np.asarray(self.centres, dtype=np.float64)


@cache
def _digit_latents(digits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Project sklearn's bundled 8×8 digits of the given classes onto 2 principal components."""
    from sklearn.datasets import load_digits  # imported lazily: sklearn is slow to import
    from sklearn.decomposition import PCA

    data = load_digits()
    keep = np.isin(data.target, digits)
    z = PCA(n_components=2, random_state=0).fit_transform(data.data[keep])
    # unit scale so the memory targets are O(1), and shifted off the origin: PCA centres the data,
    # which makes the two classes near mirror images (see GaussianClouds on why that is fatal)
    z = z / z.std() + 1.0
    labels = np.searchsorted(np.asarray(digits), data.target[keep])
    return z.astype(np.float64), labels


@dataclass(frozen=True)
class DigitsPCA:
    """Real handwritten digits (sklearn's offline copy) as a 2-D PCA latent; samples are images."""

    digits: tuple[int, ...] = (0, 1)
    n_classes: int = field(init=False)
    dim: int = 2

    def __post_init__(self) -> None:
        if len(set(self.digits)) != len(self.digits) or not all(0 <= d <= 9 for d in self.digits):
            raise ConfigError(f"digits must be distinct values in 0..9, got {self.digits}")
        object.__setattr__(self, "n_classes", len(self.digits))

    def sample(self, classes: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n_steps, B, 2]` latents of images drawn (with replacement) from each class."""
        z, labels = _digit_latents(self.digits)
        out = np.empty((n_steps, len(classes), 2), dtype=np.float32)
        for c in np.unique(classes):
            pool = np.flatnonzero(labels == c)
            cols = np.flatnonzero(np.asarray(classes) == c)
            out[:, cols] = z[rng.choice(pool, size=(n_steps, len(cols)))]
        return out

    def means(self) -> np.ndarray:
        """Return the `[n_classes, 2]` mean latent of each digit class."""
        z, labels = _digit_latents(self.digits)
        return np.stack([z[labels == c].mean(0) for c in range(self.n_classes)])
