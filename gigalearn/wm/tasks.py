"""The task contract (named periods in units of τ → inputs, targets, masks) and three tasks.

Arrays are time-major: inputs `[T, B, n_in]`, targets and masks `[T, B, n_out]`, where the output
columns are the task's readouts side by side (e.g. response then memory). A mask is True where
that readout column is trained and scored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from itertools import product

import numpy as np

from gigalearn.common.errors import ConfigError
from gigalearn.wm.stimuli import GaussianClouds, StimulusSource


@dataclass(frozen=True)
class Period:
    """A named stretch of a trial, `duration` in units of τ."""

    name: str
    duration: float


@dataclass(frozen=True)
class Readout:
    """A named group of output columns trained together (one RLS matrix per readout)."""

    name: str
    dim: int


@dataclass(frozen=True)
class TaskBatch:
    """B trials: inputs `[T,B,n_in]`, targets/masks `[T,B,n_out]`, conditions `[B,...]`, dt."""

    inputs: np.ndarray
    targets: np.ndarray
    masks: np.ndarray
    conditions: np.ndarray
    dt: float


class Task(ABC):
    """A trial-based task on a fixed time grid; subclasses declare periods and readouts."""

    dt: float
    periods: tuple[Period, ...]
    readouts: tuple[Readout, ...]
    n_in: int
    score_readout: str = "response"
    score_period: str = "response"

    @property
    def n_out(self) -> int:
        """Total number of output columns over all readouts."""
        return sum(r.dim for r in self.readouts)

    @property
    def n_steps(self) -> int:
        """Time steps in one trial."""
        return sum(_steps(p.duration, self.dt) for p in self.periods)

    def period_steps(self, name: str) -> slice:
        """Time-step slice of the named period within a trial."""
        start = 0
        for p in self.periods:
            n = _steps(p.duration, self.dt)
            if p.name == name:
                return slice(start, start + n)
            start += n
        raise KeyError(f"no period named {name!r}; periods are {[p.name for p in self.periods]}")

    def readout_cols(self, name: str) -> slice:
        """Output-column slice of the named readout."""
        start = 0
        for r in self.readouts:
            if r.name == name:
                return slice(start, start + r.dim)
            start += r.dim
        raise KeyError(f"no readout named {name!r}")

    def empty(self, conditions: np.ndarray) -> TaskBatch:
        """An all-zero batch for `conditions`, for subclasses to fill in."""
        b, t = len(conditions), self.n_steps
        return TaskBatch(
            inputs=np.zeros((t, b, self.n_in), np.float32),
            targets=np.zeros((t, b, self.n_out), np.float32),
            masks=np.zeros((t, b, self.n_out), bool),
            conditions=np.asarray(conditions),
            dt=self.dt,
        )

    @abstractmethod
    def sample_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw `n` trial conditions (e.g. the two stimulus classes) uniformly."""

    @abstractmethod
    def test_conditions(self) -> np.ndarray:
        """Every distinct trial type once (the test protocol crosses these with seeds)."""

    @abstractmethod
    def batch(self, conditions: np.ndarray, rng: np.random.Generator) -> TaskBatch:
        """Build the trials for `conditions`, drawing stimulus noise from `rng`."""


def _steps(duration: float, dt: float) -> int:
    return round(duration / dt)


