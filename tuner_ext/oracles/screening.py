"""Model guidance: which of several candidate children looks most promising.

evokt's oracles breed several candidate children per proposal and evaluate
the one a cheap model of the completed trials ranks first. The model is the
density ratio of a Tree-structured Parzen Estimator (Bergstra et al. 2011, as
in Optuna's `TPESampler`): the completed configurations are split into the
best few ("good") and the rest, each hyperparameter gets a density in each
group, and a candidate scores the sum over hyperparameters of
`log l(x) - log g(x)`. It is univariate, as Optuna's default; the evolution
supplies the interactions, since children keep most of their parents'
combinations.

Values are compared in KerasTuner's `value_to_prob` space: ordered
hyperparameters (`Int`, `Float`, ordered `Choice`) by a Gaussian kernel there,
so neighbouring values share evidence; unordered `Choice` and `Boolean` by
counts. An inactive hyperparameter (a layer the network does not have) is an
outcome of its own, with its own share in each group, so a conditional space
is modelled as it is sampled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from keras_tuner.engine.hyperparameters import HyperParameter
from keras_tuner.engine.hyperparameters import HyperParameters

from evokt.oracles import space as space_lib
from evokt.oracles.space import Values

# Completed configurations before the model is trusted (Optuna's TPE also
# starts after 10 trials).
MIN_CONFIGURATIONS = 10
# Weight, in observations, of the uniform prior mixed into every density.
_PRIOR_WEIGHT = 1.0
# The good group: this share of the ranked configurations, at most
# `GOOD_MAX` (a tenth, at most 25: Optuna's TPE default).
GOOD_SHARE = 0.1
GOOD_MAX = 25


def good_count(total: int) -> int:
    """How many of `total` ranked configurations form the good group."""
    return min(math.ceil(GOOD_SHARE * total), GOOD_MAX)


class _Density:
    """One hyperparameter's density in one group of configurations."""

    def __init__(self, hp: HyperParameter, encoded: Sequence[float | None]):
        active = [prob for prob in encoded if prob is not None]
        self.ordered = space_lib.is_ordered(hp)
        self.conditional = bool(hp.conditions)
        self.total = len(encoded)
        self.inactive = self.total - len(active)
        self.points = np.array(active)
        # Optuna's rule for a univariate Parzen estimator on [0, 1].
        self.bandwidth = 0.2 * max(1, len(active)) ** -0.2
        self.categories = len(space_lib.finite_values(hp) or [0])
        self.counts: dict[float, int] = {}
        if not self.ordered:
            for prob in active:
                self.counts[prob] = self.counts.get(prob, 0) + 1

    def sample(self, rng: random.Random) -> float:
        """A draw from this density's active part, in `value_to_prob` space."""
        active = len(self.points)
        if not active or rng.random() < _PRIOR_WEIGHT / (active + _PRIOR_WEIGHT):
            return rng.random()
        prob = float(self.points[rng.randrange(active)])
        if self.ordered:
            prob = space_lib.reflect(prob + rng.gauss(0.0, self.bandwidth))
        return prob

    def log_densities(self, probs: Sequence[float | None]) -> np.ndarray:
        """The log density at each of `probs` (None: inactive)."""
        is_active = np.array([prob is not None for prob in probs])
        values = np.array([0.0 if prob is None else prob for prob in probs])
        active = len(self.points)
        if self.ordered:
            kernels = np.zeros(len(values))
            if active:
                offsets = (values[:, None] - self.points[None, :]) / self.bandwidth
                kernels = np.exp(-0.5 * offsets * offsets).sum(axis=1)
                kernels /= self.bandwidth * math.sqrt(2 * math.pi)
            densities = (kernels + _PRIOR_WEIGHT) / (active + _PRIOR_WEIGHT)
        else:
            counts = np.array([self.counts.get(prob, 0) for prob in probs])
            densities = (counts + _PRIOR_WEIGHT / self.categories) / (active + _PRIOR_WEIGHT)
        if not self.conditional:
            return np.log(densities)
        # The prior splits its weight evenly between active and inactive.
        inactive_share = (self.inactive + 0.5 * _PRIOR_WEIGHT) / (self.total + _PRIOR_WEIGHT)
        return np.where(
            is_active, math.log(1.0 - inactive_share) + np.log(densities), math.log(inactive_share)
        )


def modelled(space: HyperParameters) -> list[HyperParameter]:
    """The hyperparameters the model looks at: those that can vary."""
    return [hp for hp in space.space if space_lib.is_mutable(hp)]


def encode(hps: Sequence[HyperParameter], values: Values) -> tuple[float | None, ...]:
    """A configuration as each hyperparameter's `value_to_prob` (None: inactive)."""
    return tuple(
        hp.value_to_prob(values[hp.name])
        if hp.name in values and space_lib.is_active(hp, values) else None
        for hp in hps
    )


class DensityRatio:
    """TPE's density ratio over ranked configurations.

    Args:
        hps: The modelled hyperparameters (`modelled(space)`).
        ranked: Completed configurations encoded by `encode(hps, ...)`,
            best first (by the oracle's estimate of each one's score).
    """

    def __init__(self, hps: Sequence[HyperParameter], ranked: Sequence[tuple]):
        good = good_count(len(ranked))
        self.hps = list(hps)
        self.good: list[_Density] = []
        self.bad: list[_Density] = []
        for index, hp in enumerate(self.hps):
            column = [row[index] for row in ranked]
            self.good.append(_Density(hp, column[:good]))
            self.bad.append(_Density(hp, column[good:]))

    def scores(self, candidates: Sequence[Values]) -> np.ndarray:
        """`log l(x) - log g(x)` of each candidate: higher is more promising."""
        encoded = [encode(self.hps, values) for values in candidates]
        total = np.zeros(len(candidates))
        for index, (good, bad) in enumerate(zip(self.good, self.bad, strict=True)):
            column = [row[index] for row in encoded]
            total += good.log_densities(column) - bad.log_densities(column)
        return total

    def sample(self, space: HyperParameters, rng: random.Random) -> Values:
        """A configuration drawn from the good group's densities (TPE's proposal).

        The space is walked as a hypermodel builds it, so only active
        hyperparameters are drawn.
        """
        good = {hp.name: density for hp, density in zip(self.hps, self.good, strict=True)}

        def choose(hp: HyperParameter) -> Any:
            if hp.name not in good:
                return space_lib.sample(hp, rng)
            return hp.prob_to_value(good[hp.name].sample(rng))

        return space_lib.build_values(space, choose)

    def best(self, candidates: Sequence[Values]) -> Values:
        """The candidate with the highest score (the first one on a tie)."""
        return candidates[int(np.argmax(self.scores(candidates)))]


class ModelBuilder:
    """Builds the `DensityRatio` of a search's completed configurations.

    It remembers each configuration's encoding by its first trial's id (a
    pure function of the values, which do not change once the trial has
    ended), so a proposal does not encode every completed trial again; the
    memo is dropped when the modelled hyperparameters change. The model
    itself is rebuilt for each proposal from the oracle's state, so a
    resumed search builds the same one.
    """

    def __init__(self):
        self._encodings: dict[str, tuple] = {}
        self._names: tuple[str, ...] = ()

    def build(self, space: HyperParameters, ranked: Sequence[Any]) -> DensityRatio:
        """The model of `ranked` completed trials, best first."""
        hps = modelled(space)
        names = tuple(hp.name for hp in hps)
        if names != self._names:
            self._encodings, self._names = {}, names
        rows = []
        for trial in ranked:
            if trial.trial_id not in self._encodings:
                self._encodings[trial.trial_id] = encode(hps, trial.hyperparameters.values)
            rows.append(self._encodings[trial.trial_id])
        return DensityRatio(hps, rows)