@dataclass(frozen=True)
class SequentialSum(Task):
    """The paper's task: two stimuli of class 0/1, then report their sum on one readout.

    A 2-D memory readout is trained toward the mean of the class just shown, in the window after
    each stimulus ("memory" after the first, "gap" after the second), as in the authors' code.
    """

    stimuli: StimulusSource = field(default_factory=GaussianClouds)
    sum_code: tuple[float, float, float] = (1.0, 0.5, 1.5)
    """Response target for sums 0, 1, 2."""
    dt: float = 0.1
    stimulus_tau: float = 10.0
    memory_tau: float = 5.0
    gap_tau: float = 5.0
    response_tau: float = 5.0
    periods: tuple[Period, ...] = field(init=False)
    readouts: tuple[Readout, ...] = (Readout("response", 1), Readout("memory", 2))
    n_in: int = 2

    def __post_init__(self) -> None:
        if len(self.sum_code) != 3:
            raise ConfigError(f"sum_code needs 3 values (for sums 0,1,2), got {self.sum_code}")
        durations = (self.stimulus_tau, self.memory_tau, self.gap_tau, self.response_tau)
        if self.dt <= 0 or min(durations) <= 0:
            raise ConfigError("dt and every period duration must be > 0")
        periods = (
            Period("stimulus1", self.stimulus_tau),
            Period("memory", self.memory_tau),
            Period("stimulus2", self.stimulus_tau),
            Period("gap", self.gap_tau),
            Period("response", self.response_tau),
        )
        object.__setattr__(self, "periods", periods)

    def sample_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n, 2]` pairs of stimulus classes."""
        return rng.integers(0, 2, size=(n, 2))

    def test_conditions(self) -> np.ndarray:
        """The four trial types (0,0), (0,1), (1,0), (1,1)."""
        return np.array(list(product((0, 1), repeat=2)))

    def batch(self, conditions: np.ndarray, rng: np.random.Generator) -> TaskBatch:
        """Fill stimuli, the sum-coded response target and the class-mean memory targets."""
        cond = np.asarray(conditions)
        out = self.empty(cond)
        means = self.stimuli.means()
        resp, mem = self.readout_cols("response"), self.readout_cols("memory")
        for k, (stim, hold) in enumerate((("stimulus1", "memory"), ("stimulus2", "gap"))):
            s, h = self.period_steps(stim), self.period_steps(hold)
            out.inputs[s] = self.stimuli.sample(cond[:, k], s.stop - s.start, rng)
            out.targets[h, :, mem] = means[cond[:, k]][None].astype(np.float32)
            out.masks[h, :, mem] = True
        r = self.period_steps("response")
        out.targets[r, :, resp] = np.asarray(self.sum_code, np.float32)[cond.sum(1)][None, :, None]
        out.masks[r, :, resp] = True
        return out


@dataclass(frozen=True)
class DelayedMatch(Task):
    """Delayed match-to-sample: sample, delay, test stimulus; respond +1 on match, −1 otherwise."""

    stimuli: StimulusSource = field(default_factory=GaussianClouds)
    dt: float = 0.1
    sample_tau: float = 10.0
    delay_tau: float = 10.0
    test_tau: float = 10.0
    response_tau: float = 5.0
    periods: tuple[Period, ...] = field(init=False)
    readouts: tuple[Readout, ...] = (Readout("response", 1),)
    n_in: int = 2

    def __post_init__(self) -> None:
        periods = (
            Period("sample", self.sample_tau),
            Period("delay", self.delay_tau),
            Period("test", self.test_tau),
            Period("response", self.response_tau),
        )
        object.__setattr__(self, "periods", periods)

    def sample_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n, 2]` (sample class, test class) pairs."""
        return rng.integers(0, self.stimuli.n_classes, size=(n, 2))

    def test_conditions(self) -> np.ndarray:
        """Every (sample, test) class pair."""
        return np.array(list(product(range(self.stimuli.n_classes), repeat=2)))

    def batch(self, conditions: np.ndarray, rng: np.random.Generator) -> TaskBatch:
        """Fill sample and test stimuli and the ±1 match target in the response period."""
        cond = np.asarray(conditions)
        out = self.empty(cond)
        for k, name in enumerate(("sample", "test")):
            s = self.period_steps(name)
            out.inputs[s] = self.stimuli.sample(cond[:, k], s.stop - s.start, rng)
        r = self.period_steps("response")
        out.targets[r, :, 0] = np.where(cond[:, 0] == cond[:, 1], 1.0, -1.0)[None]
        out.masks[r, :, 0] = True
        return out


@dataclass(frozen=True)
class FlipFlop(Task):
    """N-bit flip-flop: each input channel gets rare ±1 pulses; its output holds the last sign."""

    n_bits: int = 3
    dt: float = 0.1
    duration_tau: float = 30.0
    pulse_rate: float = 0.1
    """Expected pulses per channel per τ."""
    pulse_tau: float = 0.5
    periods: tuple[Period, ...] = field(init=False)
    readouts: tuple[Readout, ...] = field(init=False)
    n_in: int = field(init=False)
    score_period: str = "run"

    def __post_init__(self) -> None:
        if self.n_bits < 1:
            raise ConfigError(f"n_bits must be >= 1, got {self.n_bits}")
        object.__setattr__(self, "periods", (Period("run", self.duration_tau),))
        object.__setattr__(self, "readouts", (Readout("response", self.n_bits),))
        object.__setattr__(self, "n_in", self.n_bits)

    def sample_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return `[n]` initial bit patterns (as integers) — the outputs start from them."""
        return rng.integers(0, 2**self.n_bits, size=n)

    def test_conditions(self) -> np.ndarray:
        """Every initial bit pattern."""
        return np.arange(2**self.n_bits)

    def batch(self, conditions: np.ndarray, rng: np.random.Generator) -> TaskBatch:
        """Draw pulse trains; the target is the sign of the latest pulse (initial pattern first)."""
        cond = np.asarray(conditions)
        out = self.empty(cond)
        t, b, width = self.n_steps, len(cond), max(1, _steps(self.pulse_tau, self.dt))
        bits = ((cond[:, None] >> np.arange(self.n_bits)) & 1) * 2.0 - 1.0  # [B, n_bits]
        starts = rng.random((t, b, self.n_bits)) < self.pulse_rate * self.dt
        signs = rng.choice((-1.0, 1.0), size=(t, b, self.n_bits))
        state = bits.copy()
        for i in range(t):
            state = np.where(starts[i], signs[i], state)
            out.targets[i] = state
        for i in np.arange(t):
            out.inputs[i : i + width] += np.where(starts[i], signs[i], 0.0)[None]
        out.masks[:] = True
        return out
